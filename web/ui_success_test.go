package web_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flowbot/flowbot/connections"
	"github.com/flowbot/flowbot/flow"
)

// TestUI_SuccessWhenEditor: the api_call panel adds, edits and removes
// success_when tests; the draft saves them; a server problem shows at its
// field; "is set" needs no value.
func TestUI_SuccessWhenEditor(t *testing.T) {
	e := newEnv(t)
	// A connection an API refused: the panel's picker says so.
	e.mustConnection(connBody("shop_api", "bearer", map[string]any{"token": "t"}))
	conn, err := e.conns.Get(t.Context(), "shop_api")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.SetConnectionRefusal(t.Context(), "shop_api", conn.UpdatedAt,
		&connections.Refusal{At: time.Now().UTC(), Status: 401, Host: "shop.example.com", Message: "no"}); err != nil {
		t.Fatal(err)
	}
	id, _ := e.createBot(`{"start":"lookup","steps":[
 {"id":"lookup","type":"api_call","method":"GET","url":"https://shop.example.com/orders","on_success":"bye","on_failure":"bye"},
 {"id":"bye","type":"end","text":"Bye"}]}`)
	b := openEditor(t, e, id, 60*time.Second)
	saved := func() []flow.SuccessCondition {
		t.Helper()
		b.waitSaved()
		return e.draftStep(id, "lookup").SuccessWhen
	}

	b.click(`#canvas .node[data-step="lookup"] .node-title`)
	b.waitText("#step-heading", "lookup")
	if got := b.text(`#f-connection option[value="shop_api"]`); !strings.HasSuffix(got, "— refused") {
		t.Errorf("connection picker shows %q; want it to end with the refusal", got)
	}
	b.click("#add-success-test")
	b.typeText("#f-success_when-0-path", "$.ok")
	b.typeText("#f-success_when-0-value", "true")
	b.click("#add-success-test")
	b.typeText("#f-success_when-1-path", "$..[")
	b.until("the bad path's problem next to its field",
		`(document.querySelector('#f-success_when-1-path-err')?.textContent || '').includes('is not a JSONPath')`)
	b.typeText("#f-success_when-1-path", "$.receipt")
	b.choose("#f-success_when-1-op", "exists")
	b.until("no value field for is set", `document.querySelector('#f-success_when-1-value') === null`)
	b.checkLabels("success_when fields")
	want := []flow.SuccessCondition{{Path: "$.ok", Op: "equals", Value: "true"}, {Path: "$.receipt", Op: "exists"}}
	if got := saved(); !reflect.DeepEqual(got, want) {
		t.Fatalf("saved %+v; want %+v", got, want)
	}
	b.shot("api-call-success-when")
	b.click("#remove-success-0")
	if got := saved(); !reflect.DeepEqual(got, want[1:]) {
		t.Fatalf("after removing test 1: %+v", got)
	}
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors: %q", errs)
	}
}
