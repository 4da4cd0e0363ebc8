package botstep

import (
	"fmt"
	"strings"
	"testing"

	"github.com/flowbot/flowbot/flow"
)

func TestCheckResponseVariables(t *testing.T) {
	v := func(vs ...flow.ResponseVariable) flow.Step { return apiStep(func(s *flow.Step) { s.Variables = vs }) }
	n := func(k int) flow.Step {
		vs := make([]flow.ResponseVariable, k)
		for i := range vs {
			vs[i] = flow.ResponseVariable{Name: fmt.Sprintf("v%d", i), Path: "$.a"}
		}
		return v(vs...)
	}
	cases := []stepCase{
		{name: "OKEight", step: n(8)},
		{name: "ErrNine", step: n(9), want: []string{"/variables too_many_variables"}, msg: "variables has 9 variables; the limit is 8"},
		{name: "OKNameEdge", step: v(flow.ResponseVariable{Name: strings.Repeat("a", 64), Path: "$"})},
		{name: "ErrNameTooLong", step: v(flow.ResponseVariable{Name: strings.Repeat("a", 65), Path: "$"}), want: []string{"/variables/0/name invalid_variable_name"}},
		{name: "ErrNameInvalid", step: v(flow.ResponseVariable{Name: "orderStatus", Path: "$"}), want: []string{"/variables/0/name invalid_variable_name"}},
		{name: "ErrNameSystem", step: v(flow.ResponseVariable{Name: "user.email", Path: "$"}), want: []string{"/variables/0/name system_variable_readonly"}},
		{name: "ErrNameMissing", step: v(flow.ResponseVariable{Path: "$"}), want: []string{"/variables/0/name missing_field"}},
		{name: "ErrNameDuplicate", step: v(flow.ResponseVariable{Name: "a", Path: "$.x"}, flow.ResponseVariable{Name: "a", Path: "$.y"}),
			want: []string{"/variables/1/name duplicate_variable"}},
		{name: "ErrPathMissing", step: v(flow.ResponseVariable{Name: "a"}), want: []string{"/variables/0/path missing_field"}},
	}
	for _, p := range []string{"$", "$.order.status", "$.items[0].name", "$['a b']", "$..id", "$.items[*].id", "$.a[1:3]", "$status", "$headers.X-Request-Id", "$headers.etag"} {
		cases = append(cases, stepCase{name: "OKPath_" + p, step: v(flow.ResponseVariable{Name: "a", Path: p})})
	}
	for _, p := range []string{"order.status", "@.a", ".a", "$$", "$.a[", "$.a b", "$a", "$status.code", "$headers.", "$headers.a b", "$headers", "$.a."} {
		cases = append(cases, stepCase{name: "ErrPath_" + p, step: v(flow.ResponseVariable{Name: "a", Path: p}),
			want: []string{"/variables/0/path invalid_json_path"}})
	}
	runStepCases(t, cases)
}

func TestParseResponsePath(t *testing.T) {
	p, err := ParseResponsePath("$status")
	if err != nil || !p.Status || p.Header != "" || p.Expr != nil {
		t.Errorf("$status: %+v %v", p, err)
	}
	p, err = ParseResponsePath("$headers.Content-Type")
	if err != nil || p.Status || p.Header != "Content-Type" || p.Expr != nil {
		t.Errorf("$headers: %+v %v", p, err)
	}
	p, err = ParseResponsePath("$.a[0]")
	if err != nil || p.Status || p.Header != "" || p.Expr.String() != "$.a[0]" {
		t.Errorf("$.a[0]: %+v %v", p, err)
	}
}
