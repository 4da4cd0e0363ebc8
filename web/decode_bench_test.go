package web

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/flowbot/flowbot/flow"
)

// BenchmarkDecode decodes request bodies strictly, as every handler does:
// a chat message (once per turn) and a bot with a 1,000-step flow (create
// and save draft).
func BenchmarkDecode(b *testing.B) {
	b.Run("Message", func(b *testing.B) {
		body := []byte(`{"text":"42"}`)
		b.ReportAllocs()
		for b.Loop() {
			var req messageRequest
			if err := decodeBytes(body, &req); err != nil || req.Text != "42" {
				b.Fatal(err, req)
			}
		}
	})
	b.Run("Flow1000", func(b *testing.B) {
		f := flow.Flow{Start: "s0"}
		for i := range 1000 {
			id, next := "s"+strconv.Itoa(i), "s"+strconv.Itoa(i+1)
			s := flow.Step{ID: id, Type: flow.TypeMessage, Text: "Step " + id + ": thanks, {{order}}.", Next: next,
				Position: &flow.Position{X: float64(i), Y: 40}}
			if i%2 == 1 {
				s = flow.Step{ID: id, Type: flow.TypeBranch, Conditions: []flow.Condition{{Variable: "order", Op: flow.OpEquals, Value: "42", Next: next}}, Else: next}
			}
			f.Steps = append(f.Steps, s)
		}
		f.Steps = append(f.Steps, flow.Step{ID: "s1000", Type: flow.TypeEnd, Text: "Bye."})
		body, err := json.Marshal(map[string]any{"name": "Big", "description": "d", "flow": f, "revision": 3})
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			var req createBotRequest
			if err := decodeBytes(body, &req, botReadOnly...); err != nil || len(req.Flow.Steps) != 1001 {
				b.Fatal(err)
			}
		}
	})
}
