package botstep

import (
	"sort"
	"strings"
	"testing"

	"github.com/flowbot/flowbot/flow"
)

// stepCase is one table row for a single step's checks. want lists the
// problems as "pointer code" (pointer relative to the step; " (warning)"
// appended for warnings); empty means no problems at all. msg, when set,
// is a message one of the problems must carry exactly.
type stepCase struct {
	name string
	step flow.Step
	want []string
	msg  string
}

const testPtr = "/steps/7"

var testConns = map[string]ConnectionInfo{
	"shop_api": {AllowedDomain: "shop.example.com"},
	"wide_api": {AllowedDomain: "example.org", AllowSubdomains: true},
}

func runStepCases(t *testing.T, cases []stepCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := ValidateStep(&c.step, testPtr, testConns)
			checkProblems(t, got, testPtr, c.want, c.msg)
		})
	}
}

func checkProblems(t *testing.T, got flow.Problems, prefix string, want []string, msg string) {
	t.Helper()
	var lines []string
	msgFound := false
	for _, p := range got {
		if !strings.HasPrefix(p.Pointer, prefix) {
			t.Errorf("pointer %q lacks prefix %q", p.Pointer, prefix)
		}
		line := strings.TrimPrefix(p.Pointer, prefix) + " " + p.Code
		if p.Severity == flow.SeverityWarning {
			line += " (warning)"
		} else if p.Severity != flow.SeverityError {
			t.Errorf("%s: severity %q", line, p.Severity)
		}
		if p.Message == "" {
			t.Errorf("%s: empty message", line)
		}
		if p.Message == msg {
			msgFound = true
		}
		lines = append(lines, line)
	}
	sort.Strings(lines)
	w := append([]string(nil), want...)
	sort.Strings(w)
	if strings.Join(lines, "\n") != strings.Join(w, "\n") {
		t.Errorf("problems:\n  %s\nwant:\n  %s\nmessages:\n  %s", strings.Join(lines, "\n  "), strings.Join(w, "\n  "), messages(got))
	}
	if msg != "" && !msgFound {
		t.Errorf("no problem has message %q; got:\n  %s", msg, messages(got))
	}
}

func messages(p flow.Problems) string {
	var m []string
	for _, x := range p {
		m = append(m, x.Pointer+": "+x.Message)
	}
	return strings.Join(m, "\n  ")
}

func strp(s string) *string { return &s }
