package flow_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/flowbot/flowbot/flow"
)

// found renders problems as "severity pointer code" lines, sorted, so a
// test compares whole lists.
func found(p flow.Problems) []string {
	out := make([]string, 0, len(p))
	for _, x := range p {
		out = append(out, fmt.Sprintf("%s %s %s", x.Severity, x.Pointer, x.Code))
	}
	sort.Strings(out)
	return out
}

func TestValidateGraph(t *testing.T) {
	msg := func(id, next string) flow.Step {
		return flow.Step{ID: id, Type: flow.TypeMessage, Text: "hi", Next: next}
	}
	cases := []struct {
		name string
		f    flow.Flow
		want []string
	}{
		{"OK", flow.Flow{Start: "a", Steps: []flow.Step{msg("a", "b"), msg("b", "")}}, nil},
		{"OKCycle", flow.Flow{Start: "a", Steps: []flow.Step{msg("a", "b"), msg("b", "a")}}, nil},
		{"OKEmptyTargetsEndHere", flow.Flow{Start: "a", Steps: []flow.Step{
			{ID: "a", Type: flow.TypeBranch, Conditions: []flow.Condition{{Variable: "x", Op: "exists"}}},
		}}, nil},
		{"OKIDEdges", flow.Flow{Start: "a", Steps: []flow.Step{
			msg("a", "z_-9"), msg("z_-9", strings.Repeat("x", 64)), msg(strings.Repeat("x", 64), ""),
		}}, nil},
		{"ErrMissingStart", flow.Flow{Steps: []flow.Step{msg("a", "")}},
			[]string{"error /start missing_start"}},
		{"ErrMissingStartEmptyFlow", flow.Flow{}, []string{"error /start missing_start"}},
		{"ErrUnknownStart", flow.Flow{Start: "nope", Steps: []flow.Step{msg("a", "")}},
			[]string{"error /start unknown_start"}},
		{"ErrInvalidStepID", flow.Flow{Start: "a", Steps: []flow.Step{
			msg("a", "B"), msg("B", ""), msg("", ""), msg(strings.Repeat("x", 65), ""), msg("a b", ""),
		}}, []string{
			"error /steps/1/id invalid_step_id",
			"error /steps/2/id invalid_step_id",
			"error /steps/3/id invalid_step_id",
			"error /steps/4/id invalid_step_id",
			"warning /steps/3 unreachable_step",
			"warning /steps/4 unreachable_step",
		}},
		{"ErrDuplicateStepID", flow.Flow{Start: "a", Steps: []flow.Step{msg("a", "b"), msg("b", ""), msg("b", "")}},
			[]string{"error /steps/2/id duplicate_step_id"}},
		{"ErrUnknownStepType", flow.Flow{Start: "a", Steps: []flow.Step{
			msg("a", "b"), {ID: "b", Type: "Message"}, {ID: "c", Type: ""},
		}}, []string{
			"error /steps/1/type unknown_step_type",
			"error /steps/2/type unknown_step_type",
			"warning /steps/2 unreachable_step",
		}},
		{"ErrUnknownTarget", flow.Flow{Start: "a", Steps: []flow.Step{
			{ID: "a", Type: flow.TypeOptions, Options: []flow.Option{{ID: "x", Label: "X", Next: "b"}, {ID: "y", Label: "Y", Next: "gone"}}},
			{ID: "b", Type: flow.TypeBranch, Conditions: []flow.Condition{{Variable: "v", Op: "exists", Next: "gone2"}}, Else: "gone3"},
			{ID: "c", Type: flow.TypeAPICall, APICall: flow.APICall{OnSuccess: "a", OnFailure: "gone4"}},
			{ID: "d", Type: flow.TypeOptions, OptionsFrom: &flow.OptionsFrom{Next: "gone5"}},
		}}, []string{
			"error /steps/0/options/1/next unknown_target",
			"error /steps/1/conditions/0/next unknown_target",
			"error /steps/1/else unknown_target",
			"error /steps/2/on_failure unknown_target",
			"error /steps/3/options_from/next unknown_target",
			"warning /steps/2 unreachable_step",
			"warning /steps/3 unreachable_step",
		}},
		{"WarnUnreachable", flow.Flow{Start: "a", Steps: []flow.Step{msg("a", ""), msg("island", "island2"), msg("island2", "island")}},
			[]string{"warning /steps/1 unreachable_step", "warning /steps/2 unreachable_step"}},
		{"NoUnreachableWarningsWithoutStart", flow.Flow{Start: "zz", Steps: []flow.Step{msg("a", ""), msg("b", "")}},
			[]string{"error /start unknown_start"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := flow.ValidateGraph(&c.f)
			if fmt.Sprint(found(got)) != fmt.Sprint(c.want) && !(len(got) == 0 && len(c.want) == 0) {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(found(got), "\n  "), strings.Join(c.want, "\n  "))
			}
			for _, p := range got {
				if p.Message == "" || strings.HasSuffix(p.Message, ".") {
					t.Errorf("%s: message %q: want a sentence without a final period", p.Code, p.Message)
				}
			}
		})
	}
}

func TestValidateGraphMessages(t *testing.T) {
	f := flow.Flow{Start: "a", Steps: []flow.Step{
		{ID: "a", Type: flow.TypeMessage, Text: "x", Next: "gone"},
		{ID: strings.Repeat("x", 65), Type: flow.TypeMessage},
		{ID: "a", Type: "nope"},
	}}
	want := map[string]string{
		"/steps/0/next": `next names step "gone", which does not exist`,
		"/steps/1/id":   "step id is 65 characters; the limit is 64",
		"/steps/2/id":   `step id "a" is already used by step 0; step ids must be unique`,
		"/steps/2/type": `type "nope" is not a step type; use one of message, options, ask, api_call, branch, set_variable, transfer, end`,
	}
	for _, p := range flow.ValidateGraph(&f) {
		if w, ok := want[p.Pointer]; ok && p.Message != w {
			t.Errorf("%s: message %q, want %q", p.Pointer, p.Message, w)
		}
	}
}

func TestValidateGraphTooManySteps(t *testing.T) {
	f := chain(flow.MaxStepsPerFlow + 1)
	p := flow.ValidateGraph(&f)
	if len(p) != 1 || p[0].Code != flow.CodeTooManySteps || p[0].Pointer != "/steps" {
		t.Fatalf("got %v", p)
	}
	f = chain(flow.MaxStepsPerFlow)
	if p := flow.ValidateGraph(&f); len(p) != 0 {
		t.Fatalf("at the limit: got %v", p)
	}
}

// chain is a flow of n message steps, each going to the next: the deepest
// possible walk, which a recursive search could not survive.
func chain(n int) flow.Flow {
	f := flow.Flow{Start: "s0", Steps: make([]flow.Step, n)}
	for i := range f.Steps {
		f.Steps[i] = flow.Step{ID: fmt.Sprintf("s%d", i), Type: flow.TypeMessage, Text: "x"}
		if i+1 < n {
			f.Steps[i].Next = fmt.Sprintf("s%d", i+1)
		}
	}
	return f
}

func TestValidateGraphLinear(t *testing.T) {
	small, big := chain(1000), chain(20000)
	measure := func(f *flow.Flow) time.Duration {
		best := time.Hour
		for range 5 {
			t0 := time.Now()
			flow.ValidateGraph(f)
			best = min(best, time.Since(t0))
		}
		return best
	}
	ts, tb := measure(&small), measure(&big)
	// 20x the steps; quadratic would be 400x. Allow a wide margin for a
	// busy machine.
	if tb > 100*ts+50*time.Millisecond {
		t.Errorf("1000 steps took %v, 20000 took %v: not linear", ts, tb)
	}
}

func TestIsValidID(t *testing.T) {
	for s, want := range map[string]bool{
		"a": true, "a-b_9": true, strings.Repeat("a", 64): true,
		"": false, strings.Repeat("a", 65): false, "A": false, "a.b": false, "é": false, "a b": false,
	} {
		if got := flow.IsValidID(s); got != want {
			t.Errorf("IsValidID(%q) = %v", s, got)
		}
	}
}

func TestQuote(t *testing.T) {
	if got := flow.Quote("ab"); got != `"ab"` {
		t.Errorf("got %s", got)
	}
	long := strings.Repeat("é", 40) // 80 bytes: must not be cut inside a rune
	if got := flow.Quote(long); !strings.HasSuffix(got, "…") || strings.Contains(got, `\x`) {
		t.Errorf("got %s", got)
	}
}
