package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// flowSize is how long the designer operations take for a flow of Steps steps.
type flowSize struct {
	Steps     int `json:"steps"`
	BodyBytes int `json:"body_bytes"`
	Repeats   int `json:"repeats"`
	// Medians over Repeats, in ms, as the client sees them (loopback HTTP,
	// JSON both ways included).
	CreateMS   float64 `json:"create_ms"`   // POST /v1/bots with the flow (validates it)
	SaveMS     float64 `json:"save_ms"`     // PUT /v1/bots/{id}/flow (validates it)
	ValidateMS float64 `json:"validate_ms"` // POST /v1/bots/{id}/validate
	PublishMS  float64 `json:"publish_ms"`  // POST /v1/bots/{id}/publish
	// FirstStartMS is the first conversation on a new version: load and
	// compile the version, run to the first ask, store the turn.
	FirstStartMS float64 `json:"first_start_ms"`
	// NextStartMS is a second start on the same (now compiled) version.
	NextStartMS float64 `json:"next_start_ms"`
	Problems    int     `json:"problems"`
}

func (f *flowSize) String() string {
	return fmt.Sprintf("flow %6d steps (%8d B): create %8.1f ms  save %8.1f ms  validate %8.1f ms  publish %8.1f ms  first start %7.1f ms  next start %6.1f ms  (%d warnings)",
		f.Steps, f.BodyBytes, f.CreateMS, f.SaveMS, f.ValidateMS, f.PublishMS, f.FirstStartMS, f.NextStartMS, f.Problems)
}

// bigFlow is a valid flow of n steps (n >= 2): a chain of blocks of
// message, set_variable, branch, ask and api_call steps, ending with end.
// Every step is reachable and every branch target exists.
func bigFlow(n int, upstream string) flowDoc {
	id := func(i int) string { return "s" + strconv.Itoa(i) }
	steps := make([]step, 0, n)
	for i := 0; i < n-1; i++ {
		next := id(i + 1)
		var s step
		switch i % 5 {
		case 0:
			s = step{Type: "message", Text: "Step " + strconv.Itoa(i) + ": thanks, {{order}}.", Next: next}
		case 1:
			v := "seen " + strconv.Itoa(i) + " {{order}}"
			s = step{Type: "set_variable", Variable: "v" + strconv.Itoa(i%40), Value: &v, Next: next}
		case 2:
			s = step{Type: "branch", Conditions: []condition{{Variable: "order", Op: "equals", Value: "42", Next: next}}, Else: next}
		case 3:
			s = step{Type: "ask", Text: "What is your order number? (" + strconv.Itoa(i) + ")", Variable: "order", Input: "text", Next: next}
		case 4:
			s = step{Type: "api_call", Method: "GET", URL: upstream + "/orders/{{order}}",
				Variables: []saveVar{{Name: "status", Path: "$.status"}, {Name: "eta", Path: "$.eta"}},
				OnSuccess: next, OnFailure: next}
		}
		s.ID = id(i)
		steps = append(steps, s)
	}
	steps = append(steps, step{ID: id(n - 1), Type: "end", Text: "Bye."})
	return flowDoc{Start: id(0), Steps: steps}
}

func measureFlowSize(ctx context.Context, cl *client, cfg *config, n int) (*flowSize, error) {
	if n < 2 {
		return nil, fmt.Errorf("a flow needs at least 2 steps")
	}
	f := bigFlow(n, cfg.Upstream)
	body, err := json.Marshal(f)
	if err != nil {
		return nil, err
	}
	res := &flowSize{Steps: n, BodyBytes: len(body), Repeats: cfg.FlowRepeats}
	var create, save, validate, publish, first, next []float64
	ms := func(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }
	for r := 0; r < cfg.FlowRepeats; r++ {
		var b botAnswer
		t := time.Now()
		if _, err := cl.admin(ctx, "POST", "/v1/bots", map[string]any{"name": fmt.Sprintf("flow size %d #%d", n, r), "flow": f}, &b, nil); err != nil {
			return nil, err
		}
		create = append(create, ms(t))
		if errs := errorProblems(b.Problems); len(errs) > 0 {
			return nil, fmt.Errorf("generated flow has %d errors, first %+v", len(errs), errs[0])
		}
		res.Problems = len(b.Problems)
		var saved botAnswer
		t = time.Now()
		if _, err := cl.admin(ctx, "PUT", "/v1/bots/"+b.ID+"/flow", f, &saved, map[string]string{"If-Match": strconv.Itoa(b.Revision)}); err != nil {
			return nil, err
		}
		save = append(save, ms(t))
		t = time.Now()
		if _, err := cl.admin(ctx, "POST", "/v1/bots/"+b.ID+"/validate", nil, nil, nil); err != nil {
			return nil, err
		}
		validate = append(validate, ms(t))
		t = time.Now()
		if _, err := cl.admin(ctx, "POST", "/v1/bots/"+b.ID+"/publish", nil, nil, nil); err != nil {
			return nil, err
		}
		publish = append(publish, ms(t))
		t = time.Now()
		if _, err := startConversation(ctx, cl, b.ID); err != nil {
			return nil, err
		}
		first = append(first, ms(t))
		t = time.Now()
		if _, err := startConversation(ctx, cl, b.ID); err != nil {
			return nil, err
		}
		next = append(next, ms(t))
		// remove the bot so repeated runs do not pile up big flows (best effort)
		_, _ = cl.admin(ctx, "DELETE", "/v1/bots/"+b.ID, nil, nil, nil)
	}
	res.CreateMS, res.SaveMS, res.ValidateMS, res.PublishMS = median(create), median(save), median(validate), median(publish)
	res.FirstStartMS, res.NextStartMS = median(first), median(next)
	return res, nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
