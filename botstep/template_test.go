package botstep

import (
	"strings"
	"testing"

	"github.com/flowbot/flowbot/flow"
)

// TestCheckTemplate pins how validation reads templates through
// flow.ScanTemplate, edge cases included.
func TestCheckTemplate(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"hello", nil},
		{"hi {{name}}!", nil},
		{"{{ a }}{{b}}{{user.name}}", nil},
		{"a }} b", nil},
		{"{{" + strings.Repeat("a", 64) + "}}", nil},
		{"{{" + strings.Repeat("a", 65) + "}}", []string{" invalid_template_variable"}},
		{"{{}}", []string{" invalid_template_variable"}},
		{"{{{a}}}", []string{" invalid_template_variable"}},
		{"{{a b}}", []string{" invalid_template_variable"}},
		{"{{user.phone}}", []string{" invalid_template_variable"}},
		{"a {{b", []string{" unclosed_template"}},
		{"{{a}} {{B}} {{b", []string{" invalid_template_variable", " unclosed_template"}},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			var p flow.Problems
			checkTemplate(&p, "", "text", c.in)
			checkProblems(t, p, "", c.want, "")
		})
	}
	var p flow.Problems
	checkTemplate(&p, "", "text", "Hi é{{name")
	if len(p) != 1 || p[0].Message != `text has a "{{" at byte 5 that is never closed with "}}"` {
		t.Fatalf("got %v", p)
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"name": "Ann", "evil": "{{name}}", "user.name": "Bob"}
	lookup := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	cases := []struct{ in, want string }{
		{"Hi {{name}}!", "Hi Ann!"},
		{"Hi {{ name }} and {{user.name}}", "Hi Ann and Bob"},
		{"unset: [{{nope}}]", "unset: []"},
		{"no re-expansion: {{evil}}", "no re-expansion: {{name}}"},
		{"unclosed {{name", "unclosed {{name"},
		{"{{name}} then {{name", "Ann then {{name"},
	}
	for _, c := range cases {
		if got := Expand(c.in, lookup, nil); got != c.want {
			t.Errorf("Expand(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := Expand(`{"a":"{{name}}"}`, func(string) (string, bool) { return `x"y`, true }, func(s string) string {
		return strings.ReplaceAll(s, `"`, `\"`)
	}); got != `{"a":"x\"y"}` {
		t.Errorf("escaped: %s", got)
	}
}

func TestIsVariableName(t *testing.T) {
	for s, want := range map[string]bool{
		"a": true, "order_2": true, strings.Repeat("a", 64): true,
		"": false, strings.Repeat("a", 65): false, "A": false, "a-b": false, "a.b": false, "user.name": false, "é": false,
	} {
		if got := IsVariableName(s); got != want {
			t.Errorf("IsVariableName(%q) = %v", s, got)
		}
	}
	for _, s := range flow.SystemVariables {
		if !IsReadableVariable(s) || IsVariableName(s) {
			t.Errorf("%s: system variable misclassified", s)
		}
	}
	if IsReadableVariable("user.phone") {
		t.Error("user.phone is not a system variable")
	}
}
