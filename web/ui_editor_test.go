package web_test

import (
	"testing"
	"time"

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
	b := openEditor(t, e, id, 90*time.Second)
	node := func(sid string) string { return `#canvas .node[data-step="` + sid + `"]` }
	gone := func(sid string) {
		t.Helper()
		b.until(sid+" gone", `document.querySelector('`+node(sid)+`') === null`)
	}

	// Select lookup, then Tab on to check: Delete removes check.
	b.click(node("lookup") + " .node-title")
	b.waitText("#step-heading", "lookup")
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
	b.click(node("ask") + " .node-title")
	b.waitText("#step-heading", "ask")
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
