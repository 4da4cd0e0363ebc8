package botstep

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/flowbot/flowbot/flow"
)

func TestValidateSuccessWhen(t *testing.T) {
	cond := func(path, op, value string) flow.SuccessCondition {
		return flow.SuccessCondition{Path: path, Op: op, Value: value}
	}
	with := func(cs ...flow.SuccessCondition) flow.Step {
		return apiStep(func(s *flow.Step) { s.SuccessWhen = cs })
	}
	five := make([]flow.SuccessCondition, flow.MaxSuccessConditions)
	for i := range five {
		five[i] = cond("$.ok", "equals", "true")
	}
	runStepCases(t, []stepCase{
		{name: "OKEveryPathKind", step: with(cond("$.ok", "equals", "true"), cond("$status", "equals", "201"),
			cond("$headers.X-Result", "contains", "done"), cond("$body", "not_equals", "error"), cond("$.items[0].id", "exists", ""))},
		{name: "OKTemplateValue", step: with(cond("$.order.number", "equals", "{{order_number}}"))},
		{name: "OKFive", step: with(five...)},
		{name: "ErrSix", step: with(append(five, cond("$.ok", "exists", ""))...), want: []string{"/success_when too_many_conditions"}},
		{name: "ErrPathMissing", step: with(cond("", "exists", "")), want: []string{"/success_when/0/path missing_field"}},
		{name: "ErrPathInvalid", step: with(cond("$.ok", "exists", ""), cond("$..[", "exists", "")), want: []string{"/success_when/1/path invalid_json_path"}},
		{name: "ErrOpMissing", step: with(cond("$.ok", "", "true")), want: []string{"/success_when/0/op missing_field"}},
		{name: "ErrOpUnknown", step: with(cond("$.ok", "is", "true")), want: []string{"/success_when/0/op invalid_operator"}},
		{name: "ErrValueMissing", step: with(cond("$.ok", "equals", "")), want: []string{"/success_when/0/value missing_field"}},
		{name: "ErrValueWithExists", step: with(cond("$.ok", "exists", "yes")), want: []string{"/success_when/0/value field_not_allowed"}},
		{name: "ErrBadVariable", step: with(cond("$.ok", "equals", "{{Bad Name}}")), want: []string{"/success_when/0/value invalid_template_variable"}},
		{name: "WarnNotNumber", step: with(cond("$.count", "greater_than", "many")), want: []string{"/success_when/0/value value_not_number (warning)"}},
		{name: "ErrOnMessageStep", step: flow.Step{ID: "m", Type: flow.TypeMessage, Text: "hi",
			APICall: flow.APICall{SuccessWhen: []flow.SuccessCondition{cond("$.ok", "exists", "")}}},
			want: []string{"/success_when field_not_allowed"}},
	})
}

// TestExecuteSuccessWhen: a 2xx answer that fails a test takes the
// failure branch, says which test and what the answer had, and still
// saves the body's variables; one that passes them all succeeds.
func TestExecuteSuccessWhen(t *testing.T) {
	t.Parallel()
	e := newExEnv(t, exOptions{handlers: map[string]http.HandlerFunc{
		exAPIHost: func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/charge/declined":
				w.Header().Set("X-Result", "declined")
				jsonAnswer(200, `{"ok":false,"error":"card declined","order":{"number":"A-1"}}`)(w, r)
			case "/charge/ok":
				w.Header().Set("X-Result", "charged")
				jsonAnswer(200, `{"ok":true,"order":{"number":"A-1"},"count":3}`)(w, r)
			case "/text":
				w.Write([]byte("fine"))
			case "/down":
				jsonAnswer(503, `{"ok":false}`)(w, r)
			}
		},
	}})
	cond := func(path, op, value string) flow.SuccessCondition {
		return flow.SuccessCondition{Path: path, Op: op, Value: value}
	}
	step := func(path string, cs ...flow.SuccessCondition) *flow.Step {
		return exStep("GET", "https://"+exAPIHost+path, withVars("why", "$.error", "number", "$.order.number"),
			func(s *flow.Step) { s.SuccessWhen = cs })
	}
	vals := map[string]string{"want_number": "A-1"}

	t.Run("OKAllHold", func(t *testing.T) {
		o := e.run(t, step("/charge/ok", cond("$.ok", "equals", "true"), cond("$.order.number", "equals", "{{want_number}}"),
			cond("$status", "equals", "200"), cond("$headers.X-Result", "contains", "CHARGED"), cond("$.count", "greater_than", "2"),
			cond("$.error", "not_exists", "")), vals)
		wantOK(t, o)
		if o.Saved["number"] != "A-1" {
			t.Errorf("saved %v", o.Saved)
		}
	})
	t.Run("ErrOkFalse", func(t *testing.T) {
		o := e.run(t, step("/charge/declined", cond("$.order.number", "equals", "{{want_number}}"), cond("$.ok", "equals", "true")), vals)
		wantFail(t, o, ErrCodeSuccessCondition)
		if want := `success test 2 did not hold: $.ok has "false", not equals "true"`; !strings.Contains(o.ErrorMessage, want) || !strings.Contains(o.ErrorMessage, "answered 200") {
			t.Errorf("message %q; want it to contain %q", o.ErrorMessage, want)
		}
		if o.Saved["why"] != "card declined" || o.Saved["number"] != "A-1" {
			t.Errorf("the failure branch lost the body's variables: %v", o.Saved)
		}
		if l := o.Log(); l.Branch != "failure" || l.Error != ErrCodeSuccessCondition || l.Status != 200 {
			t.Errorf("log %+v", l)
		}
	})
	t.Run("ErrNothingThere", func(t *testing.T) {
		o := e.run(t, step("/charge/ok", cond("$.receipt.id", "exists", "")), nil)
		wantFail(t, o, ErrCodeSuccessCondition)
		if !strings.Contains(o.ErrorMessage, "$.receipt.id has nothing, not exists") {
			t.Errorf("message %q", o.ErrorMessage)
		}
	})
	t.Run("ErrHeaderAndStatus", func(t *testing.T) {
		wantFail(t, e.run(t, step("/charge/declined", cond("$headers.X-Result", "equals", "charged")), nil), ErrCodeSuccessCondition)
		wantFail(t, e.run(t, step("/charge/ok", cond("$status", "equals", "201")), nil), ErrCodeSuccessCondition)
	})
	t.Run("OKTextBody", func(t *testing.T) {
		wantOK(t, e.run(t, step("/text", cond("$.ok", "not_exists", ""), cond("$body", "equals", "fine")), nil))
	})
	t.Run("ErrStatusFirst", func(t *testing.T) {
		// A 5xx stays an http_status failure: the tests apply to 2xx only.
		wantFail(t, e.run(t, step("/down", cond("$.ok", "equals", "true")), nil), ErrCodeHTTPStatus)
	})
	t.Run("OKTestCall", func(t *testing.T) {
		tc := e.x.Test(context.Background(), step("/charge/declined", cond("$.ok", "equals", "true")), nil)
		if tc.Branch != "failure" || tc.Error == nil || tc.Error.Code != ErrCodeSuccessCondition || len(tc.Paths) == 0 || tc.Variables["why"] != "card declined" {
			t.Errorf("test call %+v", tc)
		}
	})
	t.Run("OKPreparedStepsKeptApart", func(t *testing.T) {
		// Same URL and paths, split differently between variables and
		// success_when: each step keeps its own prepared paths.
		a := exStep("GET", "https://"+exAPIHost+"/charge/ok", withVars("x", "$.ok", "y", "$.count"))
		b := exStep("GET", "https://"+exAPIHost+"/charge/ok", withVars("x", "$.ok"), func(s *flow.Step) {
			s.SuccessWhen = []flow.SuccessCondition{cond("$.count", "less_than", "3")}
		})
		wantOK(t, e.run(t, a, nil))
		wantFail(t, e.run(t, b, nil), ErrCodeSuccessCondition)
	})
}

// TestValidateSuccessWhenReadsVariables: a success_when value's variables
// count as read, so a typo there is warned about like anywhere else.
func TestValidateSuccessWhenReadsVariables(t *testing.T) {
	f := &flow.Flow{Start: "ask", Steps: []flow.Step{
		{ID: "ask", Type: flow.TypeAsk, Text: "Order?", Variable: "order_number", Next: "call"},
		{ID: "call", Type: flow.TypeAPICall, APICall: flow.APICall{Method: "GET", URL: "https://api.example.com/o/{{order_number}}",
			OnSuccess: "end", OnFailure: "end",
			SuccessWhen: []flow.SuccessCondition{{Path: "$.number", Op: "equals", Value: "{{order_numbr}}"}}}},
		{ID: "end", Type: flow.TypeEnd},
	}}
	var got []string
	for _, p := range Validate(f, nil) {
		got = append(got, p.Pointer+" "+p.Code)
	}
	if !strings.Contains(strings.Join(got, "|"), "/steps/1/success_when/0/value variable_never_set") {
		t.Fatalf("problems %v", got)
	}
}
