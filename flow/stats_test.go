package flow_test

import (
	"maps"
	"testing"
	"time"

	"github.com/flowbot/flowbot/flow"
)

// TestBotStats: a question asked, refused once, answered and asked again
// is three runs; an API call's failure is counted by cause; the step an
// active conversation waits at is counted; a turn stopped before a step
// (the step cap) is not a run of it; the oldest update is kept.
func TestBotStats(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	st := flow.NewBotStats()
	st.Add(&flow.Conversation{Status: flow.StatusActive, Waiting: "q", UpdatedAt: t0.Add(time.Hour)}, []flow.LogEntry{
		{StepID: "q", StepType: "ask", Outcome: "waiting"},
		{StepID: "q", StepType: "ask", Outcome: "invalid_input"},
		{StepID: "q", StepType: "ask", Outcome: "answered"},
		{StepID: "api", StepType: "api_call", Outcome: "failure", APICall: &flow.APICallLog{Branch: "failure", Error: "timeout"}},
		{StepID: "api", StepType: "api_call", Outcome: "failure", APICall: &flow.APICallLog{Branch: "failure", Error: "http_status", Status: 503}},
		{StepID: "api", StepType: "api_call", Outcome: "success", APICall: &flow.APICallLog{Branch: "success", Status: 200}},
		{StepID: "q", StepType: "ask", Outcome: "waiting"},
	})
	st.Add(&flow.Conversation{Status: flow.StatusError, UpdatedAt: t0}, []flow.LogEntry{
		{StepID: "loop", StepType: "message", Outcome: "ok"},
		{StepID: "loop", StepType: "message", Outcome: "step_limit"},
	})
	if st.Conversations != 2 || !st.Oldest.Equal(t0) || !maps.Equal(st.ByStatus, map[string]int{"active": 1, "error": 1}) {
		t.Fatalf("totals %+v", st)
	}
	steps := st.Steps()
	if len(steps) != 3 || steps[0].StepID != "api" || steps[1].StepID != "q" || steps[2].StepID != "loop" {
		t.Fatalf("order %+v", steps)
	}
	q, api, loop := steps[1], steps[0], steps[2]
	if q.Runs != 3 || q.Conversations != 1 || q.Waiting != 1 || !maps.Equal(q.Outcomes, map[string]int{"invalid_input": 1, "answered": 1, "waiting": 1}) {
		t.Errorf("q %+v", q)
	}
	if api.Runs != 3 || !maps.Equal(api.Errors, map[string]int{"timeout": 1, "http_503": 1}) || api.Outcomes["success"] != 1 {
		t.Errorf("api %+v", api)
	}
	if loop.StepType != "message" || loop.Runs != 1 || loop.Conversations != 1 || loop.Outcomes["step_limit"] != 0 || loop.Stopped["step_limit"] != 1 {
		t.Errorf("loop %+v", loop)
	}
}
