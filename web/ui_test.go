package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/flowbot/flowbot/flow"
	"github.com/flowbot/flowbot/store"
	"github.com/flowbot/flowbot/web"
	"github.com/google/uuid"
)

// Browser tests drive Debian's Chromium headless against the real server
// (a real bbolt file, a real TLS upstream). Without Chromium they skip,
// except under CI=true, where .ci/run has installed it and they must run.
//
// Screenshots go to testdata/screenshots (git-ignored). Run with
// UPDATE_README_SCREENSHOT=1 to refresh testdata/readme-editor.png, the
// picture in the README.

const chromiumPath = "/usr/bin/chromium"

// browser is one headless Chromium with one tab. It records every
// uncaught exception, console.error call and security (CSP) error of the
// pages it shows; the test fails on any.
type browser struct {
	t    *testing.T
	ctx  context.Context
	mu   sync.Mutex
	errs []string
}

func newBrowser(t *testing.T, timeout time.Duration) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s is missing: .ci/run installs it (%v)", chromiumPath, err)
		}
		t.Skipf("browser tests need Chromium at %s (apt-get install chromium): %v", chromiumPath, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 900),
	}
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	b := &browser{t: t}
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithListener(b.listen))
	t.Cleanup(func() { bcancel(); acancel(); cancel() })
	b.ctx = bctx
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(1440, 900)); err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	t.Cleanup(b.checkConsole)
	return b
}

// listen runs in the tab's event loop: it only records.
func (b *browser) listen(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		b.record(fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber+1, msg))
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError {
			return
		}
		var parts []string
		for _, a := range ev.Args {
			if a.Description != "" {
				parts = append(parts, a.Description)
			} else {
				parts = append(parts, string(a.Value))
			}
		}
		b.record("console.error: " + strings.Join(parts, " "))
	case *log.EventEntryAdded:
		// Failed requests (the 409 and 422 the UI handles) are network
		// entries and are expected; a CSP violation is not.
		e := ev.Entry
		if e.Level == log.EntryLevelError && (e.Source == log.EntrySourceSecurity || e.Source == log.EntrySourceViolation ||
			strings.Contains(e.Text, "Content Security Policy")) {
			b.record("browser " + string(e.Source) + " error: " + e.Text)
		}
	}
}

func (b *browser) record(s string) {
	b.mu.Lock()
	b.errs = append(b.errs, s)
	b.mu.Unlock()
}

func (b *browser) consoleErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errs...)
}

func (b *browser) checkConsole() {
	for _, e := range b.consoleErrors() {
		b.t.Errorf("browser console: %s", e)
	}
}

// do runs actions; on failure it saves a screenshot and stops the test.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.failShot()
		b.t.Fatalf("%s: %v (console errors: %q)", what, err, b.consoleErrors())
	}
}

func (b *browser) failShot() {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(b.ctx), 5*time.Second)
	defer cancel()
	if buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
		name := "failed-" + strings.NewReplacer("/", "_", " ", "_").Replace(b.t.Name()) + ".png"
		_ = os.MkdirAll(screenshotDir, 0o755)
		_ = os.WriteFile(filepath.Join(screenshotDir, name), buf, 0o644)
		b.t.Logf("screenshot of the failure: %s", filepath.Join(screenshotDir, name))
	}
}

func (b *browser) navigate(url string) { b.t.Helper(); b.do("open "+url, chromedp.Navigate(url)) }

// click clicks an element. The graph redraws a node when its step
// changes, so a node found just before a redraw can be gone when the click
// lands; then the click finds the element again, at most twice more.
func (b *browser) click(sel string) {
	b.t.Helper()
	for try := 0; ; try++ {
		err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(sel)))
		if err == nil {
			return
		}
		if try < 2 && strings.Contains(err.Error(), "Could not find node") {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		b.failShot()
		b.t.Fatalf("click %s: %v (console errors: %q)", sel, err, b.consoleErrors())
	}
}

// typeText replaces a field's text by typing it, so the page sees input events.
func (b *browser) typeText(sel, text string) {
	b.t.Helper()
	// Cleared by script: chromedp's SetValue with "" sets "undefined".
	b.do("type into "+sel,
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).value = ''`, sel)),
		chromedp.SendKeys(chromedp.CSS(sel), text))
}

func (b *browser) visible(sel string) {
	b.t.Helper()
	b.do("wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
}

// present waits until an element exists. Unlike visible it asks in one
// script, so a graph redraw between the lookup and the check cannot fail it.
func (b *browser) present(sel string) {
	b.t.Helper()
	b.until(sel+" present", fmt.Sprintf(`document.querySelector(%q) !== null`, sel))
}

// centre returns the viewport coordinates of an element's centre.
func (b *browser) centre(sel string) (x, y float64) {
	b.t.Helper()
	r := evalJS[[]float64](b, fmt.Sprintf(`(() => { const r = document.querySelector(%q).getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()`, sel))
	return r[0], r[1]
}

// until waits for a JavaScript condition to become true.
func (b *browser) until(what, js string) {
	b.t.Helper()
	b.do("wait until "+what, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(20*time.Second)))
}

// waitText waits until the element's text contains want.
func (b *browser) waitText(sel, want string) {
	b.t.Helper()
	b.until(fmt.Sprintf("%s shows %q", sel, want),
		fmt.Sprintf(`(document.querySelector(%q)?.textContent || '').includes(%q)`, sel, want))
}

func evalJS[T any](b *browser, js string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		b.failShot()
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	return evalJS[string](b, fmt.Sprintf(`document.querySelector(%q)?.textContent ?? ''`, sel))
}

func (b *browser) value(sel string) string {
	b.t.Helper()
	return evalJS[string](b, fmt.Sprintf(`document.querySelector(%q)?.value ?? ''`, sel))
}

// choose sets a <select> to value and fires its change event, as a
// user's pick does.
func (b *browser) choose(sel, value string) {
	b.t.Helper()
	b.do(fmt.Sprintf("choose %q in %s", value, sel), chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
		`(() => { const s = document.querySelector(%q); s.value = %q; s.dispatchEvent(new Event('change', {bubbles: true})); })()`, sel, value)))
}

// moduleCall imports a UI module (under /ui/) in the open page, runs call
// with it as m, and returns the result as JSON.
func (b *browser) moduleCall(module, call string) string {
	b.t.Helper()
	b.do("import "+module, chromedp.Evaluate[chromedp.Void](`window.__result = undefined; import('/ui/`+module+`').then((m) => { window.__result = JSON.stringify(`+call+`); })`))
	b.until(module+" answered", `typeof window.__result === 'string'`)
	return evalJS[string](b, `window.__result`)
}

const screenshotDir = "testdata/screenshots"

// shot saves a screenshot of the viewport and returns it.
func (b *browser) shot(name string) []byte {
	b.t.Helper()
	buf, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(screenshotDir, name+".png"), buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
	return buf
}

// unlabelled lists the page's visible controls that have no accessible
// name: every control needs a <label>, aria-label or aria-labelledby, and
// every button a text.
const unlabelledJS = `(() => {
  const bad = [];
  for (const el of document.querySelectorAll('input, select, textarea, button')) {
    if (el.type === 'hidden' || !el.getClientRects().length) continue;
    const named = (el.labels && el.labels.length) || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') ||
      (el.tagName === 'BUTTON' && el.textContent.trim());
    if (!named) bad.push(el.outerHTML.slice(0, 120));
  }
  return bad;
})()`

func (b *browser) checkLabels(page string) {
	b.t.Helper()
	if bad := evalJS[[]string](b, unlabelledJS); len(bad) > 0 {
		b.t.Errorf("%s: controls without a label: %q", page, bad)
	}
}

// openEditor serves the UI for e, signs in as the bootstrap admin in a
// new browser (limited to timeout) and opens bot id's editor.
func openEditor(t *testing.T, e *env, id string, timeout time.Duration) *browser {
	t.Helper()
	return openEditorAt(t, uiServer(t, e).URL, id, timeout)
}

// openEditorAt is openEditor on the UI served at base (a test's own
// server in front of the real one).
func openEditorAt(t *testing.T, base, id string, timeout time.Duration) *browser {
	t.Helper()
	b := newBrowser(t, timeout)
	b.navigate(base + "/")
	b.signIn(adminToken)
	b.navigate(base + "/#/bots/" + id)
	b.visible("#canvas")
	return b
}

// waitSaved waits until the editor's draft is saved.
func (b *browser) waitSaved() {
	b.t.Helper()
	b.until("saved", `document.querySelector('#save-state').dataset.state === 'saved'`)
}

// draftStep returns step sid of bot id's saved draft, as the API reads it.
func (e *env) draftStep(id, sid string) *flow.Step {
	e.t.Helper()
	var saved struct {
		Flow flow.Flow `json:"flow"`
	}
	e.do("GET", "/v1/bots/"+id, adminToken, nil).json(e.t, &saved)
	for i := range saved.Flow.Steps {
		if saved.Flow.Steps[i].ID == sid {
			return &saved.Flow.Steps[i]
		}
	}
	e.t.Fatalf("no step %s in the saved flow", sid)
	return nil
}

// signIn signs in with a token, pressing Enter in the field.
func (b *browser) signIn(token string) {
	b.t.Helper()
	b.visible("#signin-token")
	b.do("sign in", chromedp.SendKeys(chromedp.CSS("#signin-token"), token+"\n"))
	b.visible("#signout")
}

// uiServer serves e through a real listener, as the browser needs.
func uiServer(t *testing.T, e *env) *httptest.Server {
	srv := httptest.NewServer(e.srv)
	t.Cleanup(srv.Close)
	return srv
}

// TestUI_BuildTestPublishAndTryOrderBot is the builder's whole path, by
// clicking and typing: sign in, build "ask order → api_call → success /
// failure" on an empty bot, run a test call against a TLS upstream, make a
// variable from the response, publish, and talk to the bot down both
// branches in the preview, then read the execution log.
func TestUI_BuildTestPublishAndTryOrderBot(t *testing.T) {
	e := newEnv(t)
	shop := newShop(t)
	e.trust(shop.srv)
	app := uiServer(t, e)
	b := newBrowser(t, 120*time.Second)

	b.navigate(app.URL + "/")
	b.signIn(adminToken)
	if got := b.text("#role"); got != "admin" {
		t.Fatalf("role shown = %q, want admin", got)
	}
	b.visible(`nav a[data-nav="connections"]`)

	// A new, empty bot.
	b.typeText("#bot-name", "Order status")
	b.click("#create-bot")
	b.visible("#canvas")
	b.waitText("#tabpanel-step", "An empty bot")
	b.checkLabels("empty editor")

	addStep := func(typ, id string) {
		t.Helper()
		b.do("choose step type "+typ, chromedp.SetValue(chromedp.CSS("#add-type"), typ))
		b.click("#add-step")
		want := typ + "_1"
		b.present(fmt.Sprintf(`#canvas .node[data-step=%q]`, want))
		// Rename: the id field takes Enter.
		b.typeText("#f-id", id)
		b.do("confirm id", chromedp.SendKeys(chromedp.CSS("#f-id"), "\n"))
		b.present(fmt.Sprintf(`#canvas .node[data-step=%q]`, id))
		b.waitText("#step-heading", id)
	}
	selectStep := func(id string) {
		t.Helper()
		b.click(fmt.Sprintf(`#canvas .node[data-step=%q] .node-title`, id))
		b.waitText("#step-heading", id)
	}

	addStep("ask", "ask")
	b.typeText("#f-text", "What is your order number?")
	b.typeText("#f-variable", "order_number")

	addStep("api_call", "lookup")
	// While editing, the server's problems show on the node and next to
	// the field their pointer names (/steps/1/url).
	b.typeText("#f-url", "https://{{shop}}.example.com/api/orders/{{order_number}}")
	b.until("the url problem next to the field", `(document.querySelector('#f-url-err')?.textContent || '').includes('variable')`)
	b.present(`#canvas .node.has-error[data-step="lookup"] .badge`)
	if got := evalJS[string](b, `document.querySelector('#f-url').getAttribute('aria-invalid')`); got != "true" {
		t.Errorf("url field aria-invalid = %q", got)
	}
	b.typeText("#f-url", shop.srv.URL+"/api/orders/{{order_number}}")
	b.until("the url problem gone", `document.querySelector('#f-url-err').hidden`)

	addStep("message", "tell")
	b.typeText("#f-text", "Your order is {{order_status}}.")

	selectStep("lookup") // so that the next step lands beside it, not after "tell"
	addStep("transfer", "sorry")
	b.typeText("#f-text", "Sorry, I could not find that order. Let me get a colleague.")
	b.typeText("#f-reason", "order lookup failed")
	b.click("#zoom-fit")

	// Wire it: click a port, then the step it leads to; and drag a port.
	b.click(`#canvas .node[data-step="ask"] .port[data-port="next"] .port-out`)
	b.waitText("#canvas-status", "click the step")
	b.click(`#canvas .node[data-step="lookup"] .node-title`)
	b.present(`#canvas .edge[data-from="ask"][data-port="next"][data-to="lookup"]`)
	b.click(`#canvas .node[data-step="lookup"] .port[data-port="on_success"] .port-out`)
	b.click(`#canvas .node[data-step="tell"] .node-title`)
	fx, fy := b.centre(`#canvas .node[data-step="lookup"] .port[data-port="on_failure"] .port-out`)
	tx, ty := b.centre(`#canvas .node[data-step="sorry"] .node-title`)
	b.do("drag the failure port onto sorry", chromedp.DragAndDropXY(fx, fy, tx, ty))
	b.present(`#canvas .edge[data-from="lookup"][data-port="on_success"][data-to="tell"]`)
	b.present(`#canvas .edge[data-from="lookup"][data-port="on_failure"][data-to="sorry"]`)
	if got := b.text(`#canvas .edge[data-port="on_success"] .edge-label`); got != "success" {
		t.Errorf("success edge label = %q", got)
	}
	if got := b.text(`#canvas .edge[data-port="on_failure"] .edge-label`); got != "failure" {
		t.Errorf("failure edge label = %q", got)
	}
	// The flow starts at the first step added.
	b.present(`#canvas .node.start[data-step="ask"]`)

	// Move a step by dragging it; its position is saved with the draft.
	before := evalJS[string](b, `document.querySelector('#canvas .node[data-step="sorry"]').getAttribute('transform')`)
	sx, sy := b.centre(`#canvas .node[data-step="sorry"] .node-title`)
	b.do("drag the sorry step", chromedp.DragAndDropXY(sx, sy, sx+30, sy+60))
	after := evalJS[string](b, `document.querySelector('#canvas .node[data-step="sorry"]').getAttribute('transform')`)
	if before == after {
		t.Errorf("dragging the step did not move it: %s", after)
	}

	// The api_call panel: a test call with a test value, then a click on a
	// field of the response makes a variable.
	selectStep("lookup")
	// A description for designers, shown when hovering the step.
	b.typeText("#f-description", "Looks the order up in the shop")
	b.until("the node carries the description", `document.querySelector('#canvas .node[data-step="lookup"] > title')?.textContent === 'Looks the order up in the shop'`)
	b.visible("#tv-order_number")
	b.typeText("#tv-order_number", "1001")
	b.click("#run-test")
	b.waitText("#test-branch", "Success branch")
	b.waitText("#test-branch", "HTTP 200")
	b.visible(`button.path[data-path="$.order.status"]`)
	b.click(`button.path[data-path="$.order.status"]`)
	b.visible("#f-variables-0-name")
	if got := b.value("#f-variables-0-name"); got != "order_status" {
		b.typeText("#f-variables-0-name", "order_status") // rename if the suggestion differs
	}
	if got := b.value("#f-variables-0-path"); got != "$.order.status" {
		t.Errorf("variable path = %q", got)
	}
	if got := b.text("#vars-count"); got != "1 of 8" {
		t.Errorf("variables count = %q", got)
	}
	// A header shows its character count against the 256 limit.
	b.click("#add-header")
	b.typeText("#f-headers-0-key", "Accept")
	b.typeText("#f-headers-0-value", "application/json")
	b.waitText("#f-headers-0-count", "16/256")
	b.checkLabels("api_call panel")
	// The whole panel, in a viewport tall enough to show all of it.
	b.do("tall viewport", chromedp.EmulateViewport(1440, 2200))
	b.shot("apicall-panel")
	b.do("normal viewport", chromedp.EmulateViewport(1440, 900))

	// Save: the draft has no problems left.
	b.click("#save")
	b.waitSaved()
	b.until("no problems", `document.querySelector('#problems-btn').dataset.errors === '0'`)
	b.click("#zoom-fit")
	b.do("show the response variables and the test call, hide the toast", chromedp.Evaluate[chromedp.Void](
		`document.querySelector('#vars-h').scrollIntoView({block: 'start'}); document.querySelector('#toast').hidden = true`))
	editor := b.shot("editor")
	if os.Getenv("UPDATE_README_SCREENSHOT") == "1" {
		if err := os.WriteFile("testdata/readme-editor.png", editor, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// What the browser saved is the flow we built, with positions.
	var bot struct {
		Flow struct {
			Start string `json:"start"`
			Steps []struct {
				ID          string `json:"id"`
				Next        string `json:"next"`
				OnSuccess   string `json:"on_success"`
				OnFailure   string `json:"on_failure"`
				Description string `json:"description"`
				Variables   []struct{ Name, Path string }
				Position    *struct{ X, Y float64 }
			} `json:"steps"`
		} `json:"flow"`
		Problems []any `json:"problems"`
	}
	botID := strings.TrimPrefix(evalJS[string](b, `location.hash`), "#/bots/")
	e.do("GET", "/v1/bots/"+botID, adminToken, nil).json(t, &bot)
	if bot.Flow.Start != "ask" || len(bot.Flow.Steps) != 4 || len(bot.Problems) != 0 {
		t.Fatalf("saved flow: %+v", bot)
	}
	for _, s := range bot.Flow.Steps {
		if s.Position == nil {
			t.Errorf("step %s has no position", s.ID)
		}
		switch s.ID {
		case "ask":
			if s.Next != "lookup" {
				t.Errorf("ask.next = %q", s.Next)
			}
		case "lookup":
			if s.OnSuccess != "tell" || s.OnFailure != "sorry" || len(s.Variables) != 1 || s.Variables[0].Name != "order_status" ||
				s.Description != "Looks the order up in the shop" {
				t.Errorf("lookup = %+v", s)
			}
		}
	}

	// Publish, and see the version.
	b.click("#publish")
	b.waitText("#publish-state", "version 1")
	b.click("#tab-flow")
	b.waitText("#versions", "1")

	// Try it: the success branch.
	b.click("#tab-try")
	b.click("#chat-start")
	b.waitText("#chat-log", "What is your order number?")
	b.do("answer 1001", chromedp.SendKeys(chromedp.CSS("#chat-input"), "1001\n"))
	b.waitText("#chat-log", "Your order is shipped.")
	b.checkLabels("preview")
	b.shot("preview")

	// Restart: the failure branch hands over to a human.
	b.click("#chat-start")
	b.until("a fresh conversation", `!document.querySelector('#chat-log').textContent.includes('shipped') && document.querySelector('#chat-log').textContent.includes('What is your order number?')`)
	b.do("answer 4040", chromedp.SendKeys(chromedp.CSS("#chat-input"), "4040\n"))
	b.waitText("#chat-log", "Sorry, I could not find that order.")
	b.until("transferred", `document.querySelector('#chat-status').dataset.status === 'transferred'`)

	// The execution log of that conversation, in the page.
	b.click("#show-log")
	b.visible("#exec-log .log-list")
	log := b.text("#exec-log")
	for _, want := range []string{"lookup", "api_call", "HTTP 404", "failure branch", "sorry", "transfer"} {
		if !strings.Contains(log, want) {
			t.Errorf("execution log lacks %q: %s", want, log)
		}
	}
	b.do("scroll to the log", chromedp.Evaluate[chromedp.Void](`document.querySelector('#exec-log').scrollIntoView()`))
	b.shot("preview-log")
	if n := shop.hits.Load(); n < 3 {
		t.Errorf("the shop saw %d calls; want the test call and two conversations", n)
	}

	// The Conversations tab lists both, newest first; opening one shows
	// its transcript and its execution log.
	b.click("#tab-convs")
	b.until("two conversations listed", `document.querySelectorAll('#conv-list tbody tr').length === 2`)
	if got := b.text("#conv-list tbody tr:first-child"); !strings.Contains(got, "transferred") || !strings.Contains(got, "Preview") {
		t.Errorf("newest conversation row = %q; want the transferred one", got)
	}
	if got := b.text("#conv-list tbody tr:last-child"); !strings.Contains(got, "ended") {
		t.Errorf("older conversation row = %q; want the ended one (the success branch)", got)
	}
	b.checkLabels("conversations")
	// Only the transferred ones, then all again.
	b.choose("#conv-status", "transferred")
	b.until("one transferred conversation", `document.querySelectorAll('#conv-list tbody tr').length === 1 && document.querySelector('#conv-list tbody tr').textContent.includes('transferred')`)
	b.choose("#conv-status", "error")
	b.waitText("#conv-list", "No error conversations.")
	b.choose("#conv-status", "")
	b.until("two conversations again", `document.querySelectorAll('#conv-list tbody tr').length === 2`)
	b.shot("conversations-list")
	// Export downloads them all as JSON lines; the export is audited.
	b.click("#conv-export")
	b.waitText("#toast", "Conversations exported")
	if events, _ := e.auditLog(); findAudit(events, "conversations.exported", botID) == nil ||
		findAudit(events, "conversations.exported", botID).Detail["conversations"] != "2" {
		t.Errorf("no audit event for the export of 2 conversations: %+v", findAudit(events, "conversations.exported", botID))
	}

	// Stats on the canvas: how those two conversations went, step by step.
	b.click("#stats-toggle")
	b.waitText("#stats-note", "Version 1, the 2 most recent conversations")
	b.waitText(`#canvas .node[data-step="lookup"] .stats-text`, "2 runs · 1 failed")
	b.waitText(`#canvas .node[data-step="ask"] .stats-text`, "2 runs")
	if got := evalJS[string](b, `document.querySelector('#canvas .node[data-step="lookup"] .stats title').textContent`); !strings.Contains(got, "http_404: 1") {
		t.Errorf("lookup's stats detail = %q", got)
	}
	if got := evalJS[string](b, `document.querySelector('#canvas .node[data-step="lookup"]').getAttribute('aria-label')`); !strings.Contains(got, "2 runs · 1 failed") {
		t.Errorf("lookup's label for screen readers = %q", got)
	}
	b.shot("stats")
	b.click("#stats-toggle")
	b.until("stats hidden", `!document.querySelector('#canvas .stats') && document.querySelector('#stats-note').hidden`)
	b.click("#conv-list tbody tr:last-child button")
	b.waitText("#conv-detail .conv-transcript", "Your order is shipped.")
	if got := b.text("#conv-detail .log-list"); !strings.Contains(got, "HTTP 200") || !strings.Contains(got, "success branch") {
		t.Errorf("the opened conversation's log = %q", got)
	}
	// The API's answer is folded under the call; opening it shows it.
	b.click("#conv-detail .log-body summary")
	if got := b.text("#conv-detail .log-body pre"); !strings.Contains(got, "\n    \"status\": \"shipped\"") { // indented to be read
		t.Errorf("the logged response body = %q", got)
	}
	b.shot("conversations")
	// An admin erases it (two clicks): it leaves the list.
	b.click("#conv-erase")
	b.waitText("#conv-erase", "Click again")
	b.click("#conv-erase")
	b.waitText("#toast", "erased")
	b.until("one conversation left", `document.querySelectorAll('#conv-list tbody tr').length === 1`)
	if r := e.do("GET", "/v1/bots/"+botID+"/conversations", adminToken, nil); strings.Count(string(r.Body), `"id"`) != 1 {
		t.Errorf("after erasing in the page: %s", r.Body)
	}
	// The server looks at 20,000 conversations of all bots per request, so
	// when the newest all belong to other bots a page comes back empty
	// with a cursor; the tab follows it to the older rows.
	fillConversations(t, e.db, "0190a6b6-0000-7000-8000-0000000000ff", 20001)
	var page struct {
		Items      []any  `json:"items"`
		NextCursor string `json:"next_cursor"`
	}
	e.do("GET", "/v1/bots/"+botID+"/conversations", adminToken, nil).json(t, &page)
	if len(page.Items) != 0 || page.NextCursor == "" {
		t.Fatalf("first page after 20,001 newer conversations of another bot: %d items, cursor %q; the test needs an empty page with a cursor", len(page.Items), page.NextCursor)
	}
	b.do("clear the list", chromedp.Evaluate[chromedp.Void](`document.querySelector('#conv-list').replaceChildren()`))
	b.click("#conv-refresh")
	b.until("the conversation past the other bot's", `document.querySelectorAll('#conv-list tbody tr').length === 1`)
	if got := b.text("#conv-list tbody tr"); !strings.Contains(got, "transferred") {
		t.Errorf("row after following the cursor = %q", got)
	}

	// Someone else saves: the next save gets 409 and offers to reload.
	var cur struct {
		Revision int64     `json:"revision"`
		Flow     flow.Flow `json:"flow"`
	}
	e.do("GET", "/v1/bots/"+botID, adminToken, nil).json(t, &cur)
	cur.Flow.Steps[0].Name = "Changed elsewhere"
	if r := e.do("PUT", "/v1/bots/"+botID+"/flow", adminToken, cur.Flow, "If-Match", fmt.Sprint(cur.Revision)); r.Code != 200 {
		t.Fatalf("concurrent save: %d %s", r.Code, r.Body)
	}
	selectStep("tell")
	b.do("edit tell", chromedp.SendKeys(chromedp.CSS("#f-text"), " Thanks!"))
	b.visible("#conflict")
	b.waitText("#save-state", "someone else saved")
	b.click("#conflict-reload")
	b.waitText("#conflict-reload", "Click again") // it drops the edit: a second click
	b.click("#conflict-reload")
	b.until("reloaded", `!document.querySelector('#conflict') || document.querySelector('#conflict').hidden`)
	b.until("saved state after reload", `document.querySelector('#save-state')?.dataset.state === 'saved'`)
	b.present(`#canvas .node[data-step="tell"]`)
}

// TestUI_AdminPages: connections keep secrets write-only, an API key's
// token is shown once, the audit log lists both, and a designer sees none
// of the admin pages.
func TestUI_AdminPages(t *testing.T) {
	e := newEnv(t)
	app := uiServer(t, e)
	b := newBrowser(t, 60*time.Second)
	const secret = "tok-SECRET-5f2a9c71"

	b.navigate(app.URL + "/")
	b.signIn(adminToken)
	b.click(`nav a[data-nav="connections"]`)
	b.visible("#new-connection")
	b.checkLabels("connections")
	b.typeText("#conn-name", "shop_api")
	b.do("choose bearer", chromedp.SetValue(chromedp.CSS("#conn-type"), "bearer"))
	b.typeText("#conn-domain", "shop.example.com")
	if typ := evalJS[string](b, `document.querySelector('#conn-cred-token').type`); typ != "password" {
		t.Errorf("secret field type = %q, want password", typ)
	}
	b.typeText("#conn-cred-token", secret)
	b.do("create connection", chromedp.SendKeys(chromedp.CSS("#conn-cred-token"), "\n"))
	b.visible(`tr[data-connection="shop_api"]`)
	if got := b.text(`tr[data-connection="shop_api"] .creds-cell`); !strings.Contains(got, "*****") {
		t.Errorf("credentials shown as %q, want *****", got)
	}
	leak := `document.documentElement.outerHTML.includes(%q) || [...document.querySelectorAll('input')].some(i => i.value.includes(%q))`
	if evalJS[bool](b, fmt.Sprintf(leak, secret, secret)) {
		t.Errorf("the secret is still in the page after create")
	}
	b.shot("admin-connections")

	// Rotate: a new secret, still never shown.
	b.click(`button[aria-label^="Rotate credentials of shop_api,"]`)
	b.typeText("#rot-shop_api-token", secret+"-2")
	b.do("save rotation", chromedp.SendKeys(chromedp.CSS("#rot-shop_api-token"), "\n"))
	b.waitText("#toast", "rotated")
	if evalJS[bool](b, fmt.Sprintf(leak, secret, secret)) {
		t.Errorf("the secret is in the page after rotation")
	}

	// An API key sent as a query parameter (?key=…): type api_key with a
	// query name, the key as secret as any other.
	b.typeText("#conn-name", "maps_api")
	b.choose("#conn-type", "api_key_query")
	b.typeText("#conn-domain", "maps.example.com")
	b.typeText("#conn-cred-query", "key")
	b.typeText("#conn-cred-value", secret+"-q")
	b.do("create the query key connection", chromedp.SendKeys(chromedp.CSS("#conn-cred-value"), "\n"))
	b.visible(`tr[data-connection="maps_api"]`)
	if got := b.text(`tr[data-connection="maps_api"] .creds-cell`); !strings.Contains(got, "query: key") || !strings.Contains(got, "value: *****") {
		t.Errorf("query key credentials shown as %q", got)
	}
	if r := e.do("GET", "/v1/connections/maps_api", adminToken, nil); !strings.Contains(string(r.Body), `"type":"api_key"`) || !strings.Contains(string(r.Body), `"query":"key"`) {
		t.Errorf("stored as %s", r.Body)
	}
	b.click(`button[aria-label^="Rotate credentials of maps_api,"]`)
	b.visible("#rot-maps_api-query")
	if evalJS[bool](b, fmt.Sprintf(leak, secret, secret)) {
		t.Errorf("a secret is in the page after creating the query key connection")
	}

	// API keys: the token once.
	b.click(`nav a[data-nav="keys"]`)
	b.visible("#new-key")
	b.checkLabels("api keys")
	b.typeText("#key-name", "ci designer")
	b.do("create key", chromedp.SendKeys(chromedp.CSS("#key-name"), "\n"))
	b.visible("#new-token")
	token := b.text("#new-token")
	if !strings.HasPrefix(token, "fbk_") {
		t.Fatalf("token shown = %q", token)
	}
	b.waitText("#key-list", "ci designer")
	b.shot("admin-keys")
	b.click(`nav a[data-nav="audit"]`)
	b.waitText("#audit-list", "shop_api")
	b.checkLabels("audit")

	// A backup, downloaded from the audit page, is a database file with
	// the connection in it (its secret sealed), and the download is audited.
	next := b.allowDownloads()
	b.click("#download-backup")
	file := next()
	b.waitText("#audit-list", "backup.downloaded")
	b.shot("admin-audit")
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), secret) {
		t.Error("the backup holds the connection's secret in clear")
	}
	restored, err := store.Open(file)
	if err != nil {
		t.Fatalf("the download is not a database: %v", err)
	}
	if _, err := restored.Connection(t.Context(), "shop_api"); err != nil {
		t.Errorf("the backup lacks the connection: %v", err)
	}
	restored.Close()
	b.click(`nav a[data-nav="keys"]`)
	b.waitText("#key-list", "ci designer")
	if evalJS[bool](b, fmt.Sprintf(`document.documentElement.outerHTML.includes(%q)`, token)) {
		t.Errorf("the token is shown again after leaving the page")
	}

	// The designer key: no admin pages.
	b.click("#signout")
	b.signIn(token)
	if got := b.text("#role"); got != "designer" {
		t.Errorf("role = %q", got)
	}
	if n := evalJS[int](b, `document.querySelectorAll('nav a[data-nav="connections"], nav a[data-nav="keys"], nav a[data-nav="audit"]').length`); n != 0 {
		t.Errorf("a designer sees %d admin links", n)
	}
	b.navigate(app.URL + "/#/connections")
	b.waitText("main", "Admins only")
}

// keyRowIPs returns the allowed addresses the API keys page lists for
// the key named name.
func keyRowIPs(b *browser, name string) []string {
	b.t.Helper()
	return evalJS[[]string](b, fmt.Sprintf(`[...document.querySelectorAll('#key-list tbody tr')]
	  .filter((tr) => tr.querySelector('th').textContent === %q)
	  .flatMap((tr) => [...tr.querySelectorAll('.ips-cell code')].map((c) => c.textContent))`, name))
}

// openKeysPage serves the UI, signs in as admin and opens the API keys
// page.
func openKeysPage(t *testing.T) (*env, *browser) {
	t.Helper()
	e := newEnv(t)
	app := uiServer(t, e)
	b := newBrowser(t, 60*time.Second)
	b.navigate(app.URL + "/#/keys")
	b.signIn(adminToken)
	b.visible("#key-ips")
	return e, b
}

// TestUI_APIKeyAllowedIPs: an admin restricts a new key to addresses,
// typed with commas and new lines, and the list shows them in their
// canonical form; a key without shows "any address".
func TestUI_APIKeyAllowedIPs(t *testing.T) {
	e, b := openKeysPage(t)
	b.checkLabels("api keys")
	b.typeText("#key-name", "office ci")
	b.typeText("#key-ips", "203.0.113.7, 198.51.100.0/24\n2001:DB8::/32\n")
	b.click("#create-key")
	b.visible("#new-token")
	b.waitText("#key-list", "office ci")
	want := []string{"203.0.113.7", "198.51.100.0/24", "2001:db8::/32"}
	if got := keyRowIPs(b, "office ci"); !slices.Equal(got, want) {
		t.Fatalf("listed allowed addresses %q, want %q", got, want)
	}
	if got := b.value("#key-ips"); got != "" {
		t.Errorf("the form keeps %q after the key was made", got)
	}
	keys, err := e.db.APIKeys(t.Context())
	if err != nil || len(keys) != 1 || len(keys[0].AllowedIPs) != 3 || keys[0].AllowedIPs[2].String() != "2001:db8::/32" {
		t.Fatalf("stored %+v, %v", keys, err)
	}

	b.typeText("#key-name", "anywhere\n")
	b.waitText("#key-list", "anywhere")
	b.until("the unrestricted key shows any address", `[...document.querySelectorAll('#key-list tbody tr')]
	  .some((tr) => tr.querySelector('th').textContent === 'anywhere' && tr.querySelector('.ips-cell').textContent === 'any address')`)
	b.shot("admin-keys-ips")
}

// TestUI_APIKeyAllowedIPsError: the server's refusal of an entry is shown
// at the field, the typed text stays to be fixed, and no key is made
// until it is.
func TestUI_APIKeyAllowedIPsError(t *testing.T) {
	e, b := openKeysPage(t)
	b.typeText("#key-name", "office ci")
	b.typeText("#key-ips", "203.0.113.7\n10.0.0.1/8")
	b.click("#create-key")
	const slot = `.field[data-pointer="/allowed_ips"] > .field-error`
	b.visible(slot)
	if got := b.text(slot); !strings.Contains(got, "/allowed_ips/1") || !strings.Contains(got, "10.0.0.0/8") {
		t.Errorf("field error %q; want it to point at the second entry and suggest 10.0.0.0/8", got)
	}
	if got := evalJS[string](b, `document.querySelector('#key-ips').getAttribute('aria-invalid') || ''`); got != "true" {
		t.Errorf("aria-invalid = %q", got)
	}
	// Said once: the form's summary does not repeat what the field says.
	if summary := `form:has(#key-ips) .form-error`; !evalJS[bool](b, `document.querySelector('`+summary+`').hidden`) {
		t.Errorf("the form's summary repeats the field's error: %q", b.text(summary))
	}
	if got := b.value("#key-ips"); got != "203.0.113.7\n10.0.0.1/8" {
		t.Errorf("the field holds %q after the refusal", got)
	}
	b.shot("admin-keys-ips-error")
	if keys, err := e.db.APIKeys(t.Context()); err != nil || len(keys) != 0 {
		t.Fatalf("keys after the refusal: %v, %v", keys, err)
	}

	b.typeText("#key-ips", "203.0.113.7\n10.0.0.0/8")
	b.click("#create-key")
	b.visible("#new-token")
	b.until("the field error is gone", fmt.Sprintf(`document.querySelector(%q).hidden`, slot))
	b.waitText("#key-list", "office ci")
	if got := keyRowIPs(b, "office ci"); !slices.Equal(got, []string{"203.0.113.7", "10.0.0.0/8"}) {
		t.Fatalf("listed %q", got)
	}
}

// websiteOf is a website on another origin than flowbot's: it serves the
// page page() returns at "/".
func websiteOf(t *testing.T, page func() string) *httptest.Server {
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page())
	}))
	t.Cleanup(site.Close)
	return site
}

// TestUI_WidgetOnAnotherOrigin: a website on another origin drops in the
// widget with one script tag and a bot id, and the visitor converses. The
// demo page does the same on the server's own origin, under its CSP.
func TestUI_WidgetOnAnotherOrigin(t *testing.T) {
	e := newEnv(t)
	shop := newShop(t)
	e.trust(shop.srv)
	botID := e.publishBot(orderFlow(shop.srv.URL))
	app := uiServer(t, e)
	site := websiteOf(t, func() string {
		return fmt.Sprintf(`<!doctype html><html lang="en"><head><title>Acme shop</title><link rel="icon" href="data:,"></head>
<body><h1>Acme shop</h1><p>Questions about an order? Ask our bot.</p>
<script src="%s/widget.js" data-bot="%s" data-title="Order help"></script></body></html>`, app.URL, botID)
	})
	b := newBrowser(t, 60*time.Second)

	const root = `document.querySelector('.flowbot-widget').shadowRoot`
	converse := func(page string) {
		t.Helper()
		b.until(page+": widget mounted", root+`.querySelector('.launcher') !== null`)
		b.do(page+": open the widget", chromedp.Click(chromedp.JSPath(root+`.querySelector('.launcher')`)))
		b.until(page+": the bot asks", root+`.querySelector('.log').textContent.includes('Your order number?')`)
		b.do(page+": answer", chromedp.SendKeys(chromedp.JSPath(root+`.querySelector('#fb-input')`), "1001\n"))
		b.until(page+": the bot answers", root+`.querySelector('.log').textContent.includes('Order 1001 is shipped')`)
	}

	b.navigate(site.URL + "/")
	converse("other origin")
	b.shot("widget")
	if origin := evalJS[string](b, `location.origin`); origin == app.URL {
		t.Fatalf("the site is on the server's own origin %s", origin)
	}

	b.navigate(app.URL + "/demo?bot=" + botID)
	b.visible("#demo-snippet")
	if got := b.text("#demo-snippet"); !strings.Contains(got, `data-bot="`+botID+`"`) || !strings.Contains(got, app.URL+"/widget.js") {
		t.Errorf("demo snippet = %q", got)
	}
	b.do("clear the widget's session", chromedp.Evaluate[chromedp.Void](`sessionStorage.clear()`))
	converse("demo page")
	b.checkLabels("demo page")
}

// TestUI_WidgetSignedInVisitor: a website that signs its visitors in puts
// a user token on the script tag; the bot greets the verified user, and
// after a change of account the widget starts a new conversation instead
// of resuming the last visitor's, while the same visitor with a fresh
// token resumes their own.
func TestUI_WidgetSignedInVisitor(t *testing.T) {
	e := newEnv(t, func(d *web.Deps, _ *env) { d.UserTokenSecret = []byte(userSecret) })
	botID := e.publishBot(`{"start":"hi","steps":[
 {"id":"hi","type":"message","text":"Hello {{user.name}} ({{user.external_id}}, signed in: {{user.authenticated}})","next":"ask"},
 {"id":"ask","type":"ask","text":"What can I do?","variable":"q","input":"text","next":"bye"},
 {"id":"bye","type":"end","text":"Noted: {{q}}"}]}`)
	app := uiServer(t, e)
	var token atomic.Value
	site := websiteOf(t, func() string {
		return fmt.Sprintf(`<!doctype html><html lang="en"><head><title>Acme account</title><link rel="icon" href="data:,"></head>
<body><h1>Your account</h1><script src="%s/widget.js" data-bot="%s" data-user-token="%s" data-open="true"></script></body></html>`,
			app.URL, botID, token.Load().(string))
	})
	sign := func(id, name string) string {
		return signUser(t, "HS256", userSecret, map[string]any{"external_id": id, "name": name, "exp": time.Now().Add(10 * time.Minute).Unix()})
	}
	b := newBrowser(t, 60*time.Second)
	const log = `document.querySelector('.flowbot-widget').shadowRoot.querySelector('.log').textContent`

	token.Store(sign("cust-42", "Ann"))
	b.navigate(site.URL + "/")
	b.until("Ann is greeted as verified", log+`.includes('Hello Ann (cust-42, signed in: true)')`)
	b.do("Ann answers", chromedp.SendKeys(chromedp.JSPath(`document.querySelector('.flowbot-widget').shadowRoot.querySelector('#fb-input')`), "my parcel\n"))
	b.until("Ann's answer is shown", log+`.includes('Noted: my parcel')`)

	// Another account in the same tab: a new conversation, not Ann's.
	token.Store(sign("cust-7", "Bo"))
	b.navigate(site.URL + "/")
	b.until("Bo is greeted", log+`.includes('Hello Bo (cust-7, signed in: true)')`)
	if got := evalJS[string](b, log); strings.Contains(got, "cust-42") || strings.Contains(got, "parcel") {
		t.Fatalf("Bo sees Ann's conversation: %q", got)
	}
	b.do("Bo answers", chromedp.SendKeys(chromedp.JSPath(`document.querySelector('.flowbot-widget').shadowRoot.querySelector('#fb-input')`), "a refund\n"))
	b.until("Bo's answer is shown", log+`.includes('Noted: a refund')`)

	// Bo again with a fresh token: his own conversation is resumed.
	token.Store(sign("cust-7", "Bo"))
	b.navigate(site.URL + "/")
	b.until("Bo's conversation is resumed", log+`.includes('Noted: a refund')`)

	// Signed out without a reload (the page changes the attribute): the
	// open panel drops Bo's conversation at once, stored token included.
	b.do("sign out in the page", chromedp.Evaluate[chromedp.Void](`document.querySelector('script[data-bot]').setAttribute('data-user-token', '')`))
	b.until("an anonymous conversation replaces Bo's", log+`.includes('signed in: false') && !`+log+`.includes('refund')`)
	if got := evalJS[string](b, `JSON.stringify(sessionStorage)`); strings.Contains(got, "cust-7") || !strings.Contains(got, `\"who\":\"\"`) {
		t.Errorf("session storage after sign-out: %s", got)
	}

	// Signed out on a fresh page: neither conversation is shown.
	token.Store("")
	b.navigate(site.URL + "/")
	b.until("an anonymous visitor is greeted", log+`.includes('signed in: false')`)
	if got := evalJS[string](b, log); strings.Contains(got, "refund") || strings.Contains(got, "cust-7") {
		t.Fatalf("a signed-out visitor sees Bo's conversation: %q", got)
	}
}

// TestUI_WidgetRetriesALostMessage: the connection drops before a
// message reaches the server, or while its answer is on the way (the turn
// done, or still running). The widget sends the message again with the
// same Idempotency-Key, so it shows the answer instead of an error, and
// the server runs each message once.
func TestUI_WidgetRetriesALostMessage(t *testing.T) {
	e := newEnv(t)
	botID := e.publishBot(echoFlow)
	var cut, cutEarly, cutThenOther, fail500 atomic.Bool
	var cutBefore atomic.Int32
	var later atomic.Value // the answer to the slow first request, when it got through
	var keys sync.Map      // text → the Idempotency-Keys it came with
	var tries sync.Map     // text → *atomic.Int32, requests that reached the test server
	// drop closes the connection after sending head, if any: the status
	// line and headers of an answer whose body never comes.
	drop := func(w http.ResponseWriter, head string) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		fmt.Fprint(buf, head)
		buf.Flush()
		conn.Close()
	}
	const cutHead = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\nAccess-Control-Allow-Origin: *\r\n\r\n{"
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/messages") {
			e.srv.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var m struct{ Text string }
		_ = json.Unmarshal(body, &m)
		k, _ := keys.LoadOrStore(m.Text, &sync.Map{})
		k.(*sync.Map).Store(r.Header.Get("Idempotency-Key"), true)
		n, _ := tries.LoadOrStore(m.Text, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		switch {
		case cutBefore.Add(-1) >= 0:
			// The connection drops before the server reads the message
			// (twice: Chromium itself sends a POST again once when a reused
			// connection closes without an answer).
			drop(w, "")
		case cutEarly.CompareAndSwap(true, false):
			// The connection drops at once, and the turn is stored only
			// 1.5 s later, as when a slow API call is still running.
			slow := r.Clone(context.Background())
			drop(w, cutHead)
			time.Sleep(1500 * time.Millisecond)
			slow.Body = io.NopCloser(bytes.NewReader(body))
			rec := httptest.NewRecorder()
			e.srv.ServeHTTP(rec, slow)
			later.Store(fmt.Sprint(rec.Code, " ", rec.Header().Get("Idempotent-Replayed")))
		case fail500.CompareAndSwap(true, false):
			w.Header().Set("Access-Control-Allow-Origin", "*")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(500)
			fmt.Fprint(w, `{"error":{"code":"internal","message":"internal error"}}`)
		case cutThenOther.CompareAndSwap(true, false):
			e.srv.ServeHTTP(httptest.NewRecorder(), r) // the turn runs and is stored
			// Another tab of the same conversation sends a message before
			// the widget's retry.
			other := httptest.NewRequest("POST", r.URL.Path, strings.NewReader(`{"text":"from another tab"}`))
			other.Header.Set("Content-Type", "application/json")
			other.Header.Set("Authorization", r.Header.Get("Authorization"))
			other.Header.Set("Idempotency-Key", "another-tab")
			rec := httptest.NewRecorder()
			if e.srv.ServeHTTP(rec, other); rec.Code != 200 {
				t.Errorf("the other tab's message: %d %s", rec.Code, rec.Body)
			}
			drop(w, "")
		case cut.CompareAndSwap(true, false):
			e.srv.ServeHTTP(httptest.NewRecorder(), r) // the turn runs and is stored
			drop(w, cutHead)                           // the status line and headers arrive, the body does not
		default:
			e.srv.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(app.Close)
	b := newBrowser(t, 60*time.Second)
	const root = widgetRoot
	b.openDemoWidget(app.URL, botID)

	// sendCut sends text with its answer cut the way flag says, and checks
	// that the widget shows the answer, no error, and the message once.
	sendCut := func(cutIt func() bool, text string) {
		t.Helper()
		b.do("send "+text, chromedp.SendKeys(chromedp.JSPath(root+`.querySelector('#fb-input')`), text+"\n"))
		b.until("the answer to "+text, root+`.querySelector('.log').textContent.includes('You said `+text+`')`)
		if !cutIt() {
			t.Fatal("the answer was not cut: the test did not test anything")
		}
		if n := evalJS[int](b, root+`.querySelectorAll('.msg.error').length`); n != 0 {
			t.Fatalf("%d error lines shown: %s", n, evalJS[string](b, root+`.querySelector('.log').textContent`))
		}
		if got := evalJS[int](b, `[...`+root+`.querySelectorAll('.msg.user')].filter((m) => m.lastChild.textContent === '`+text+`').length`); got != 1 {
			t.Fatalf("the message %q is shown %d times; want once", text, got)
		}
	}
	cutOnce := func(flag *atomic.Bool) func() bool {
		flag.Store(true)
		return func() bool { return !flag.Load() }
	}
	sendCut(cutOnce(&cut), "hello")
	b.until("the input is open again", `!`+root+`.querySelector('#fb-input').disabled`)
	b.do("send again", chromedp.SendKeys(chromedp.JSPath(root+`.querySelector('#fb-input')`), "again\n"))
	b.until("the next answer", root+`.querySelector('.log').textContent.includes('You said again')`)

	// The answer is lost while the turn still runs: the retry arrives
	// first and runs the turn; the first request, when it gets through,
	// is answered from it.
	sendCut(cutOnce(&cutEarly), "slow")
	// The message never reached the server: the widget's retry sends it.
	cutBefore.Store(2)
	sendCut(func() bool { return cutBefore.Load() < 0 }, "unheard")
	if n, _ := tries.Load("unheard"); n.(*atomic.Int32).Load() != 3 {
		t.Fatalf("unheard was tried %d times, want 3 (two cut, the widget's retry through)", n.(*atomic.Int32).Load())
	}

	// Each message was sent more than once, always with its own one key,
	// and ran once.
	for i := 0; later.Load() == nil && i < 40; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if got, _ := later.Load().(string); got != "200 true" && got != "409 " {
		t.Errorf("the slow first request got %q; want the replayed answer, or 409 once a later turn ran", got)
	}
	r := e.do("GET", "/v1/conversations/"+evalJS[string](b, `JSON.parse(sessionStorage.getItem('flowbot.widget.`+botID+`')).id`), adminToken, nil)
	var v struct{ Transcript []struct{ From, Text string } }
	r.json(t, &v)
	for _, text := range []string{"hello", "again", "slow", "unheard"} {
		n := 0
		for _, en := range v.Transcript {
			if en.From == "user" && en.Text == text {
				n++
			}
		}
		var ks []string
		if k, ok := keys.Load(text); ok {
			k.(*sync.Map).Range(func(key, _ any) bool { ks = append(ks, key.(string)); return true })
		}
		if n != 1 || len(ks) != 1 || len(ks[0]) != 32 {
			t.Errorf("%q: %d times in the transcript, keys %q; want once, one 32-character key", text, n, ks)
		}
	}

	// The answer is lost and another tab answers meanwhile: the retry gets
	// 409, and the widget draws the conversation as the server has it.
	cutThenOther.Store(true)
	b.do("send crossed", chromedp.SendKeys(chromedp.JSPath(root+`.querySelector('#fb-input')`), "crossed\n"))
	b.until("the other tab's turn, drawn from the transcript", root+`.querySelector('.log').textContent.includes('You said from another tab')`)
	b.until("the input is open again", `!`+root+`.querySelector('#fb-input').disabled`)
	if got := evalJS[string](b, root+`.querySelector('.log').textContent`); !strings.Contains(got, "You said crossed") || strings.Contains(got, "wrong") {
		t.Errorf("log after the crossed answer: %q", got)
	}

	// An error that is not a lost answer is shown, and the user may send
	// again.
	fail500.Store(true)
	b.do("send failing", chromedp.SendKeys(chromedp.JSPath(root+`.querySelector('#fb-input')`), "failing\n"))
	b.until("the error is shown", root+`.querySelectorAll('.msg.error').length === 1`)
	b.until("the input is open again", `!`+root+`.querySelector('#fb-input').disabled`)

	// Start over while a message is being retried: the widget starts a
	// new conversation and works; the old retries stop.
	cutBefore.Store(1000)
	b.do("send lost", chromedp.SendKeys(chromedp.JSPath(root+`.querySelector('#fb-input')`), "lost\n"))
	b.until("retrying", root+`.querySelector('.status').textContent.includes('Waiting for the answer')`)
	b.do("start over", chromedp.Click(chromedp.JSPath(root+`.querySelector('button[aria-label="Start over"]')`)))
	cutBefore.Store(0)
	b.until("a new conversation", `!`+root+`.querySelector('.log').textContent.includes('lost') && `+root+`.querySelector('.log').textContent.includes('Say something')`)
	b.until("the status is clear and the input open", root+`.querySelector('.status').textContent === '' && !`+root+`.querySelector('#fb-input').disabled`)
	b.do("send fresh", chromedp.SendKeys(chromedp.JSPath(root+`.querySelector('#fb-input')`), "fresh\n"))
	b.until("the answer in the new conversation", root+`.querySelector('.log').textContent.includes('You said fresh')`)
	time.Sleep(1500 * time.Millisecond) // a stale retry would land now
	if got := evalJS[string](b, root+`.querySelector('.log').textContent`); strings.Contains(got, "lost") || strings.Contains(got, "wrong") {
		t.Errorf("the old conversation's retry reached the new one: %q", got)
	}
}

// widgetRoot is the JavaScript path to the widget's shadow root.
const widgetRoot = `document.querySelector('.flowbot-widget').shadowRoot`

// openDemoWidget opens the demo page of the app at base for botID, opens
// its widget and waits for the echo bot's first question.
func (b *browser) openDemoWidget(base, botID string) {
	b.t.Helper()
	b.navigate(base + "/demo?bot=" + botID)
	b.until("widget mounted", widgetRoot+`.querySelector('.launcher') !== null`)
	b.do("open the widget", chromedp.Click(chromedp.JSPath(widgetRoot+`.querySelector('.launcher')`)))
	b.until("the bot asks", widgetRoot+`.querySelector('.log').textContent.includes('Say something')`)
}

// TestUI_WidgetRetriesALostStart: the answer to the widget's start is lost
// after the conversation was made. The widget sends the start again with
// the same Idempotency-Key and shows the same conversation, of which
// there is one.
func TestUI_WidgetRetriesALostStart(t *testing.T) {
	e := newEnv(t)
	botID := e.publishBot(echoFlow)
	var cut atomic.Bool
	cut.Store(true)
	var keys sync.Map // the Idempotency-Keys starts came with
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/conversations") {
			e.srv.ServeHTTP(w, r)
			return
		}
		keys.Store(r.Header.Get("Idempotency-Key"), true)
		if !cut.CompareAndSwap(true, false) {
			e.srv.ServeHTTP(w, r)
			return
		}
		e.srv.ServeHTTP(httptest.NewRecorder(), r) // the conversation is made and stored
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		buf.Flush()
		conn.Close() // and its answer never comes
	}))
	t.Cleanup(app.Close)
	b := newBrowser(t, 30*time.Second)
	const root = widgetRoot
	b.openDemoWidget(app.URL, botID)
	if cut.Load() {
		t.Fatal("the start's answer was not cut: the test did not test anything")
	}
	if n := evalJS[int](b, root+`.querySelectorAll('.msg.error').length`); n != 0 {
		t.Fatalf("%d error lines shown", n)
	}
	b.do("send", chromedp.SendKeys(chromedp.JSPath(root+`.querySelector('#fb-input')`), "hello\n"))
	b.until("the answer", root+`.querySelector('.log').textContent.includes('You said hello')`)
	var ks []string
	keys.Range(func(k, _ any) bool { ks = append(ks, k.(string)); return true })
	if len(ks) != 1 || len(ks[0]) != 32 {
		t.Errorf("the starts came with keys %q; want one 32-character key", ks)
	}
	r := e.do("GET", "/v1/bots/"+botID+"/conversations", adminToken, nil)
	if n := strings.Count(string(r.Body), `"turns"`); n != 1 || !strings.Contains(string(r.Body), `"turns":1`) {
		t.Errorf("the bot has %d conversations; want the one, with the message: %s", n, r.Body)
	}
}

// TestUI_AssetsAndHeaders: the builder, its assets, the widget and the
// demo page are served from the binary with a strict CSP and nosniff.
func TestUI_AssetsAndHeaders(t *testing.T) {
	e := newEnv(t)
	get := func(path string, hdr ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		return rec
	}
	for _, c := range []struct{ path, ctype, body string }{
		{"/", "text/html", `<script type="module" src="/ui/app.js">`},
		{"/ui/app.js", "text/javascript", "import"},
		{"/ui/style.css", "text/css", ".node"},
		{"/widget.js", "text/javascript", "document.currentScript"},
		{"/demo", "text/html", "Widget demo"},
	} {
		t.Run("OK"+c.path, func(t *testing.T) {
			rec := get(c.path)
			if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), c.ctype) || !strings.Contains(rec.Body.String(), c.body) {
				t.Fatalf("%d %s %.200s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
			}
			csp := rec.Header().Get("Content-Security-Policy")
			if !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") {
				t.Errorf("CSP = %q", csp)
			}
			if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("no nosniff")
			}
			if etag := rec.Header().Get("ETag"); etag == "" || get(c.path, "If-None-Match", etag).Code != http.StatusNotModified {
				t.Errorf("ETag %q does not revalidate", etag)
			}
		})
	}
	t.Run("ErrNotFound", func(t *testing.T) {
		for _, p := range []string{"/ui/nope.js", "/ui/../ui.go", "/ui/"} {
			if rec := get(p); rec.Code != 404 {
				t.Errorf("%s: %d", p, rec.Code)
			}
		}
	})
	t.Run("OKNoInlineScript", func(t *testing.T) {
		for _, p := range []string{"/", "/demo"} {
			body := get(p).Body.String()
			if strings.Contains(body, "<script>") || strings.Contains(body, " style=") || strings.Contains(body, "onclick") {
				t.Errorf("%s has inline script or style", p)
			}
		}
	})
}

// TestCORS_WidgetRoutesOnly: the three routes a widget calls answer other
// origins (preflight included); no designer or admin route does.
func TestCORS_WidgetRoutesOnly(t *testing.T) {
	e := newEnv(t)
	botID := e.publishBot(`{"start":"hi","steps":[{"id":"hi","type":"ask","text":"Hi?","variable":"x","next":""}]}`)
	send := func(method, path, token, body string, hdr ...string) *httptest.ResponseRecorder {
		var req *http.Request
		if body != "" {
			req = httptest.NewRequest(method, path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
		} else {
			req = httptest.NewRequest(method, path, nil)
		}
		req.Header.Set("Origin", "https://shop.example")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		return rec
	}
	tr := e.start(botID, nil)
	preflight := []string{"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type"}

	t.Run("OKPreflight", func(t *testing.T) {
		for _, p := range []string{"/v1/bots/" + botID + "/conversations", "/v1/conversations/" + tr.ID + "/messages", "/v1/conversations/" + tr.ID} {
			rec := send("OPTIONS", p, "", "", preflight...)
			h := rec.Header()
			if rec.Code != 204 || h.Get("Access-Control-Allow-Origin") != "*" ||
				!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "Idempotency-Key") ||
				!strings.Contains(h.Get("Access-Control-Expose-Headers"), "Idempotent-Replayed") || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") {
				t.Errorf("OPTIONS %s: %d %v", p, rec.Code, h)
			}
		}
	})
	t.Run("OKResponsesAndErrors", func(t *testing.T) {
		for _, rec := range []*httptest.ResponseRecorder{
			send("POST", "/v1/bots/"+botID+"/conversations", "", `{}`),
			send("POST", "/v1/conversations/"+tr.ID+"/messages", tr.Token, `{"text":"yo"}`),
			send("GET", "/v1/conversations/"+tr.ID, tr.Token, ""),
			send("GET", "/v1/conversations/"+tr.ID, "fbc_wrong", ""), // a 401 the widget can read
		} {
			if rec.Header().Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("%d without CORS: %v", rec.Code, rec.Header())
			}
		}
	})
	t.Run("ErrOtherRoutes", func(t *testing.T) {
		for _, c := range []struct{ method, path string }{
			{"OPTIONS", "/v1/bots"}, {"GET", "/v1/bots"}, {"OPTIONS", "/v1/conversations/" + tr.ID + "/log"},
			{"GET", "/v1/conversations/" + tr.ID + "/log"}, {"OPTIONS", "/v1/test-call"},
		} {
			if rec := send(c.method, c.path, adminToken, "", preflight...); rec.Header().Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("%s %s allows other origins", c.method, c.path)
			}
		}
	})
}

// TestUI_BotsImportKeyboardDelete: import an exported bot from a file,
// work its graph with the keyboard (select, move, delete a step; zoom),
// and delete the bot from the list.
func TestUI_BotsImportKeyboardDelete(t *testing.T) {
	e := newEnv(t)
	src, _ := e.createBot(`{"start":"hello","steps":[
 {"id":"hello","type":"message","text":"Hi!","next":"pick"},
 {"id":"pick","type":"options","text":"Pick one","options":[{"id":"a","label":"Apples","next":"bye"},{"id":"b","label":"Pears","next":"bye"}]},
 {"id":"bye","type":"end","text":"Bye"}]}`)
	doc := e.do("GET", "/v1/bots/"+src+"/export", adminToken, nil)
	if doc.Code != 200 {
		t.Fatalf("export: %d %s", doc.Code, doc.Body)
	}
	file := filepath.Join(t.TempDir(), "bot.json")
	if err := os.WriteFile(file, []byte(strings.Replace(string(doc.Body), `"Test bot"`, `"Imported fruit bot"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	app := uiServer(t, e)
	b := newBrowser(t, 60*time.Second)

	b.navigate(app.URL + "/")
	b.checkLabels("sign-in")
	b.shot("signin")
	b.signIn(adminToken)
	b.visible("#import-file")
	b.do("choose the export file", chromedp.SetUploadFiles(chromedp.CSS("#import-file"), []string{file}))
	b.click(`#import-bot button[type="submit"]`)
	b.visible("#canvas")
	b.waitText("#bot-title", "Imported fruit bot")
	// Layout placed the steps that had no position; options draw one
	// labelled edge per option.
	b.present(`#canvas .edge[data-from="pick"][data-port="options.0"][data-to="bye"]`)
	if got := b.text(`#canvas .edge[data-port="options.1"] .edge-label`); got != "Pears" {
		t.Errorf("option edge label = %q", got)
	}

	// Keyboard: focus a step, Enter selects it, arrows move it, Delete removes it.
	b.do("focus pick", chromedp.Focus(chromedp.CSS(`#canvas .node[data-step="pick"]`)))
	b.do("select with Enter", chromedp.KeyEvent("\r"))
	b.waitText("#step-heading", "pick")
	before := evalJS[string](b, `document.querySelector('#canvas .node[data-step="pick"]').getAttribute('transform')`)
	b.do("move with the arrow key", chromedp.Focus(chromedp.CSS(`#canvas .node[data-step="pick"]`)), chromedp.KeyEvent(kb.ArrowDown))
	if after := evalJS[string](b, `document.querySelector('#canvas .node[data-step="pick"]').getAttribute('transform')`); after == before {
		t.Errorf("arrow key did not move the step (%s)", after)
	}
	b.do("delete with the Delete key", chromedp.KeyEvent(kb.Delete))
	b.do("wait for the step to go", chromedp.WaitNotPresent(chromedp.CSS(`#canvas .node[data-step="pick"]`)))
	if n := evalJS[int](b, `document.querySelectorAll('#canvas .edge[data-to="pick"]').length`); n != 0 {
		t.Errorf("%d links still lead to the deleted step", n)
	}
	zoom := evalJS[string](b, `document.querySelector('#canvas').dataset.zoom`)
	b.click("#zoom-in")
	if got := evalJS[string](b, `document.querySelector('#canvas').dataset.zoom`); got == zoom {
		t.Errorf("zoom in left the zoom at %s", got)
	}
	b.waitSaved()

	// Back to the list: delete the imported bot (two clicks).
	b.click("a.back")
	b.waitText("#bot-list", "Imported fruit bot")
	b.checkLabels("bot list")
	del := `tr:has(a[href^="#/bots/"]):not([data-bot="` + src + `"]) button[aria-label^="Delete"]`
	b.click(del)
	b.waitText(del, "Click again")
	b.click(del)
	b.until("the bot is gone", `!document.querySelector('#bot-list').textContent.includes('Imported fruit bot')`)
	var list struct{ Total int }
	e.do("GET", "/v1/bots", adminToken, nil).json(t, &list)
	if list.Total != 1 {
		t.Errorf("%d bots left, want the original only", list.Total)
	}
}

// TestUI_RetryAndOptionsFromEditors: the api_call panel edits retry (only
// for methods that may be retried) and shows the server's problem next to
// the field; an options step switches between a fixed list and options
// built from a variable (options_from), and each is saved as the API takes
// it.
func TestUI_RetryAndOptionsFromEditors(t *testing.T) {
	e := newEnv(t)
	id, _ := e.createBot(`{"start":"lookup","steps":[
 {"id":"lookup","type":"api_call","method":"GET","url":"https://shop.example.com/orders","timeout_ms":4000,"on_success":"pick","on_failure":"bye"},
 {"id":"pick","type":"options","text":"Which order?","options":[{"id":"a","label":"Apples","next":"bye"}]},
 {"id":"bye","type":"end","text":"Bye"}]}`)
	b := openEditor(t, e, id, 90*time.Second)
	step := func(sid string) *flow.Step { return e.draftStep(id, sid) }
	waitSaved := b.waitSaved

	b.click(`#canvas .node[data-step="lookup"] .node-title`)
	b.waitText("#step-heading", "lookup")
	b.typeText("#f-retry-max_attempts", "3")
	b.typeText("#f-retry-backoff_ms", "200")
	b.typeText("#f-retry-attempt_timeout_ms", "4001") // over the step's 4000 ms
	b.until("the attempt timeout problem next to its field",
		`(document.querySelector('#f-retry-attempt_timeout_ms-err')?.textContent || '').includes('attempt_timeout_ms is 4001')`)
	b.typeText("#f-retry-attempt_timeout_ms", "4000")
	b.until("the problem gone", `document.querySelector('#f-retry-attempt_timeout_ms-err').hidden`)
	waitSaved()
	if r := step("lookup").Retry; r == nil || *r != (flow.Retry{MaxAttempts: 3, BackoffMS: 200, AttemptTimeoutMS: 4000}) {
		t.Fatalf("saved retry %+v; want 3 attempts, 200 ms, 4000 ms", r)
	}
	b.checkLabels("retry fields")
	// POST is never retried: the fields go, and so does the saved retry.
	b.choose("#f-method", "POST")
	b.visible("#retry-off")
	waitSaved()
	if r := step("lookup").Retry; r != nil {
		t.Errorf("retry %+v still saved on POST", r)
	}

	b.click(`#canvas .node[data-step="pick"] .node-title`)
	b.waitText("#step-heading", "pick")
	b.choose("#f-options-source", "variable")
	b.visible("#f-options_from-variable")
	b.typeText("#f-options_from-variable", "orders")
	b.typeText("#f-options_from-label_path", "$.name")
	b.typeText("#f-options_from-value_variable", "order")
	b.choose("#f-options_from-next", "bye")
	b.present(`#canvas .edge[data-from="pick"][data-port="options_from"][data-to="bye"]`)
	waitSaved()
	b.checkLabels("options_from fields")
	if s := step("pick"); s.OptionsFrom == nil || *s.OptionsFrom != (flow.OptionsFrom{Variable: "orders", LabelPath: "$.name", ValueVariable: "order", Next: "bye"}) || len(s.Options) != 0 {
		t.Fatalf("saved options_from %+v, options %+v", s.OptionsFrom, s.Options)
	}
	var problems struct{ Problems []flow.Problem }
	e.do("POST", "/v1/bots/"+id+"/validate", adminToken, nil).json(t, &problems)
	for _, p := range problems.Problems {
		// The test flow never sets {{orders}}; the warning saying so is right.
		if strings.Contains(p.Pointer, "/steps/1") && p.Code != "variable_never_set" {
			t.Errorf("problem on the options step: %+v", p)
		}
	}
	// Back to a fixed list: the list set aside returns.
	b.choose("#f-options-source", "list")
	b.visible("#f-options-0-label")
	if got := b.value("#f-options-0-label"); got != "Apples" {
		t.Errorf("first option label %q; want the list set aside (Apples)", got)
	}
	waitSaved()
	if s := step("pick"); s.OptionsFrom != nil || len(s.Options) != 1 {
		t.Errorf("saved options_from %+v, options %+v; want the list back", s.OptionsFrom, s.Options)
	}
}

// fillConversations stores n new conversations of botID straight into the
// store, 32 at a time (as many starts would, without running a flow).
func fillConversations(t *testing.T, db *store.DB, botID string, n int) {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 32 {
				now := time.Now().UTC()
				conv := &flow.Conversation{ID: uuid.NewString(), BotID: botID, Version: 1, TokenHash: []byte(fmt.Sprint("fill-", i)),
					Status: flow.StatusActive, Vars: map[string]string{}, CreatedAt: now, UpdatedAt: now}
				if err := db.SaveTurn(ctx, &flow.TurnRecord{Conversation: conv}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}

// TestUI_RestoreVersion: after a bad publish, a designer restores an
// earlier version to the draft (two clicks) and publishes it again.
func TestUI_RestoreVersion(t *testing.T) {
	e := newEnv(t)
	msg := func(text string) string {
		return `{"start":"hi","steps":[{"id":"hi","type":"message","text":"` + text + `","next":"bye"},{"id":"bye","type":"end","text":"Bye"}]}`
	}
	id, rev := e.createBot(msg("good"))
	publish := func() {
		t.Helper()
		if r := e.do("POST", "/v1/bots/"+id+"/publish", adminToken, nil); r.Code != 201 {
			t.Fatalf("publish: %d %s", r.Code, r.Body)
		}
	}
	publish()
	put := func(text string) {
		t.Helper()
		r := e.do("PUT", "/v1/bots/"+id+"/flow", adminToken, msg(text), "If-Match", fmt.Sprint(rev))
		if r.Code != 200 {
			t.Fatalf("save: %d %s", r.Code, r.Body)
		}
		var v struct{ Revision int64 }
		r.json(t, &v)
		rev = v.Revision
	}
	put("broken")
	publish()
	put("work in progress")

	type botView struct {
		Revision         int64     `json:"revision"`
		PublishedVersion int       `json:"published_version"`
		Flow             flow.Flow `json:"flow"`
	}
	read := func() botView {
		var v botView
		e.do("GET", "/v1/bots/"+id, adminToken, nil).json(t, &v)
		return v
	}

	var slowStats atomic.Bool // stats answers (and lists of errored conversations) take a second
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slowStats.Load() && (strings.HasSuffix(r.URL.Path, "/stats") || r.URL.Query().Get("status") == "error") {
			time.Sleep(time.Second)
		}
		e.srv.ServeHTTP(w, r)
	}))
	t.Cleanup(app.Close)
	b := openEditorAt(t, app.URL, id, 60*time.Second)
	b.click("#tab-flow")
	b.visible(`#versions tr[data-version="1"] button[data-restore]`)
	b.checkLabels("flow tab with versions")
	b.shot("versions")

	// One click only arms the button.
	b.click(`#versions tr[data-version="1"] button[data-restore]`)
	b.waitText(`#versions tr[data-version="1"] button[data-restore]`, "Click again")
	if got := evalJS[string](b, `document.querySelector('#versions tr[data-version="1"] button[data-restore]').getAttribute('aria-label')`); !strings.Contains(got, "click again") {
		t.Errorf("the armed button's accessible name = %q; it should ask to click again", got)
	}
	if got := read(); got.Flow.Steps[0].Text != "work in progress" || got.Revision != rev {
		t.Fatalf("one click changed the draft: revision %d, %q", got.Revision, got.Flow.Steps[0].Text)
	}
	b.click(`#versions tr[data-version="1"] button[data-restore]`)
	b.waitText("#toast", "Version 1 is the draft now")
	b.waitSaved()
	got := read()
	if got.Flow.Steps[0].Text != "good" || got.Revision != rev+1 || got.PublishedVersion != 2 {
		t.Fatalf("after restoring: revision %d (want %d), published %d, %q", got.Revision, rev+1, got.PublishedVersion, got.Flow.Steps[0].Text)
	}
	b.present(`#canvas .node[data-step="hi"]`)

	// Publishing makes it live as version 3.
	b.click("#publish")
	b.waitText("#publish-state", "version 3")
	c := e.start(id, nil)
	if c.text() != "good | Bye" {
		t.Fatalf("a new conversation after the restore says %q", c.text())
	}

	// Someone else saves meanwhile: restoring version 2 meets a conflict;
	// the canvas keeps the flow it had, and nothing is saved over theirs.
	rev = read().Revision
	put("theirs")
	b.click(`#versions tr[data-version="2"] button[data-restore]`)
	b.click(`#versions tr[data-version="2"] button[data-restore]`)
	b.visible("#conflict")
	b.waitText("#save-state", "someone else saved")
	if got := b.text(`#canvas .node[data-step="hi"] .node-text`); !strings.Contains(got, "good") {
		t.Errorf("the canvas after a refused restore shows %q; want the flow it had", got)
	}
	if got := read(); got.Flow.Steps[0].Text != "theirs" {
		t.Errorf("the refused restore saved %q over theirs", got.Flow.Steps[0].Text)
	}

	// Stats switched off before their answer arrives: nothing is drawn.
	slowStats.Store(true)
	b.click("#stats-toggle")
	b.click("#stats-toggle")
	time.Sleep(1500 * time.Millisecond)
	if n := evalJS[int](b, `document.querySelectorAll('#canvas .stats').length`); n != 0 || !evalJS[bool](b, `document.querySelector('#stats-note').hidden`) ||
		evalJS[string](b, `document.querySelector('#stats-toggle').getAttribute('aria-pressed')`) != "false" {
		t.Errorf("stats drawn after being switched off: %d nodes, note hidden %v", n, evalJS[bool](b, `document.querySelector('#stats-note').hidden`))
	}

	// The conversation list: "Error" chosen, then "All" before the first
	// answer arrives; the late answer does not replace the list.
	b.click("#tab-convs")
	b.until("the conversation listed", `document.querySelectorAll('#conv-list tbody tr').length === 1`)
	b.choose("#conv-status", "error")
	b.choose("#conv-status", "")
	time.Sleep(1500 * time.Millisecond)
	if got := b.text("#conv-list"); strings.Contains(got, "No error conversations") || evalJS[int](b, `document.querySelectorAll('#conv-list tbody tr').length`) != 1 {
		t.Errorf("the list after a late answer for another status: %q", got)
	}
}

// TestUI_TypedBodyValueNamesItsVariable: the api_call panel asks for a
// test value of qty, not of "qty:number", when a JSON body sends
// "{{qty:number}}"; the same goes for spaces around the type.
func TestUI_TypedBodyValueNamesItsVariable(t *testing.T) {
	e := newEnv(t)
	app := uiServer(t, e)
	b := newBrowser(t, 30*time.Second)
	b.navigate(app.URL + "/")
	got := b.moduleCall("steps.js", `m.templateVars('{"qty": "{{qty:number}}", "g": "{{ gift : boolean }}", "n": "{{note}}", "u": "{{user.name}}"}', 'https://x.example/{{id}}')`)
	if got != `["qty","gift","note","id"]` {
		t.Fatalf("test values asked for %s", got)
	}
}

// TestUI_LogBodyIndentKeepsNumbers: the execution log indents a JSON
// body without parsing its values: a big integer, 1.0, empty containers,
// repeated keys and punctuation inside strings stay as the API sent them.
func TestUI_LogBodyIndentKeepsNumbers(t *testing.T) {
	e := newEnv(t)
	app := uiServer(t, e)
	b := newBrowser(t, 30*time.Second)
	b.navigate(app.URL + "/")
	var got string
	if err := json.Unmarshal([]byte(b.moduleCall("preview.js", `m.indentJSON('{"id": 12345678901234567890,"a":1.0, "e":[],"o":{ },"k":1,"k":2,"s":"x,{:\\"y\\\\"}')`)), &got); err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"id\": 12345678901234567890,\n  \"a\": 1.0,\n  \"e\": [],\n  \"o\": {},\n  \"k\": 1,\n  \"k\": 2,\n  \"s\": \"x,{:\\\"y\\\\\"\n}"
	if got != want {
		t.Fatalf("indented:\n%s\nwant:\n%s", got, want)
	}
}
