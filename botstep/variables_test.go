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

// TestResponsePathCost: a path is read from an answer of up to 1 MiB after
// the call, so only paths whose cost stays a small multiple of the
// answer's size are accepted: at most 256 characters, one recursive
// descent with at most one wildcard, slice, list or filter after it, one
// list of distinct entries; no filter in an options step's label_path. The limit is checked wherever a path is
// written (a variable, a success test, an options step's label_path).
func TestResponsePathCost(t *testing.T) {
	atLimit := "$." + strings.Repeat("a", 254)
	v := func(p string) flow.Step {
		return apiStep(func(s *flow.Step) { s.Variables = []flow.ResponseVariable{{Name: "a", Path: p}} })
	}
	cases := []stepCase{{name: "OKAtLengthLimit", step: v(atLimit)}}
	for _, p := range []string{
		"$..id", "$..*", "$..*.id", "$..items[0].name", "$..[0:2].id", "$.a..b[1]",
		"$.items[*].tags[*]", "$[*][*][*][*]", "$['a','b']..id", "$[0,-1].id", "$..['a','b']",
		"$.items[?(@.id == 1)].name", "$..[?(@.type == 'home')].email", "$.a[?(@.x)][?(@.y)]..z", "$['[?not a filter']",
	} {
		cases = append(cases, stepCase{name: "OK_" + p, step: v(p)})
	}
	for _, tc := range []struct{ name, path, msg string }{
		{"ErrOverLengthLimit", atLimit + "a", `path "$.aaaaaaaaaaaaaaaaaa…" is 257 characters; the limit is 256`},
		{"ErrTwoDescents", "$..a..b", `path "$..a..b" cannot be used: recursive descent (..) may be used once in a path`},
		{"ErrReviewPath", "$..*..[?(@.z == 1)]", `path "$..*..[?(@.z == 1)]" cannot be used: recursive descent (..) may be used once in a path`},
		{"ErrTwoWildcardsAfterDescent", "$..*[*]", `path "$..*[*]" cannot be used: after recursive descent (..) one wildcard, slice, list or filter may be used`},
		{"ErrSliceAndListAfterDescent", "$..[0:][0,1]", `path "$..[0:][0,1]" cannot be used: after recursive descent (..) one wildcard, slice, list or filter may be used`},
		{"ErrTwoLists", "$[0,1][2,3]", `path "$[0,1][2,3]" cannot be used: a list of names or indexes ([0,2] or ['a','b']) may be used once in a path`},
		{"ErrRepeatedEntry", "$[0,0,0]..id", `path "$[0,0,0]..id" cannot be used: a list of names or indexes may not repeat an entry`},
		{"ErrWildcardAndFilterAfterDescent", "$..*[?(@.z == 1)]", `path "$..*[?(@.z == 1)]" cannot be used: after recursive descent (..) one wildcard, slice, list or filter may be used`},
		{"ErrFilterUnclosed", "$.items[?(@.id == 1)", `path "$.items[?(@.id == 1)" is not a JSONPath: a filter ([?...]) is not closed with ]`},
		{"ErrFilterSyntax", "$.items[?(@.id === 1)].name", `path "$.items[?(@.id === 1)].name" cannot be used: filter "[?(@.id === 1)]": unexpected "= 1)"; a filter compares @ paths with ==, !=, <, <=, > or >=, joined by &&, || and !, with parentheses`},
	} {
		cases = append(cases, stepCase{name: tc.name, step: v(tc.path), want: []string{"/variables/0/path invalid_json_path"}, msg: tc.msg})
	}
	cases = append(cases,
		stepCase{name: "ErrSuccessWhen", step: apiStep(func(s *flow.Step) {
			s.SuccessWhen = []flow.SuccessCondition{{Path: "$..a..b", Op: flow.OpExists}}
		}), want: []string{"/success_when/0/path invalid_json_path"}},
		stepCase{name: "ErrLabelPathFilter", step: flow.Step{ID: "o", Type: flow.TypeOptions, Text: "Pick one",
			OptionsFrom: &flow.OptionsFrom{Variable: "orders", LabelPath: "$.names[?(@.lang == 'en')].text", ValueVariable: "order", Next: "n"}},
			want: []string{"/options_from/label_path invalid_json_path"},
			msg:  `label_path "$.names[?(@.lang == 'en')].text" cannot be used: filters ([?(...)]) are not supported here; pick the element by its index ($[0].name)`},
		stepCase{name: "ErrLabelPath", step: flow.Step{ID: "o", Type: flow.TypeOptions, Text: "Pick one",
			OptionsFrom: &flow.OptionsFrom{Variable: "orders", LabelPath: "$..a..b", ValueVariable: "order", Next: "n"}},
			want: []string{"/options_from/label_path invalid_json_path"}},
	)
	runStepCases(t, cases)
}
