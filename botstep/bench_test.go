package botstep

import (
	"fmt"
	"testing"
	"time"

	"github.com/flowbot/flowbot/flow"
)

// mixedFlow builds a realistic flow of n steps: repeated blocks of a
// message, an options menu, a question, a GET api_call, a branch, a
// set_variable, a POST api_call with a JSON body and a closing message,
// each block leading to the next; the last step ends the flow.
func mixedFlow(n int) *flow.Flow {
	f := &flow.Flow{Start: "s0", Steps: make([]flow.Step, 0, n)}
	id := func(i int) string {
		return fmt.Sprintf("s%d", min(i, n-1)) // late blocks lead to the last step
	}
	for i := 0; i < n; i++ {
		var s flow.Step
		switch i % 8 {
		case 0:
			s = flow.Step{Type: flow.TypeMessage, Text: "Hello {{user.name}}, welcome back. Your last order was {{order_number}}.", Next: id(i + 1)}
		case 1:
			s = flow.Step{Type: flow.TypeOptions, Text: "How can I help?", Options: []flow.Option{
				{ID: "status", Label: "Order status", Next: id(i + 1)},
				{ID: "refund", Label: "Refund", Next: id(i + 2)},
				{ID: "human", Label: "Talk to a person", Next: id(i + 7)},
			}}
		case 2:
			s = flow.Step{Type: flow.TypeAsk, Text: "What is your order number?", Variable: "order_number", Input: flow.InputNumber,
				InvalidText: "Digits only, please.", Next: id(i + 1)}
		case 3:
			s = apiStep(nil)
			s.OnSuccess, s.OnFailure = id(i+1), id(i+4)
			s.URL = "https://shop.example.com/api/orders/{{order_number}}.json?email={{user.email}}"
			s.Variables = append(s.Variables, flow.ResponseVariable{Name: "items", Path: "$.order.items[*].name"},
				flow.ResponseVariable{Name: "order_date", Path: "$.order.date"},
				flow.ResponseVariable{Name: "http_status", Path: "$status"})
		case 4:
			s = flow.Step{Type: flow.TypeBranch, Conditions: []flow.Condition{
				{Variable: "order_status", Op: flow.OpEquals, Value: "shipped", Next: id(i + 1)},
				{Variable: "http_status", Op: flow.OpGreaterThan, Value: "299", Next: id(i + 3)},
				{Variable: "user.authenticated", Op: flow.OpExists, Next: id(i + 2)},
			}, Else: id(i + 1)}
		case 5:
			s = flow.Step{Type: flow.TypeSetVariable, Variable: "note", Value: "{{order_status}} since {{order_date}}", Next: id(i + 1)}
		case 6:
			body := `{"order": "{{order_number}}", "email": "{{user.email}}", "note": "{{note}}", "tags": ["bot", "flow"], "n": 1}`
			s = apiStep(func(s *flow.Step) {
				s.Method, s.Body, s.Retry = "POST", &body, nil
				s.URL = "https://shop.example.com/api/orders/{{order_number}}/notes?source=bot&conversation={{conversation.id}}"
				s.Headers = append(s.Headers, flow.Header{Key: "X-Request-Source", Value: "flowbot {{conversation.id}}"})
			})
			s.OnSuccess, s.OnFailure = id(i+1), id(i+1)
		case 7:
			s = flow.Step{Type: flow.TypeMessage, Text: "Anything else?", Next: id(i + 1)}
		}
		if i == n-1 {
			s = flow.Step{Type: flow.TypeEnd, Text: "Bye {{user.name}}"}
		}
		s.ID = id(i)
		f.Steps = append(f.Steps, s)
	}
	return f
}

func TestMixedFlowIsValid(t *testing.T) {
	for _, n := range []int{8, 100, 1001} {
		if p := Validate(mixedFlow(n), testConns); len(p) != 0 {
			t.Fatalf("n=%d: %s", n, messages(p))
		}
	}
}

func TestValidateLinear(t *testing.T) {
	small, big := mixedFlow(1000), mixedFlow(10000)
	measure := func(f *flow.Flow) time.Duration {
		best := time.Hour
		for range 3 {
			t0 := time.Now()
			Validate(f, testConns)
			best = min(best, time.Since(t0))
		}
		return best
	}
	ts, tb := measure(small), measure(big)
	// 10x the steps; quadratic would be 100x. A wide margin for a busy machine.
	if tb > 40*ts+100*time.Millisecond {
		t.Errorf("1000 steps took %v, 10000 took %v: not linear", ts, tb)
	}
}

func benchmarkValidate(b *testing.B, n int) {
	f := mixedFlow(n)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if p := Validate(f, testConns); len(p) != 0 {
			b.Fatal(p)
		}
	}
}

// BenchmarkValidate100Steps and its siblings show that Validate scales
// linearly: ns/op and allocs/op grow by 10x from one to the next.
func BenchmarkValidate100Steps(b *testing.B)   { benchmarkValidate(b, 100) }
func BenchmarkValidate1000Steps(b *testing.B)  { benchmarkValidate(b, 1000) }
func BenchmarkValidate10000Steps(b *testing.B) { benchmarkValidate(b, 10000) }
