package web_test

import (
	"strings"
	"testing"
)

// TestConversation_SuccessWhen: an order the shop answers 200 without a
// status fails the step's success_when and takes the failure branch, with
// the reason in the execution log; the draft keeps the tests as written.
func TestConversation_SuccessWhen(t *testing.T) {
	e := newEnv(t)
	s := newShop(t)
	e.trust(s.srv)
	bot := e.publishBot(`{"start":"ask","steps":[
 {"id":"ask","type":"ask","text":"Your order number?","variable":"order_number","input":"text","next":"lookup"},
 {"id":"lookup","type":"api_call","method":"GET","url":"` + s.srv.URL + `/api/orders/{{order_number}}",
  "variables":[{"name":"order_status","path":"$.order.status"}],
  "success_when":[{"path":"$.order.status","op":"exists"},{"path":"$status","op":"equals","value":"200"}],
  "on_success":"tell","on_failure":"sorry"},
 {"id":"tell","type":"end","text":"Order {{order_number}} is {{order_status}}."},
 {"id":"sorry","type":"end","text":"Order {{order_number}} has no status yet."}]}`)

	r := e.do("GET", "/v1/bots/"+bot, adminToken, nil)
	if !strings.Contains(string(r.Body), `"success_when":[{"path":"$.order.status","op":"exists"},{"path":"$status","op":"equals","value":"200"}]`) {
		t.Fatalf("draft: %s", r.Body)
	}
	c := e.start(bot, nil)
	if _, tr := e.send(c.ID, c.Token, map[string]string{"text": "1001"}); len(tr.Messages) != 1 || tr.Messages[0].Text != "Order 1001 is shipped." {
		t.Fatalf("shipped order: %+v", tr)
	}
	c = e.start(bot, nil)
	if _, tr := e.send(c.ID, c.Token, map[string]string{"text": "2002"}); len(tr.Messages) != 1 || tr.Messages[0].Text != "Order 2002 has no status yet." {
		t.Fatalf("order without a status: %+v", tr)
	}
	log := string(e.do("GET", "/v1/conversations/"+c.ID+"/log", adminToken, nil).Body)
	if !strings.Contains(log, `"error":"success_condition_failed"`) || !strings.Contains(log, `success test 1 did not hold: $.order.status has nothing, not exists`) {
		t.Fatalf("log: %s", log)
	}

	// Validation names the field of a bad test.
	id, _ := e.createBot(strings.Replace(validFlow, `"on_success":"tell"`, `"success_when":[{"path":"$.ok","op":"is","value":"1"}],"on_success":"tell"`, 1))
	r = e.do("POST", "/v1/bots/"+id+"/validate", adminToken, nil)
	if !hasProblem(r.m(t)["problems"].([]any), "/steps/1/success_when/0/op", "invalid_operator") {
		t.Fatalf("validate: %s", r.Body)
	}
}
