package flow_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/flowbot/flowbot/flow"
)

// savedCaller answers every api_call with the benchmark upstream's saved
// variables; the real api_call is measured in botstep and web.
type savedCaller struct{}

func (savedCaller) Call(_ context.Context, s *flow.Step, _ flow.Lookup) flow.CallResult {
	return flow.CallResult{Success: true, Saved: map[string]string{"status": "shipped", "eta": "2026-12-01"},
		Log: flow.APICallLog{Method: s.Method, URL: "https://127.0.0.1/orders/42", Status: 200, Bytes: 49, Attempts: 1,
			Saved: []string{"eta", "status"}, Branch: "success"}}
}

// BenchmarkReply is the engine's part of the benchmark turn of
// bench/README.md: the answer to an ask, an api_call, a message with
// three variables, and the ask again.
func BenchmarkReply(b *testing.B) {
	var f flow.Flow
	if err := json.Unmarshal([]byte(`{"start":"ask","steps":[
 {"id":"ask","type":"ask","text":"What is your order number?","variable":"order","input":"text","next":"lookup"},
 {"id":"lookup","type":"api_call","method":"GET","url":"https://127.0.0.1/orders/{{order}}",
  "variables":[{"name":"status","path":"$.status"},{"name":"eta","path":"$.eta"}],"on_success":"good","on_failure":"sorry"},
 {"id":"good","type":"message","text":"Good news! Order {{order}} is {{status}} and should arrive on {{eta}}.","next":"ask"},
 {"id":"sorry","type":"message","text":"Sorry, I could not look up order {{order}} right now.","next":"ask"}]}`), &f); err != nil {
		b.Fatal(err)
	}
	c := flow.Compile(&f)
	e := &flow.Engine{Caller: savedCaller{}}
	conv := &flow.Conversation{ID: "c1"}
	e.Start(context.Background(), c, conv)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		tr, err := e.Reply(ctx, c, conv, flow.Input{Text: "42"})
		if err != nil || len(tr.Messages) != 2 || tr.Messages[0].Text != "Good news! Order 42 is shipped and should arrive on 2026-12-01." {
			b.Fatalf("%v %+v", err, tr)
		}
	}
}
