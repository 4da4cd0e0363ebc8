package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/flowbot/flowbot/flow"
)

// orderFlowJSON is an order lookup with both kinds of fork: an api_call's
// success and failure, and a branch's condition and else.
const orderFlowJSON = `{"start":"ask","steps":[
 {"id":"ask","type":"ask","text":"Your order number?","variable":"order","next":"lookup"},
 {"id":"lookup","type":"api_call","method":"GET","url":"https://shop.example.com/orders","on_success":"check","on_failure":"sorry"},
 {"id":"check","type":"branch","conditions":[{"variable":"order","op":"equals","value":"1","next":"tell"}],"else":"sorry"},
 {"id":"tell","type":"message","text":"Shipped.","next":"bye"},
 {"id":"sorry","type":"transfer","text":"Let me get a colleague."},
 {"id":"bye","type":"end","text":"Bye"}]}`

// draftFlow returns bot id's saved draft, as the API reads it.
func (e *env) draftFlow(id string) flow.Flow {
	e.t.Helper()
	var saved struct {
		Flow flow.Flow `json:"flow"`
	}
	e.do("GET", "/v1/bots/"+id, adminToken, nil).json(e.t, &saved)
	return saved.Flow
}

func hasStep(f flow.Flow, id string) bool {
	for _, s := range f.Steps {
		if s.ID == id {
			return true
		}
	}
	return false
}

// TestUI_DeleteFocusedStepAndUndo: Delete acts on the step with the focus
// ring, not on the one selected earlier, and a deleted step comes back
// with its links by the toast's Undo or by Ctrl+Z on the canvas; so does
// one deleted with the panel's button.
func TestUI_DeleteFocusedStepAndUndo(t *testing.T) {
	e := newEnv(t)
	id, _ := e.createBot(orderFlowJSON)
	b := openEditor(t, e, id, 60*time.Second)
	node := func(sid string) string { return `#canvas .node[data-step="` + sid + `"]` }
	gone := func(sid string) {
		t.Helper()
		b.until(sid+" gone", `document.querySelector('`+node(sid)+`') === null`)
	}

	// Select lookup, then Tab on to check: Delete removes check.
	b.selectStep("lookup")
	b.do("focus check", chromedp.Focus(chromedp.CSS(node("check"))))
	b.do("press Delete", chromedp.KeyEvent(kb.Delete))
	gone("check")
	b.present(node("lookup") + ".selected")
	b.waitText("#toast", "Step check deleted.")
	b.waitSaved()
	if f := e.draftFlow(id); hasStep(f, "check") || !hasStep(f, "lookup") {
		t.Fatalf("saved steps after Delete on check: %+v", f.Steps)
	}
	if got := e.draftStep(id, "lookup").OnSuccess; got != "" {
		t.Fatalf("lookup.on_success = %q after check was deleted; want it to end there", got)
	}
	b.shot("delete-undo-toast")

	// Undo in the toast: check is back, and lookup leads to it again.
	b.click("#toast-action")
	b.present(node("check"))
	b.present(`#canvas .edge[data-from="lookup"][data-port="on_success"][data-to="check"]`)
	b.waitSaved()
	if got := e.draftStep(id, "lookup").OnSuccess; got != "check" {
		t.Errorf("lookup.on_success = %q after Undo; want check", got)
	}
	if c := e.draftStep(id, "check"); len(c.Conditions) != 1 || c.Conditions[0].Next != "tell" || c.Else != "sorry" || c.Position == nil {
		t.Errorf("check after Undo: %+v", c)
	}
	if got := evalJS[string](b, `document.activeElement?.dataset?.step || ''`); got != "check" {
		t.Errorf("focus after Undo on %q; want the step brought back", got)
	}

	// Backspace deletes too; Ctrl+Z on the canvas brings it back.
	b.do("focus tell", chromedp.Focus(chromedp.CSS(node("tell"))))
	b.do("press Backspace", chromedp.KeyEvent(kb.Backspace))
	gone("tell")
	b.do("press Ctrl+Z", chromedp.KeyEvent("z", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	b.present(node("tell"))
	b.waitSaved()
	if c := e.draftStep(id, "check"); c.Conditions[0].Next != "tell" {
		t.Errorf("check's condition leads to %q after Ctrl+Z; want tell", c.Conditions[0].Next)
	}

	// The panel's button deletes the selected step, with the same Undo.
	b.selectStep("ask")
	b.click("#delete-step")
	gone("ask")
	b.click("#toast-action")
	b.present(node("ask") + ".start")
	b.waitSaved()
	if f := e.draftFlow(id); f.Start != "ask" || len(f.Steps) != 6 {
		t.Errorf("after undoing the start step's deletion: start %q, %d steps", f.Start, len(f.Steps))
	}
	b.checkLabels("editor after undo")
}

// TestUI_UndoDeleteAfterRowRemoved: Undo gives a deleted step's link back
// to the condition that had it, even when a condition above it was
// removed in between (its index changed), and not to the one now at its
// old index.
func TestUI_UndoDeleteAfterRowRemoved(t *testing.T) {
	e := newEnv(t)
	id, _ := e.createBot(`{"start":"ask","steps":[
 {"id":"ask","type":"ask","text":"Order?","variable":"order","next":"check"},
 {"id":"check","type":"branch","conditions":[
  {"variable":"order","op":"equals","value":"1","next":"bye"},
  {"variable":"order","op":"equals","value":"2","next":"tell"},
  {"variable":"order","op":"equals","value":"3","next":""}],"else":"bye"},
 {"id":"tell","type":"message","text":"Shipped.","next":"bye"},
 {"id":"bye","type":"end","text":"Bye"}]}`)
	b := openEditor(t, e, id, 60*time.Second)
	node := func(sid string) string { return `#canvas .node[data-step="` + sid + `"]` }

	b.selectStep("tell")
	b.click("#delete-step")
	b.until("tell gone", `document.querySelector('`+node("tell")+`') === null`)
	b.selectStep("check")
	b.click("#remove-condition-0")
	b.waitSaved()
	if c := e.draftStep(id, "check"); len(c.Conditions) != 2 || c.Conditions[0].Value != "2" || c.Conditions[0].Next != "" {
		t.Fatalf("check before Undo: %+v", c.Conditions)
	}
	b.do("focus check", chromedp.Focus(chromedp.CSS(node("check"))))
	b.do("press Ctrl+Z", chromedp.KeyEvent("z", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	b.present(node("tell"))
	b.waitSaved()
	c := e.draftStep(id, "check")
	if len(c.Conditions) != 2 || c.Conditions[0].Next != "tell" || c.Conditions[1].Next != "" {
		t.Errorf("check after Undo: %+v; want the condition on 2 to lead to tell again, the one on 3 to nothing", c.Conditions)
	}
}

// selectStep clicks step id on the canvas and waits for its panel.
func (b *browser) selectStep(id string) {
	b.t.Helper()
	b.click(`#canvas .node[data-step="` + id + `"] .node-title`)
	b.waitText("#step-heading", id)
}

// allowDownloads saves the tab's downloads in a temporary folder and
// returns a function that waits for the next one and returns its path.
func (b *browser) allowDownloads() func() string {
	b.t.Helper()
	dl := b.t.TempDir()
	done := make(chan string, 4)
	chromedp.ListenBrowser(b.ctx, func(ev any) {
		if p, ok := ev.(*cdpbrowser.EventDownloadProgress); ok && p.State == cdpbrowser.DownloadProgressStateCompleted {
			done <- p.GUID
		}
	})
	events := true
	if _, err := chromedp.CallBrowser(b.ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dl, EventsEnabled: &events}); err != nil {
		b.t.Fatalf("allow downloads: %v", err)
	}
	return func() string {
		b.t.Helper()
		select {
		case guid := <-done:
			return filepath.Join(dl, guid)
		case <-time.After(20 * time.Second):
			b.t.Fatal("no download")
			return ""
		}
	}
}

// TestUI_ConflictKeepsTheDesignersWork: when someone else saved, the
// conflict banner leaves the focus in the field being typed in (a space
// typed next does not press Reload), Reload asks for a second click, and
// leaving the editor stops to offer the changes as a download first.
func TestUI_ConflictKeepsTheDesignersWork(t *testing.T) {
	e := newEnv(t)
	id, rev := e.createBot(orderFlowJSON)
	b := openEditor(t, e, id, 60*time.Second)
	next := b.allowDownloads()
	b.selectStep("tell")

	// Another tab saves first.
	theirs := e.draftFlow(id)
	theirs.Steps[0].Text = "Theirs"
	if r := e.do("PUT", "/v1/bots/"+id+"/flow", adminToken, theirs, "If-Match", fmt.Sprint(rev)); r.Code != 200 {
		t.Fatalf("the other tab's save: %d %s", r.Code, r.Body)
	}
	b.do("type into the text", chromedp.Focus(chromedp.CSS("#f-text")), chromedp.KeyEvent(" Thanks"))
	b.visible("#conflict")
	b.waitText("#save-state", "someone else saved")
	if got := evalJS[string](b, `document.activeElement.id`); got != "f-text" {
		t.Fatalf("the conflict moved the focus to %q; it should stay in the field being typed in", got)
	}
	b.do("type on", chromedp.KeyEvent(" again"))
	if got := b.value("#f-text"); got != "Shipped. Thanks again" {
		t.Fatalf("the text after typing on = %q", got)
	}
	b.shot("conflict-typing")

	// Reload drops the edit: one click only arms it.
	b.click("#conflict-reload")
	b.waitText("#conflict-reload", "Click again")
	if got := b.value("#f-text"); got != "Shipped. Thanks again" {
		t.Fatalf("one click on Reload dropped the edit: text %q", got)
	}

	// Leaving asks first, and offers the changes as a file.
	b.click("a.back")
	b.visible("#leave-box")
	if got := evalJS[string](b, `location.hash`); got != "#/bots/"+id {
		t.Errorf("address while asking = %q; want the editor's", got)
	}
	if got := evalJS[string](b, `document.activeElement.id`); got != "leave-box" {
		t.Errorf("focus while asking on %q; want the question", got)
	}
	b.checkLabels("leave question")
	b.shot("conflict-leave")
	// Stay: the conflict banner again, then the same question on leaving.
	b.click("#leave-stay")
	b.visible("#conflict")
	b.click("a.back")
	b.visible("#leave-box")
	b.click("#leave-download")
	raw, err := os.ReadFile(next())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Flow flow.Flow `json:"flow"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil || len(doc.Flow.Steps) != 6 || doc.Flow.Steps[3].Text != "Shipped. Thanks again" {
		t.Fatalf("downloaded %s (%v); want the flow with the edit", raw, err)
	}
	if r := e.do("POST", "/v1/bots/import", adminToken, string(raw)); r.Code != 201 {
		t.Errorf("the download does not import: %d %s", r.Code, r.Body)
	}
	b.click("#leave-anyway")
	b.visible("#bot-list")
	if f := e.draftFlow(id); f.Steps[0].Text != "Theirs" || f.Steps[3].Text != "Shipped." {
		t.Errorf("their draft changed: %q, %q", f.Steps[0].Text, f.Steps[3].Text)
	}
}

// TestUI_SignOutSavesThePendingEdit: signing out right after typing, before
// the autosave, saves the edit first; no false "key stopped working"
// follows, and the page no longer asks before it is closed.
func TestUI_SignOutSavesThePendingEdit(t *testing.T) {
	e := newEnv(t)
	id, _ := e.createBot(orderFlowJSON)
	b := openEditor(t, e, id, 60*time.Second)
	b.selectStep("tell")
	b.do("type into the text", chromedp.Focus(chromedp.CSS("#f-text")), chromedp.KeyEvent("!"))
	b.click("#signout")
	b.visible("#signin-token")
	if got := e.draftStep(id, "tell").Text; got != "Shipped.!" {
		t.Errorf("saved text after signing out = %q; want the last edit", got)
	}
	time.Sleep(1500 * time.Millisecond) // past the autosave's delay
	if evalJS[bool](b, `!document.querySelector('#signin .form-error').hidden`) {
		t.Errorf("the sign-in page says %q", b.text("#signin .form-error"))
	}
	if got := b.text("#toast"); !evalJS[bool](b, `document.querySelector('#toast').hidden`) && got != "" {
		t.Errorf("toast after signing out: %q", got)
	}
	if evalJS[bool](b, `(() => { const ev = new Event('beforeunload', {cancelable: true}); window.dispatchEvent(ev); return ev.defaultPrevented; })()`) {
		t.Errorf("the editor's leave-page warning is still registered after signing out")
	}
}

// everyStepInView is true when every node lies inside the canvas.
const everyStepInView = `(() => {
  const c = document.querySelector('#canvas').getBoundingClientRect();
  return [...document.querySelectorAll('#canvas .node .node-body')].every((n) => {
    const r = n.getBoundingClientRect();
    return r.left >= c.left && r.right <= c.right && r.top >= c.top && r.bottom <= c.bottom;
  });
})()`

// TestUI_NarrowEditor: at 800 px the canvas sits over the panel. The
// canvas is fitted again when the window narrows, and the panel shows the
// whole api_call form in the page, not in a small box of its own.
func TestUI_NarrowEditor(t *testing.T) {
	e := newEnv(t)
	id, _ := e.createBot(orderFlowJSON)
	b := openEditor(t, e, id, 60*time.Second)
	b.until("every step in view at 1440 px", everyStepInView)
	b.do("narrow window", chromedp.EmulateViewport(800, 900))
	b.until("every step in view at 800 px", everyStepInView)

	b.selectStep("lookup")
	h := evalJS[[]float64](b, `(() => { const p = document.querySelector('#tabpanel-step'); return [p.clientHeight, p.scrollHeight]; })()`)
	if h[0] < 400 || h[1] > h[0]+1 {
		t.Errorf("the step panel is %.0f px tall and scrolls %.0f px of its own; want the whole form in the page", h[0], h[1])
	}
	b.shot("narrow-editor")
	b.do("scroll to the panel", chromedp.Evaluate[chromedp.Void](`document.querySelector('#f-url').scrollIntoView({block: 'center'})`))
	b.shot("narrow-editor-panel")
	b.checkLabels("narrow editor")
}

// overlapsJS lists the pairs of elements (by a data attribute) whose
// boxes overlap.
func overlapsJS(sel, attr string) string {
	return `(() => {
  const els = [...document.querySelectorAll('` + sel + `')];
  const out = [];
  els.forEach((a, i) => els.slice(i + 1).forEach((b) => {
    const r = a.getBoundingClientRect(), q = b.getBoundingClientRect();
    if (r.left < q.right && q.left < r.right && r.top < q.bottom && q.top < r.bottom) out.push(a.closest('[` + attr + `]').getAttribute('` + attr + `') + '/' + b.closest('[` + attr + `]').getAttribute('` + attr + `'));
  }));
  return out;
})()`
}

// TestUI_GraphLayout: a step added for a second port of the selected step
// goes below the step its first port leads to; the labels of two links to
// one step stay apart; Tidy lays out a pile of steps in columns where no
// two overlap and links run left to right, and Undo takes it back.
func TestUI_GraphLayout(t *testing.T) {
	e := newEnv(t)
	id, _ := e.createBot(`{"start":"lookup","steps":[
 {"id":"lookup","type":"api_call","method":"GET","url":"https://shop.example.com/orders","on_success":"tell","position":{"x":0,"y":0}},
 {"id":"tell","type":"message","text":"Shipped.","next":"bye","position":{"x":310,"y":130}},
 {"id":"bye","type":"end","text":"Bye","position":{"x":620,"y":130}},
 {"id":"again","type":"api_call","method":"GET","url":"https://shop.example.com/again","on_success":"bye","on_failure":"bye","position":{"x":310,"y":400}}]}`)
	b := openEditor(t, e, id, 60*time.Second)
	box := func(sel string) []float64 {
		return evalJS[[]float64](b, `(() => { const r = document.querySelector('`+sel+`').getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })()`)
	}

	// lookup's success leads to tell; a step added now is for its failure.
	b.selectStep("lookup")
	b.do("choose a message", chromedp.SetValue(chromedp.CSS("#add-type"), "message"))
	b.click("#add-step")
	b.present(`#canvas .node[data-step="message_1"]`)
	tell, added := box(`#canvas .node[data-step="tell"] .node-body`), box(`#canvas .node[data-step="message_1"] .node-body`)
	if added[1] <= tell[3] || added[0] < tell[0]-20 || added[0] > tell[0]+20 {
		t.Errorf("the new step is at %v; want it below tell (%v), in its column", added, tell)
	}

	// again's success and failure both lead to bye: two labels, apart.
	if got := evalJS[[]string](b, overlapsJS(`#canvas .edge[data-from="again"] .edge-label rect`, "data-port")); len(got) > 0 {
		t.Errorf("edge labels overlap: %v", got)
	}
	b.shot("graph-before-tidy")

	// A pile: every step of the order flow on one spot. Tidy sorts it out.
	var pile flow.Flow
	if err := json.Unmarshal([]byte(orderFlowJSON), &pile); err != nil {
		t.Fatal(err)
	}
	for i := range pile.Steps {
		pile.Steps[i].Position = &flow.Position{X: 100, Y: 100}
	}
	raw, _ := json.Marshal(pile)
	id, _ = e.createBot(string(raw))
	b.navigate(evalJS[string](b, `location.origin`) + "/#/bots/" + id)
	b.present(`#canvas .node[data-step="bye"]`)
	b.shot("graph-pile")
	b.click("#tidy")
	b.waitText("#toast", "Steps laid out")
	if got := evalJS[[]string](b, overlapsJS(`#canvas .node .node-body`, "data-step")); len(got) > 0 {
		t.Errorf("after Tidy, steps overlap: %v", got)
	}
	if got := evalJS[[]string](b, `[...document.querySelectorAll('#canvas .edge[data-from]')].filter((e) => {
		const a = document.querySelector('#canvas .node[data-step="' + e.dataset.from + '"] .node-body').getBoundingClientRect();
		const z = document.querySelector('#canvas .node[data-step="' + e.dataset.to + '"] .node-body').getBoundingClientRect();
		return z.left <= a.right;
	}).map((e) => e.dataset.from + '>' + e.dataset.to)`); len(got) > 0 {
		t.Errorf("after Tidy, links that do not run left to right: %v", got)
	}
	b.until("every step in view after Tidy", everyStepInView)
	b.shot("graph-tidy")
	b.waitSaved()
	seen := map[flow.Position]string{}
	for _, s := range e.draftFlow(id).Steps {
		if s.Position == nil {
			t.Fatalf("step %s saved without a position", s.ID)
		}
		if other, ok := seen[*s.Position]; ok {
			t.Errorf("steps %s and %s saved at one spot %+v", s.ID, other, *s.Position)
		}
		seen[*s.Position] = s.ID
	}
	b.click("#toast-action")
	b.waitText("#toast", "back where they were")
	b.waitSaved()
	if p := e.draftStep(id, "tell").Position; p == nil || *p != (flow.Position{X: 100, Y: 100}) {
		t.Errorf("tell after undoing Tidy at %+v; want where it was (100, 100)", p)
	}
}

// TestUI_RemoveKeepsFocus: removing a row of a list with the keyboard
// leaves the focus on the next row's Remove button, else the previous
// row's, else the list's Add button; never on <body>.
func TestUI_RemoveKeepsFocus(t *testing.T) {
	e := newEnv(t)
	id, _ := e.createBot(`{"start":"lookup","steps":[
 {"id":"lookup","type":"api_call","method":"GET","url":"https://shop.example.com/orders","on_success":"pick","on_failure":"check",
  "headers":[{"key":"Accept","value":"application/json"},{"key":"X-Trace","value":"1"}],
  "variables":[{"name":"a","path":"$.a"},{"name":"b","path":"$.b"}]},
 {"id":"pick","type":"options","text":"Pick","options":[{"id":"x","label":"X","next":"bye"},{"id":"y","label":"Y","next":"bye"}]},
 {"id":"check","type":"branch","conditions":[{"variable":"a","op":"equals","value":"1","next":"bye"}],"else":"bye"},
 {"id":"bye","type":"end","text":"Bye"}]}`)
	b := openEditor(t, e, id, 60*time.Second)
	removeWithEnter := func(sel, want string) {
		t.Helper()
		b.do("press Enter on "+sel, chromedp.Focus(chromedp.CSS(sel)), chromedp.KeyEvent("\r"))
		b.present("#step-heading") // drawn again
		if got := evalJS[string](b, `document.activeElement.id || document.activeElement.tagName`); got != want {
			t.Errorf("after Enter on %s the focus is on %q; want %q", sel, got, want)
		}
	}
	b.selectStep("lookup")
	removeWithEnter("#remove-header-0", "remove-header-0") // the next header, now first
	if got := b.value("#f-headers-0-key"); got != "X-Trace" {
		t.Fatalf("the header left is %q; want X-Trace", got)
	}
	removeWithEnter("#remove-header-0", "add-header")
	removeWithEnter("#remove-variable-1", "remove-variable-0") // the last one: the one before
	b.waitSaved()
	if got := e.draftStep(id, "lookup"); len(got.Headers) != 0 || len(got.Variables) != 1 || got.Variables[0].Name != "a" {
		t.Errorf("saved headers %+v, variables %+v", got.Headers, got.Variables)
	}

	b.selectStep("pick")
	removeWithEnter("#remove-option-0", "add-option") // the one left may not be removed
	b.selectStep("check")
	removeWithEnter("#remove-condition-0", "add-condition")
	b.checkLabels("lists after removing")
}

// TestUI_RefusedPublishKeepsWarnings: the server refuses to publish a
// draft with an error and lists only its errors; the toolbar and the Flow
// tab still show the draft's warnings with them.
func TestUI_RefusedPublishKeepsWarnings(t *testing.T) {
	e := newEnv(t)
	id, _ := e.createBot(`{"start":"hi","steps":[{"id":"hi","type":"message","text":"Hi {{nme}}","next":"gone"}]}`)
	b := openEditor(t, e, id, 60*time.Second)
	b.waitText("#problems-btn", "1 error, 1 warning")
	b.click("#publish")
	b.waitText("#toast", "Not published")
	b.waitText("#problems-btn", "1 error, 1 warning")
	b.visible("#problem-list")
	if n := evalJS[int](b, `document.querySelectorAll('#problem-list li.warning').length`); n != 1 {
		t.Errorf("the Flow tab lists %d warnings after the refusal; want 1: %s", n, b.text("#problem-list"))
	}
	if n := evalJS[int](b, `document.querySelectorAll('#problem-list li.error').length`); n != 1 {
		t.Errorf("the Flow tab lists %d errors after the refusal; want 1: %s", n, b.text("#problem-list"))
	}
	b.shot("publish-refused")
}

// TestUI_SelectedStepShowsFocus: a selected step that gets the keyboard
// focus shows the focus ring, and still shows that it is selected.
func TestUI_SelectedStepShowsFocus(t *testing.T) {
	e := newEnv(t)
	id, _ := e.createBot(orderFlowJSON)
	b := openEditor(t, e, id, 60*time.Second)
	b.selectStep("lookup")
	b.do("Tab from ask to lookup", chromedp.Focus(chromedp.CSS(`#canvas .node[data-step="ask"]`)), chromedp.KeyEvent(kb.Tab))
	b.present(`#canvas .node.selected[data-step="lookup"]:focus-visible`)
	const focusColour = "rgb(255, 191, 71)" // --focus
	if !evalJS[bool](b, `[...document.querySelectorAll('#canvas .node[data-step="lookup"] *')].some((el) => getComputedStyle(el).stroke === '`+focusColour+`')`) {
		t.Errorf("the selected step with the keyboard focus shows no focus ring")
	}
	if got := evalJS[string](b, `getComputedStyle(document.querySelector('#canvas .node[data-step="lookup"] .node-body')).stroke`); got == focusColour {
		t.Errorf("the focused step's body lost its selected colour")
	}
	b.do("zoom in with the keyboard", chromedp.KeyEvent("++"))
	b.shot("selected-focused-step")
}

// nineVarsFlow is an api_call saving nine variables, one over the limit,
// the second with an invalid name.
func nineVarsFlow() string {
	vars := `{"name":"v0","path":"$.order.status"},{"name":"Order-Status","path":"$.order.items[1].name"}`
	for i := 2; i < 9; i++ {
		vars += fmt.Sprintf(`,{"name":"v%d","path":"$.order.items[%d].name"}`, i, i)
	}
	return `{"start":"lookup","steps":[{"id":"lookup","type":"api_call","method":"GET","url":"https://shop.example.com/orders",
 "variables":[` + vars + `],"on_success":"bye","on_failure":"bye"},{"id":"bye","type":"end","text":"Bye"}]}`
}

// TestUI_ListProblemMarksTheList: a problem of a whole list ("variables
// has 9 variables") marks the list, not its first item's field.
func TestUI_ListProblemMarksTheList(t *testing.T) {
	e := newEnv(t)
	id, _ := e.createBot(nineVarsFlow())
	b := openEditor(t, e, id, 60*time.Second)
	b.selectStep("lookup")
	b.waitText(`.field.list[data-pointer="/variables"] > .field-error`, "variables has 9 variables")
	if !evalJS[bool](b, `document.querySelector('.field.list[data-pointer="/variables"]').classList.contains('invalid')`) {
		t.Errorf("the variables list is not marked invalid")
	}
	// Variable 2's name has a problem of its own; variable 1 has none.
	if got := evalJS[string](b, `document.querySelector('#f-variables-1-name').getAttribute('aria-invalid') || ''`); got != "true" {
		t.Errorf("variable 2's invalid name: aria-invalid = %q", got)
	}
	if got := evalJS[string](b, `document.querySelector('#f-variables-0-name').getAttribute('aria-invalid') || ''`); got != "" {
		t.Errorf("variable 1's name, which has no problem, has aria-invalid = %q", got)
	}
	b.do("show the variables", chromedp.Evaluate[chromedp.Void](`document.querySelector('#vars-h').scrollIntoView({block: 'start'})`))
	b.shot("list-problem")
}

// TestUI_VariablePathsKeepTheirWidth: a problem under a variable's name
// wraps in the name's column; the JSONPaths keep room to be read.
func TestUI_VariablePathsKeepTheirWidth(t *testing.T) {
	e := newEnv(t)
	id, _ := e.createBot(nineVarsFlow())
	b := openEditor(t, e, id, 60*time.Second)
	b.selectStep("lookup")
	b.waitText("#f-variables-1-name-err", "is invalid")
	for _, i := range []string{"0", "1", "8"} {
		if cut := evalJS[bool](b, `(() => { const p = document.querySelector('#f-variables-`+i+`-path'); return p.scrollWidth > p.clientWidth; })()`); cut {
			t.Errorf("variable %s's JSONPath %q does not fit its field", i, b.value("#f-variables-"+i+"-path"))
		}
	}
	if w := evalJS[float64](b, `(() => { const b = document.querySelector('#remove-variable-0').getBoundingClientRect(), p = document.querySelector('#panel').getBoundingClientRect(); return p.right - b.right; })()`); w < 0 {
		t.Errorf("the Remove button sticks out of the panel by %.0f px", -w)
	}
	b.do("show the variables", chromedp.Evaluate[chromedp.Void](`document.querySelector('#vars-h').scrollIntoView({block: 'start'})`))
	b.shot("variables-table")
}

// TestUI_UnpublishedChanges: the toolbar says when the saved draft is not
// the published version, and stops saying it once it is published.
func TestUI_UnpublishedChanges(t *testing.T) {
	e := newEnv(t)
	id := e.publishedBot(orderFlowJSON)
	b := openEditor(t, e, id, 60*time.Second)
	b.waitText("#publish-state", "Published: version 1")
	b.click("#tab-flow")
	b.visible(`#versions tr[data-version="1"]`) // the versions, with their revisions, are in
	if got := b.text("#publish-state"); got != "Published: version 1" {
		t.Errorf("publish state of a draft as published = %q", got)
	}
	b.selectStep("tell")
	b.do("edit tell", chromedp.Focus(chromedp.CSS("#f-text")), chromedp.KeyEvent(" Thanks!"))
	b.waitSaved()
	b.waitText("#publish-state", "Published: version 1 · unpublished changes")
	b.shot("unpublished-changes")
	b.click("#publish")
	b.waitText("#publish-state", "version 2")
	if got := b.text("#publish-state"); got != "Published: version 2" {
		t.Errorf("publish state after publishing the draft = %q", got)
	}
}

// TestUI_CallNotSent: an api_call the runtime refuses to send (a period in
// a path value) says "Not sent", with the URL template and the remedy, in
// the test call and in a conversation's execution log; never an empty
// "Request sent".
func TestUI_CallNotSent(t *testing.T) {
	e := newEnv(t)
	id := e.publishBot(`{"start":"ask","steps":[
 {"id":"ask","type":"ask","text":"Your email?","variable":"order","next":"lookup"},
 {"id":"lookup","type":"api_call","method":"GET","url":"https://shop.example.com/orders/{{order}}","on_success":"bye","on_failure":"bye"},
 {"id":"bye","type":"end","text":"Bye"}]}`)
	c := e.start(id, nil)
	if code, _ := e.send(c.ID, c.Token, map[string]string{"text": "ann@example.com"}); code != 200 {
		t.Fatalf("reply: %d", code)
	}
	b := openEditor(t, e, id, 60*time.Second)

	b.selectStep("lookup")
	b.typeText("#tv-order", "ann@example.com")
	b.click("#run-test")
	b.waitText("#test-branch", "Failure branch")
	got := b.text("#test-result")
	for _, want := range []string{"Not sent.", "GET https://shop.example.com/orders/{{order}}", "?order={{order}}", "in the body"} {
		if !strings.Contains(got, want) {
			t.Errorf("test call result lacks %q: %s", want, got)
		}
	}
	if strings.Contains(got, "Request sent") {
		t.Errorf("the test call shows a request sent: %s", got)
	}
	b.do("show the result", chromedp.Evaluate[chromedp.Void](`document.querySelector('#test-result').scrollIntoView({block: 'center'})`))
	b.shot("test-call-not-sent")

	b.click("#tab-convs")
	b.until("the conversation listed", `document.querySelectorAll('#conv-list tbody tr').length === 1`)
	b.click("#conv-list tbody tr button")
	b.visible("#conv-detail .log-list")
	log := b.text(`#conv-detail .log-list li[data-step="lookup"]`)
	for _, want := range []string{"Not sent (GET)", "?order={{order}}"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log of lookup lacks %q: %s", want, log)
		}
	}
	b.shot("log-not-sent")
}

// TestUI_LongChainOpens: a bot made through the API has no positions, so
// the editor lays it out when it opens; a chain of 9,000 steps (a flow may
// have 20,000) must not overflow the browser's call stack doing so.
func TestUI_LongChainOpens(t *testing.T) {
	e := newEnv(t)
	const n = 9000
	var steps []string
	for i := range n {
		next := ""
		if i+1 < n {
			next = fmt.Sprintf("s%d", i+1)
		}
		steps = append(steps, fmt.Sprintf(`{"id":"s%d","type":"message","text":"m","next":%q}`, i, next))
	}
	id, _ := e.createBot(`{"start":"s0","steps":[` + strings.Join(steps, ",") + `]}`)
	b := openEditor(t, e, id, 60*time.Second)
	b.until("the chain is drawn", fmt.Sprintf(`document.querySelectorAll('#canvas .node').length === %d`, n))
	if x := evalJS[float64](b, `Number(document.querySelector('#canvas .node[data-step="s8999"]').getAttribute('transform').match(/translate\(([-\d.]+)/)[1])`); x <= 0 {
		t.Errorf("the last step sits at x=%v; want it laid out to the right of the start", x)
	}
}

// TestUI_LeavingWhileSavingKeepsTheQuestion: the designer leaves the editor
// while its save is on the way, and clicks another page before it comes
// back refused (someone else saved). The editor stays, with its question
// about the changes; leaving after all goes to the page asked for last.
func TestUI_LeavingWhileSavingKeepsTheQuestion(t *testing.T) {
	e := newEnv(t)
	id, rev := e.createBot(orderFlowJSON)
	var hold atomic.Bool
	release := make(chan struct{})
	held := make(chan struct{}, 1)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && hold.Load() {
			held <- struct{}{}
			<-release
		}
		e.srv.ServeHTTP(w, r)
	}))
	t.Cleanup(app.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	b := openEditorAt(t, app.URL, id, 60*time.Second)
	b.selectStep("tell")

	theirs := e.draftFlow(id) // another tab saves first
	theirs.Steps[0].Text = "Theirs"
	if r := e.do("PUT", "/v1/bots/"+id+"/flow", adminToken, theirs, "If-Match", fmt.Sprint(rev)); r.Code != 200 {
		t.Fatalf("the other tab's save: %d %s", r.Code, r.Body)
	}
	hold.Store(true)
	b.do("type into the text", chromedp.Focus(chromedp.CSS("#f-text")), chromedp.KeyEvent(" Thanks"))
	b.click("a.back")
	select {
	case <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("the editor's save did not come")
	}
	b.do("ask for another page", chromedp.Evaluate[chromedp.Void](`location.hash = '#/connections'`))
	time.Sleep(200 * time.Millisecond) // the second navigation is handled
	hold.Store(false)
	close(release) // the save arrives late, and is refused: 409
	b.visible("#leave-box")
	if got := evalJS[string](b, `location.hash`); got != "#/bots/"+id {
		t.Errorf("address while asking = %q; want the editor's", got)
	}
	b.click("#leave-anyway")
	b.until("the page asked for last", `location.hash === '#/connections' && document.querySelector('nav a[aria-current="page"]')?.dataset.nav === 'connections'`)
}

// TestUI_TestCallPicksByField: a field inside a list's element can be
// saved by position or, with the second button, by a filter on the field
// that tells the elements apart; the next test call saves it.
func TestUI_TestCallPicksByField(t *testing.T) {
	e := newEnv(t)
	shop := newShop(t)
	e.trust(shop.srv)
	id, _ := e.createBot(`{"start":"ask","steps":[
 {"id":"ask","type":"ask","text":"Your order number?","variable":"order_number","next":"lookup"},
 {"id":"lookup","type":"api_call","method":"GET","url":"` + shop.srv.URL + `/api/orders/{{order_number}}","on_success":"bye","on_failure":"bye"},
 {"id":"bye","type":"end","text":"Bye"}]}`)
	b := openEditor(t, e, id, 60*time.Second)
	b.selectStep("lookup")
	b.typeText("#tv-order_number", "1001")
	b.click("#run-test")
	b.waitText("#test-branch", "Success branch")
	const byField = `$.order.items[?(@.name == 'Hat')].name`
	sel := `button.by-field[data-path="` + byField + `"]`
	b.visible(sel)
	if got := b.text(sel); !strings.Contains(got, "by field") {
		t.Errorf("by-field button text %q", got)
	}
	b.do("show the paths", chromedp.ScrollIntoView(sel))
	b.shot("test-call-by-field")
	b.click(sel)
	b.visible("#f-variables-0-path")
	if got := b.value("#f-variables-0-path"); got != byField {
		t.Fatalf("variable path = %q, want %q", got, byField)
	}
	b.click("#run-test")
	b.until("the variable saved by the filter", `(document.querySelector('#test-vars')?.textContent || '').includes('Hat')`)
	b.present(sel + ".used")
	b.waitSaved()
	if got := e.draftStep(id, "lookup").Variables; len(got) != 1 || got[0].Path != byField {
		t.Errorf("saved variables %+v", got)
	}
	b.checkLabels("test call with by-field paths")
}
