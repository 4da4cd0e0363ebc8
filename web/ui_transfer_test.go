package web_test

import (
	"reflect"
	"testing"
	"time"
)

// TestUI_TransferRoutingFields: the transfer panel edits group, priority
// and tags; the draft saves them; a tag written wrong shows its problem.
func TestUI_TransferRoutingFields(t *testing.T) {
	e := newEnv(t)
	id, _ := e.createBot(`{"start":"t","steps":[{"id":"t","type":"transfer","text":"A person will help.","reason":"asked"}]}`)
	b := openEditor(t, e, id, 60*time.Second)
	b.click(`#canvas .node[data-step="t"] .node-title`)
	b.waitText("#step-heading", "t")
	b.typeText("#f-group", "{{team}}")
	b.typeText("#f-priority", "urgent")
	b.typeText("#f-tags", "vip, VIP Customer")
	b.until("the tag's problem at the tags field", `(document.querySelector('#f-tags-err')?.textContent || '').includes('write "vip_customer"')`)
	b.typeText("#f-tags", "vip, vip_customer")
	b.until("the problem gone", `document.querySelector('#f-tags-err').hidden`)
	b.checkLabels("transfer fields")
	b.waitSaved()
	s := e.draftStep(id, "t")
	if s.Group != "{{team}}" || s.Priority != "urgent" || !reflect.DeepEqual(s.Tags, []string{"vip", "vip_customer"}) {
		t.Fatalf("saved group %q priority %q tags %q", s.Group, s.Priority, s.Tags)
	}
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors: %q", errs)
	}
}
