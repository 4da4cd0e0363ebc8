package botstep

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/flowbot/flowbot/flow"
)

func loadFlow(t *testing.T, name string) *flow.Flow {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f flow.Flow
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &f
}

func problemLines(p flow.Problems) []string {
	var out []string
	for _, x := range p {
		out = append(out, fmt.Sprintf("%s %s %s", x.Severity, x.Pointer, x.Code))
	}
	sort.Strings(out)
	return out
}

func TestValidateSampleFlow(t *testing.T) {
	f := loadFlow(t, "order_status.json")
	if p := Validate(f, testConns); len(p) != 0 {
		t.Fatalf("sample flow has problems:\n  %s", messages(p))
	}
	// Without the connection, only that is wrong.
	got := problemLines(Validate(f, nil))
	want := []string{"error /steps/3/connection unknown_connection", "error /steps/7/connection unknown_connection"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got %v", got)
	}
}

func TestValidateBrokenFlow(t *testing.T) {
	f := loadFlow(t, "broken.json")
	b, err := os.ReadFile("testdata/broken.problems")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Split(strings.TrimSpace(string(b)), "\n")
	sort.Strings(want)
	p := Validate(f, testConns)
	if got := problemLines(p); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got:\n%s\nmessages:\n  %s", strings.Join(got, "\n"), messages(p))
	}
}

func TestValidateAPICallBranchesRequired(t *testing.T) {
	f := flow.Flow{Start: "a", Steps: []flow.Step{apiStep(func(s *flow.Step) {
		s.ID, s.OnSuccess, s.OnFailure, s.Connection = "a", "", "", ""
		s.URL = "https://shop.example.com/api/orders"
	})}}
	got := problemLines(Validate(&f, nil))
	want := []string{"error /steps/0/on_failure missing_field", "error /steps/0/on_success missing_field"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got %v", got)
	}
	f.Steps[0].OnSuccess, f.Steps[0].OnFailure = "a", "a"
	if p := Validate(&f, nil); len(p) != 0 {
		t.Fatalf("got %v", p)
	}
}

func TestValidateEmptyFlow(t *testing.T) {
	got := problemLines(Validate(&flow.Flow{}, nil))
	if strings.Join(got, "\n") != "error /start missing_start" {
		t.Fatalf("got %v", got)
	}
}

func TestValidateStepUnknownType(t *testing.T) {
	if p := ValidateStep(&flow.Step{Type: "chat", Text: "x"}, "", nil); len(p) != 0 {
		t.Fatalf("got %v", p)
	}
}

// A variable that always holds an email address (it has a period) in a URL
// path would fail every call (SPEC §3 rule 4): validation warns at design
// time, pointing at the URL. In a query value it is fine.
func TestValidateEmailInPath(t *testing.T) {
	ask := flow.Step{ID: "q", Type: flow.TypeAsk, Text: "Your email?", Variable: "email", Input: flow.InputEmail, Next: "a"}
	askText := flow.Step{ID: "q", Type: flow.TypeAsk, Text: "Your name?", Variable: "email", Next: "a"}
	for _, tc := range []struct {
		name string
		ask  flow.Step
		url  string
		want []string
	}{
		{"WarnAskedEmailInPath", ask, "https://api.example.com/users/{{email}}/orders", []string{"warning /steps/1/url email_in_path"}},
		{"WarnUserEmailInPath", askText, "https://api.example.com/users/x-{{user.email}}", []string{"warning /steps/1/url email_in_path"}},
		{"WarnSpacedReferenceInPath", ask, "https://api.example.com/users/{{ email }}", []string{"warning /steps/1/url email_in_path"}},
		{"OKAskedEmailInQuery", ask, "https://api.example.com/users?email={{email}}", nil},
		{"OKTextAnswerInPath", askText, "https://api.example.com/users/{{email}}", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := flow.Flow{Start: "q", Steps: []flow.Step{tc.ask, apiStep(func(s *flow.Step) {
				s.ID, s.URL, s.Connection, s.OnSuccess, s.OnFailure = "a", tc.url, "", "q", "q"
			})}}
			p := Validate(&f, nil)
			if got := problemLines(p); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("got %v; want %v", got, tc.want)
			}
			if len(p) > 0 && !strings.Contains(p[0].Message, "query value") {
				t.Errorf("message %q does not say where the value may go", p[0].Message)
			}
		})
	}
}

// A variable read somewhere but set by no step is warned about where it
// is read, once per field, with the nearest set name (at most two edits
// away) suggested: a misspelt {{var}} would otherwise vanish from the
// text at run time. System variables and set names give no warning.
func TestValidateVariableNeverSet(t *testing.T) {
	body := `{"n":"{{order_numbr}}","m":"{{order_numbr}}"}`
	f := flow.Flow{Start: "ask", Steps: []flow.Step{
		{ID: "ask", Type: flow.TypeAsk, Text: "Order, {{user.name}}?", Variable: "order_number", InvalidText: "Again {{zzz}}", Next: "call"},
		apiStep(func(s *flow.Step) {
			s.ID, s.Method, s.Connection, s.OnSuccess, s.OnFailure = "call", "POST", "", "pick", "pick"
			s.URL = "https://shop.example.com/o/{{order_number}}?q={{orders_number}}"
			s.Headers = []flow.Header{{Key: "X-Tag", Value: "{{tag}}"}}
			s.Body = &body
			s.Variables = []flow.ResponseVariable{{Name: "items", Path: "$.items"}, {Name: "order_status", Path: "$.status"}}
		}),
		{ID: "pick", Type: flow.TypeOptions, Text: "Which? {{order_status}}", OptionsFrom: &flow.OptionsFrom{
			Variable: "itemz", LabelPath: "$", ValueVariable: "chosen", Next: "again"}},
		{ID: "again", Type: flow.TypeOptions, Text: "Again?", Options: []flow.Option{
			{ID: "y", Label: "Yes, {{user.name}}", Next: "set"}, {ID: "n", Label: "No, {{ordr}}", Next: "set"}}},
		{ID: "set", Type: flow.TypeSetVariable, Variable: "note", Value: "{{chosen}} {{ordr_status}}", Next: "br"},
		{ID: "br", Type: flow.TypeBranch, Conditions: []flow.Condition{
			{Variable: "note", Op: flow.OpEquals, Value: "{{note}}", Next: "bye"},
			{Variable: "notes_x", Op: flow.OpExists, Next: "bye"},
		}, Else: "away"},
		{ID: "away", Type: flow.TypeTransfer, Text: "Bye", Reason: "{{reason}}"},
		{ID: "bye", Type: flow.TypeEnd, Text: "Bye {{user.email}} {{conversation.id}}"},
	}}
	p := Validate(&f, nil)
	var got []string
	for _, x := range p {
		if x.Code != CodeVariableNeverSet || x.Severity != flow.SeverityWarning {
			t.Fatalf("unexpected problem %+v", x)
		}
		got = append(got, x.Pointer+" "+x.Message[strings.Index(x.Message, "{{"):strings.Index(x.Message, "}}")+2]+" "+suggested(x.Message))
	}
	want := []string{
		"/steps/0/invalid_text {{zzz}} ",
		"/steps/1/url {{orders_number}} order_number",    // one edit
		"/steps/1/headers/0/value {{tag}} ",              // no set name near it
		"/steps/1/body {{order_numbr}} order_number",     // once for two uses
		"/steps/2/options_from/variable {{itemz}} items", // one edit
		"/steps/3/options/1/label {{ordr}} ",             // a short name: one edit at most
		"/steps/4/value {{ordr_status}} order_status",    // one edit
		"/steps/5/conditions/1/variable {{notes_x}} ",    // three edits from note: too far
		"/steps/6/reason {{reason}} ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	byLen := func(names ...string) map[int][]string {
		m := map[int][]string{}
		for _, n := range names {
			m[len(n)] = append(m[len(n)], n)
		}
		return m
	}
	// Two edits away is still suggested.
	if s := nearest("ordr_numbr", byLen("order_number", "order", "ordr_numbr_long_name")); s != "order_number" {
		t.Errorf("nearest at two edits: %q", s)
	}
	// A short name gets one edit at most.
	if s := nearest("abc", byLen("xyc")); s != "" {
		t.Errorf("nearest of a short name at two edits: %q", s)
	}
	// Ties go to the alphabetically first name.
	if s := nearest("ab", byLen("xb", "ax")); s != "ax" {
		t.Errorf("nearest on a tie: %q", s)
	}
}

// TestEditDistanceBanded: the banded, early-stopping edit distance agrees
// with the plain full table on every pair of short strings over a small
// alphabet, at every limit.
func TestEditDistanceBanded(t *testing.T) {
	full := func(a, b string) int {
		prev := make([]int, len(b)+1)
		for j := range prev {
			prev[j] = j
		}
		for i := 1; i <= len(a); i++ {
			cur := make([]int, len(b)+1)
			cur[0] = i
			for j := 1; j <= len(b); j++ {
				c := prev[j-1]
				if a[i-1] != b[j-1] {
					c++
				}
				cur[j] = min(c, prev[j]+1, cur[j-1]+1)
			}
			prev = cur
		}
		return prev[len(b)]
	}
	var words []string
	var gen func(prefix string)
	gen = func(prefix string) {
		words = append(words, prefix)
		if len(prefix) < 4 {
			for _, c := range "ab_" {
				gen(prefix + string(c))
			}
		}
	}
	gen("")
	for _, a := range words {
		for _, b := range words {
			for limit := 1; limit <= 4; limit++ {
				if got, want := editDistance(a, b, limit), min(full(a, b), limit); got != want {
					t.Fatalf("editDistance(%q, %q, %d) = %d; want %d", a, b, limit, got, want)
				}
			}
		}
	}
}

// BenchmarkValidateNeverSetMany: a flow that sets 2,000 variables and
// reads 2,000 others of the same length, none near enough to suggest:
// the worst case for the typo search (it once took 27 s).
func BenchmarkValidateNeverSetMany(b *testing.B) {
	f := flow.Flow{Start: "s0"}
	var text strings.Builder
	for i := range 2000 {
		f.Steps = append(f.Steps, flow.Step{ID: fmt.Sprintf("s%d", i), Type: flow.TypeSetVariable,
			Variable: fmt.Sprintf("set_%06d_xx", i), Value: "v", Next: fmt.Sprintf("s%d", i+1)})
		fmt.Fprintf(&text, "{{read_%06d_yy}} ", i)
	}
	f.Steps = append(f.Steps, flow.Step{ID: "s2000", Type: flow.TypeEnd, Text: text.String()})
	b.ResetTimer()
	for b.Loop() {
		Validate(&f, nil)
	}
}

// suggested returns the name a never-set warning suggests, or "".
func suggested(msg string) string {
	_, after, ok := strings.Cut(msg, "did you mean {{")
	if !ok {
		return ""
	}
	return strings.TrimSuffix(after, "}}?")
}

// A JSON body that sends what a user typed as raw JSON is warned about;
// the same answer as text, a number or a boolean is not, nor raw JSON an
// API call saved.
func TestValidateJSONFromUser(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       []string
	}{
		{"WarnAskedAnswerAsJSON", `{"a": "{{answer:json}}"}`, []string{"warning /steps/1/body json_from_user"}},
		{"OKAskedAnswerAsText", `{"a": "{{answer}}", "n": "{{answer:number}}", "b": "{{answer:boolean}}"}`, nil},
		{"OKSavedJSON", `{"items": "{{items:json}}"}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.body
			f := flow.Flow{Start: "q", Steps: []flow.Step{
				{ID: "q", Type: flow.TypeAsk, Text: "?", Variable: "answer", Next: "a"},
				apiStep(func(s *flow.Step) {
					s.ID, s.Method, s.URL, s.Connection, s.OnSuccess, s.OnFailure = "a", "POST", "https://api.example.com/x", "", "q", "q"
					s.Body = &body
					s.Variables = []flow.ResponseVariable{{Name: "items", Path: "$.items"}}
				})}}
			if got := problemLines(Validate(&f, nil)); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("got %v; want %v", got, tc.want)
			}
		})
	}
}

// Any step may carry a designer's description of up to 1,000 characters.
func TestValidateDescription(t *testing.T) {
	for _, tc := range []struct {
		name string
		desc string
		want []string
	}{
		{"OKEmpty", "", nil},
		{"OK1000", strings.Repeat("é", 1000), nil},
		{"Err1001", strings.Repeat("é", 1001), []string{"error /steps/0/description text_too_long"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := flow.Flow{Start: "m", Steps: []flow.Step{
				{ID: "m", Type: flow.TypeMessage, Text: "Hi", Description: tc.desc, Next: "e"},
				{ID: "e", Type: flow.TypeEnd, Description: "the end"},
			}}
			if got := problemLines(Validate(&f, nil)); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("got %v; want %v", got, tc.want)
			}
		})
	}
}
