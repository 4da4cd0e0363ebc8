package web_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flowbot/flowbot/web"
)

// TestHandoff_Routing: a transfer's group, priority and tags, filled from
// the conversation's variables, reach the help desk in the notice and
// show in the execution log.
func TestHandoff_Routing(t *testing.T) {
	dk := newDesk(t)
	var h *web.Handoff
	e := newEnv(t, func(d *web.Deps, e *env) {
		h = &web.Handoff{URL: dk.srv.URL + "/hook", Secret: []byte(handoffSecret), Client: e.client,
			Transcript: e.db.Transcript, Backoff: []time.Duration{10 * time.Millisecond}}
		d.Runtime.OnTransfer = h.Notify
	})
	e.trust(dk.srv)
	bot := e.publishBot(`{"start":"ask","steps":[
 {"id":"ask","type":"ask","text":"Which team?","variable":"team","next":"t"},
 {"id":"t","type":"transfer","text":"A person will help.","reason":"asked for {{team}}",
  "group":"{{team}}","priority":"high","tags":["bot","Team {{team}}"]}]}`)
	c := e.start(bot, nil)
	if _, tr := e.send(c.ID, c.Token, map[string]string{"text": "Billing EU"}); tr.Status != "transferred" {
		t.Fatalf("turn: %+v", tr)
	}
	n := dk.next(t)
	if n.Group != "Billing EU" || n.Priority != "high" || !reflect.DeepEqual(n.Tags, []string{"bot", "team_billing_eu"}) || n.Reason != "asked for Billing EU" {
		t.Fatalf("notice routing: group %q priority %q tags %q reason %q", n.Group, n.Priority, n.Tags, n.Reason)
	}
	h.Wait()
	log := string(e.do("GET", "/v1/conversations/"+c.ID+"/log", adminToken, nil).Body)
	if !strings.Contains(log, `"group":"Billing EU"`) || !strings.Contains(log, `"tags":"bot,team_billing_eu"`) {
		t.Fatalf("log: %s", log)
	}
}
