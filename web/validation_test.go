package web_test

// Every validation rule of SPEC §2 and §3 through the HTTP API: a draft is
// saved with PUT /v1/bots/{id}/flow, and for each rule the bad value must
// come back as a problem with the exact pointer and code (and a message
// naming the field or limit), the edge value must pass, publishing must be
// refused while an error remains and allowed once none does, and what was
// saved must read back unchanged. The same rules are tested as pure
// functions in botstep and flow; this file proves the API wires them in.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/flowbot/flowbot/flow"
)

type jobj = map[string]any

// ruleCase is one row: a whole flow document and what validating it must
// report. code "" means the flow is valid: no error-severity problem
// anywhere (and none of any severity at pointer), publish answers 201.
// Otherwise exactly one problem has pointer and code (plus any listed in
// also, as "pointer code"), its message holds every msg substring, its
// severity is warning when warn is set (publish then still answers 201)
// and error otherwise (publish answers 422 naming the pointer).
type ruleCase struct {
	name    string
	flow    jobj
	pointer string
	code    string
	warn    bool
	msg     []string
	also    []string
}

// ---- flow builders --------------------------------------------------------

// vWith returns a copy of base with the key/value pairs set; a nil value
// removes the key.
func vWith(base jobj, kv ...any) jobj {
	c := make(jobj, len(base)+len(kv)/2)
	for k, v := range base {
		c[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(c, k)
		} else {
			c[k] = kv[i+1]
		}
	}
	return c
}

// vEndStep is the step every subject step goes to.
func vEndStep() jobj { return jobj{"id": "done", "type": "end", "text": "Bye."} }

// vFlowOf is a flow starting at the first step.
func vFlowOf(steps ...jobj) jobj {
	list := make([]any, len(steps))
	for i, s := range steps {
		list[i] = s
	}
	return jobj{"start": steps[0]["id"], "steps": list}
}

// vOne is a flow of the subject step s (index 0, the start) and vEndStep
// (index 1).
func vOne(s jobj) jobj { return vFlowOf(s, vEndStep()) }

var (
	msgStep  = jobj{"id": "s", "type": "message", "text": "Hello {{user.name}}", "next": "done"}
	askStep  = jobj{"id": "s", "type": "ask", "text": "Your order number?", "variable": "order_number", "input": "text", "invalid_text": "Try again", "next": "done"}
	setStep  = jobj{"id": "s", "type": "set_variable", "variable": "greeting", "value": "Hi {{user.name}}", "next": "done"}
	apiStep  = jobj{"id": "s", "type": "api_call", "method": "GET", "url": "https://api.example.com/orders/{{order_number}}", "on_success": "done", "on_failure": "done"}
	xferStep = jobj{"id": "s", "type": "transfer", "text": "One moment.", "reason": "asked for a human"}
	optsStep = func(n int) jobj {
		return jobj{"id": "s", "type": "options", "text": "Pick one", "options": vOptions(n)}
	}
	condition = func(variable, op, value string) jobj {
		c := jobj{"variable": variable, "op": op, "next": "done"}
		if value != "" {
			c["value"] = value
		}
		return c
	}
	branchStep = func(conds ...jobj) jobj {
		list := make([]any, len(conds))
		for i, c := range conds {
			list[i] = c
		}
		return jobj{"id": "s", "type": "branch", "conditions": list, "else": "done"}
	}
)

func vOptsFrom() jobj {
	return jobj{"variable": "items", "label_path": "$.name", "value_variable": "chosen", "next": "done"}
}

func vOptions(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = jobj{"id": fmt.Sprintf("o%d", i), "label": fmt.Sprintf("Option %d", i), "next": "done"}
	}
	return out
}

func vHeaders(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = jobj{"key": fmt.Sprintf("X-H%d", i), "value": "v"}
	}
	return out
}

func vHeader(k, v string) []any { return []any{jobj{"key": k, "value": v}} }

func vRespVars(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = jobj{"name": fmt.Sprintf("v%d", i), "path": fmt.Sprintf("$.items[%d].name", i)}
	}
	return out
}

func vRespVar(name, path string) []any { return []any{jobj{"name": name, "path": path}} }

func vAPI(kv ...any) jobj { return vOne(vWith(apiStep, kv...)) }

func vRep(s string, n int) string { return strings.Repeat(s, n) }

// ---- the runner -----------------------------------------------------------

// ruleBot is one bot whose draft the cases of a top-level test overwrite
// in turn, tracking the revision.
type ruleBot struct {
	e   *env
	tok string
	id  string
	rev int64
	// last is the stored draft after the last save (readDraft).
	last string
}

func newRuleBot(t *testing.T) *ruleBot {
	e := newEnv(t)
	b := &ruleBot{e: e, tok: e.designerToken()}
	r := e.do("POST", "/v1/bots", b.tok, jobj{"name": "Validation", "description": "rules"})
	if r.Code != 201 {
		t.Fatalf("create bot: %d %s", r.Code, r.Body)
	}
	m := r.m(t)
	b.id, b.rev = m["id"].(string), int64(m["revision"].(float64))
	return b
}

type ruleProblem struct {
	Pointer, Code, Message, Severity string
}

func (p ruleProblem) String() string {
	return p.Severity + " " + p.Pointer + " " + p.Code + ": " + p.Message
}

// save PUTs doc as the draft with the current revision and returns the
// problems it reported.
func (b *ruleBot) save(t *testing.T, doc any) []ruleProblem {
	t.Helper()
	e := b.e.with(t)
	r := e.do("PUT", "/v1/bots/"+b.id+"/flow", b.tok, doc, "If-Match", strconv.FormatInt(b.rev, 10))
	if r.Code != 200 {
		t.Fatalf("save draft (If-Match %d): %d %s", b.rev, r.Code, truncate(r.Body))
	}
	var out struct {
		Revision int64         `json:"revision"`
		Problems []ruleProblem `json:"problems"`
	}
	r.json(t, &out)
	stored, _ := b.readDraft(t)
	// A draft equal to the stored one makes no new revision.
	if out.Revision != b.rev+1 && !(out.Revision == b.rev && stored == b.last) {
		t.Fatalf("save draft: revision %d after %d", out.Revision, b.rev)
	}
	b.last = stored
	if got := r.Header.Get("ETag"); got != strconv.Quote(strconv.FormatInt(out.Revision, 10)) {
		t.Errorf("save draft: ETag %s for revision %d", got, out.Revision)
	}
	b.rev = out.Revision
	return out.Problems
}

// draft reads the bot back: its flow as canonical JSON (decoded into
// flow.Flow and re-encoded, so an omitted empty field and a sent empty one
// compare equal) and its revision.
func (b *ruleBot) draft(t *testing.T) (string, int64) {
	t.Helper()
	return b.readDraft(t)
}

// readDraft reads the stored draft through the API; the response is
// checked against openapi.yaml like every other.
func (b *ruleBot) readDraft(t *testing.T) (string, int64) {
	t.Helper()
	r := b.e.with(t).do("GET", "/v1/bots/"+b.id, b.tok, nil)
	if r.Code != 200 {
		t.Fatalf("get bot: %d %s", r.Code, truncate(r.Body))
	}
	var got struct {
		Flow     json.RawMessage `json:"flow"`
		Revision int64           `json:"revision"`
	}
	r.json(t, &got)
	return canonFlow(t, got.Flow), got.Revision
}

// canonFlow decodes a flow document strictly (an unknown field fails the
// test) and re-encodes it.
func canonFlow(t *testing.T, doc any) string {
	t.Helper()
	raw, ok := doc.(json.RawMessage)
	if !ok {
		var err error
		if s, isStr := doc.(string); isStr {
			raw = json.RawMessage(s)
		} else if raw, err = json.Marshal(doc); err != nil {
			t.Fatal(err)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var f flow.Flow
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("flow document: %v", err)
	}
	out, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func (b *ruleBot) validate(t *testing.T) []ruleProblem {
	t.Helper()
	r := b.e.with(t).do("POST", "/v1/bots/"+b.id+"/validate", b.tok, nil)
	if r.Code != 200 {
		t.Fatalf("validate: %d %s", r.Code, truncate(r.Body))
	}
	var out struct {
		Revision int64         `json:"revision"`
		Problems []ruleProblem `json:"problems"`
	}
	r.json(t, &out)
	if out.Revision != b.rev {
		t.Errorf("validate: revision %d, draft is at %d", out.Revision, b.rev)
	}
	return out.Problems
}

// publish answers the status and, for a 422, the error's details.
func (b *ruleBot) publish(t *testing.T) (int, []ruleProblem) {
	t.Helper()
	r := b.e.with(t).do("POST", "/v1/bots/"+b.id+"/publish", b.tok, nil)
	var out struct {
		Error struct {
			Code    string        `json:"code"`
			Details []ruleProblem `json:"details"`
		} `json:"error"`
		Revision int64 `json:"revision"`
	}
	r.json(t, &out)
	switch r.Code {
	case 201:
		if out.Revision != b.rev {
			t.Errorf("published revision %d, draft is at %d", out.Revision, b.rev)
		}
	case 422:
		if out.Error.Code != "rule_violation" {
			t.Errorf("publish 422 with error code %q", out.Error.Code)
		}
	}
	return r.Code, out.Error.Details
}

// problemKeys lists the problems as "pointer code", sorted, leaving out
// variable_never_set: the small flows of these tests read variables that
// no step sets, and that warning has tests of its own
// (TestValidation_VariableNeverSet).
func problemKeys(ps []ruleProblem) []string {
	var out []string
	for _, p := range ps {
		if p.Code == "variable_never_set" {
			continue
		}
		out = append(out, p.Pointer+" "+p.Code)
	}
	sort.Strings(out)
	return out
}

func listProblems(ps []ruleProblem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("\n  " + p.String())
	}
	if b.Len() == 0 {
		return " (none)"
	}
	return b.String()
}

// run checks one case end to end.
func (b *ruleBot) run(t *testing.T, c ruleCase) {
	problems := b.save(t, c.flow)

	// Saving an invalid draft is allowed, and nothing saved is lost.
	want := canonFlow(t, c.flow)
	got, rev := b.readDraft(t)
	if got != want {
		t.Errorf("draft did not round-trip:\n sent %s\n read %s", truncate([]byte(want)), truncate([]byte(got)))
	}
	if rev != b.rev {
		t.Errorf("GET revision %d, saved %d", rev, b.rev)
	}
	// The stored draft validates as the save reported.
	if v := b.validate(t); strings.Join(problemKeys(v), ",") != strings.Join(problemKeys(problems), ",") {
		t.Errorf("validate disagrees with save:\n save:%s\n validate:%s", listProblems(problems), listProblems(v))
	}
	for _, p := range problems {
		if p.Message == "" {
			t.Errorf("problem without a message: %s", p)
		}
		if p.Severity != "error" && p.Severity != "warning" {
			t.Errorf("severity %q: %s", p.Severity, p)
		}
	}

	if c.code == "" {
		for _, p := range problems {
			if p.Severity == "error" || p.Pointer == c.pointer && p.Code != "variable_never_set" {
				t.Errorf("edge value refused: %s", p)
			}
		}
		if code, details := b.publish(t); code != 201 {
			t.Errorf("publish a valid draft: %d%s", code, listProblems(details))
		}
		return
	}

	var hit *ruleProblem
	for i, p := range problems {
		if p.Pointer == c.pointer && p.Code == c.code {
			hit = &problems[i]
		}
	}
	if hit == nil {
		t.Fatalf("want %s %s, got:%s", c.pointer, c.code, listProblems(problems))
	}
	wantSev := "error"
	if c.warn {
		wantSev = "warning"
	}
	if hit.Severity != wantSev {
		t.Errorf("severity %s, want %s", hit.Severity, wantSev)
	}
	for _, s := range c.msg {
		if !strings.Contains(hit.Message, s) {
			t.Errorf("message %q does not mention %q", hit.Message, s)
		}
	}
	// Exactly the expected problems: a rule reports once, and the
	// neighbouring values of the flow stay valid.
	wantKeys := append([]string{c.pointer + " " + c.code}, c.also...)
	sort.Strings(wantKeys)
	if gotKeys := problemKeys(problems); strings.Join(gotKeys, ",") != strings.Join(wantKeys, ",") {
		t.Errorf("problems %v, want %v:%s", gotKeys, wantKeys, listProblems(problems))
	}

	code, details := b.publish(t)
	if c.warn {
		if code != 201 {
			t.Errorf("publish with only a warning: %d%s", code, listProblems(details))
		}
		return
	}
	if code != 422 {
		t.Fatalf("publish with an error: %d, want 422", code)
	}
	found := false
	for _, d := range details {
		found = found || d.Pointer == c.pointer && d.Code == c.code
	}
	if !found {
		t.Errorf("publish 422 does not name %s %s:%s", c.pointer, c.code, listProblems(details))
	}
}

func runRules(t *testing.T, b *ruleBot, cases []ruleCase) {
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.name] {
			t.Fatalf("duplicate case name %s", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) { b.run(t, c) })
	}
}

// ---- graph rules (flow.ValidateGraph) -------------------------------------

func TestValidation_Graph(t *testing.T) {
	id64, id65 := vRep("a", 64), vRep("a", 65)
	cases := []ruleCase{
		{name: "OKStepID64", pointer: "/steps/0/id", flow: vOne(vWith(msgStep, "id", id64))},
		{name: "OKStepIDCharset", pointer: "/steps/0/id", flow: vOne(vWith(msgStep, "id", "a_b-9"))},
		{name: "ErrStepIDTooLong65", flow: vOne(vWith(msgStep, "id", id65)),
			pointer: "/steps/0/id", code: flow.CodeInvalidStepID, msg: []string{"step id", "65", "64"}},
		{name: "ErrStepIDUppercase", flow: vOne(vWith(msgStep, "id", "Ask")),
			pointer: "/steps/0/id", code: flow.CodeInvalidStepID, msg: []string{"step id", `"Ask"`}},
		{name: "ErrStepIDSpace", flow: vOne(vWith(msgStep, "id", "a b")),
			pointer: "/steps/0/id", code: flow.CodeInvalidStepID, msg: []string{"step id"}},
		{name: "ErrStepIDEmpty", flow: jobj{"start": "done", "steps": []any{vEndStep(), jobj{"id": "", "type": "end"}}},
			pointer: "/steps/1/id", code: flow.CodeInvalidStepID, msg: []string{"step id", "empty"}},
		{name: "ErrDuplicateStepID", flow: vFlowOf(msgStep, vWith(vEndStep(), "id", "s"), vEndStep()),
			pointer: "/steps/1/id", code: flow.CodeDuplicateStepID, msg: []string{`"s"`, "step 0", "unique"}},
		{name: "ErrStartMissing", flow: vWith(vOne(msgStep), "start", ""),
			pointer: "/start", code: flow.CodeMissingStart, msg: []string{"start"}},
		{name: "ErrStartUnknown", flow: vWith(vOne(msgStep), "start", "nowhere"),
			pointer: "/start", code: flow.CodeUnknownStart, msg: []string{"start", `"nowhere"`}},
		{name: "ErrNextUnknown", flow: vOne(vWith(msgStep, "next", "nowhere")),
			pointer: "/steps/0/next", code: flow.CodeUnknownTarget, msg: []string{"next", `"nowhere"`},
			also: []string{"/steps/1 " + flow.CodeUnreachableStep}},
		{name: "OKNextEmptyEndsFlow", pointer: "/steps/0/next", flow: vFlowOf(vWith(msgStep, "next", nil))},
		{name: "ErrOptionNextUnknown", flow: vOne(vWith(optsStep(2), "options", []any{vOptions(1)[0], jobj{"id": "b", "label": "B", "next": "nowhere"}})),
			pointer: "/steps/0/options/1/next", code: flow.CodeUnknownTarget, msg: []string{"options/1/next", `"nowhere"`}},
		{name: "ErrConditionNextUnknown", flow: vOne(branchStep(condition("x", "exists", ""), vWith(condition("y", "exists", ""), "next", "nowhere"))),
			pointer: "/steps/0/conditions/1/next", code: flow.CodeUnknownTarget, msg: []string{"conditions/1/next", `"nowhere"`}},
		{name: "ErrElseUnknown", flow: vOne(vWith(branchStep(condition("x", "exists", "")), "else", "nowhere")),
			pointer: "/steps/0/else", code: flow.CodeUnknownTarget, msg: []string{"else", `"nowhere"`}},
		{name: "ErrOnSuccessUnknown", flow: vAPI("on_success", "nowhere"),
			pointer: "/steps/0/on_success", code: flow.CodeUnknownTarget, msg: []string{"on_success", `"nowhere"`}},
		{name: "ErrOnFailureUnknown", flow: vAPI("on_failure", "nowhere"),
			pointer: "/steps/0/on_failure", code: flow.CodeUnknownTarget, msg: []string{"on_failure", `"nowhere"`}},
		{name: "OKCycleAllowed", flow: vFlowOf(msgStep, jobj{"id": "done", "type": "ask", "variable": "x", "next": "s"})},
		{name: "WarnUnreachableStep", flow: vFlowOf(msgStep, vEndStep(), jobj{"id": "orphan", "type": "end"}),
			pointer: "/steps/2", code: flow.CodeUnreachableStep, warn: true, msg: []string{`"orphan"`, "reached"}},
		{name: "ErrUnknownStepType", flow: vOne(jobj{"id": "s", "type": "chat"}),
			pointer: "/steps/0/type", code: flow.CodeUnknownStepType, msg: []string{`"chat"`, "message", "api_call"},
			also: []string{"/steps/1 " + flow.CodeUnreachableStep}},
		{name: "ErrStepTypeEmpty", flow: vOne(jobj{"id": "s", "type": ""}),
			pointer: "/steps/0/type", code: flow.CodeUnknownStepType, msg: []string{"type is empty"},
			also: []string{"/steps/1 " + flow.CodeUnreachableStep}},
	}
	for _, typ := range flow.StepTypes {
		s := map[string]jobj{
			"message": msgStep, "options": optsStep(1), "ask": askStep, "api_call": apiStep,
			"branch": branchStep(condition("x", "exists", "")), "set_variable": setStep,
			"transfer": xferStep, "end": {"id": "s", "type": "end"},
		}[typ]
		cases = append(cases, ruleCase{name: "OKStepType_" + typ, pointer: "/steps/0/type", flow: vOne(s)})
	}
	// transfer and end have no next: "done" is unreachable there, which is
	// only a warning; drop it so those cases are clean.
	for i := range cases {
		if n := cases[i].name; n == "OKStepType_transfer" || n == "OKStepType_end" {
			cases[i].flow = vFlowOf(cases[i].flow["steps"].([]any)[0].(jobj))
		}
	}
	runRules(t, newRuleBot(t), cases)
}

// ---- per-step rules ---------------------------------------------------------

func TestValidation_Steps(t *testing.T) {
	v64, v65 := vRep("v", 64), vRep("v", 65)
	cases := []ruleCase{
		// text (message, options, ask, transfer, end): at most 4096 characters.
		{name: "OKText4096", pointer: "/steps/0/text", flow: vOne(vWith(msgStep, "text", vRep("a", 4096)))},
		{name: "OKText4096Runes", pointer: "/steps/0/text", flow: vOne(vWith(msgStep, "text", vRep("é", 4096)))},
		{name: "ErrTextTooLong4097", flow: vOne(vWith(msgStep, "text", vRep("a", 4097))),
			pointer: "/steps/0/text", code: "text_too_long", msg: []string{"text", "4097", "4096"}},
		{name: "ErrTextTooLong4097Runes", flow: vOne(vWith(msgStep, "text", vRep("é", 4097))),
			pointer: "/steps/0/text", code: "text_too_long", msg: []string{"4097", "4096"}},
		{name: "ErrAskTextTooLong", flow: vOne(vWith(askStep, "text", vRep("a", 4097))),
			pointer: "/steps/0/text", code: "text_too_long", msg: []string{"4096"}},
		{name: "ErrAskInvalidTextTooLong", flow: vOne(vWith(askStep, "invalid_text", vRep("a", 4097))),
			pointer: "/steps/0/invalid_text", code: "text_too_long", msg: []string{"invalid_text", "4096"}},
		{name: "ErrTransferTextTooLong", flow: vFlowOf(vWith(xferStep, "text", vRep("a", 4097))),
			pointer: "/steps/0/text", code: "text_too_long", msg: []string{"4096"}},
		{name: "ErrEndTextTooLong", flow: vFlowOf(jobj{"id": "s", "type": "end", "text": vRep("a", 4097)}),
			pointer: "/steps/0/text", code: "text_too_long", msg: []string{"4096"}},
		{name: "ErrMessageTextMissing", flow: vOne(vWith(msgStep, "text", nil)),
			pointer: "/steps/0/text", code: "missing_field", msg: []string{"text"}},

		// templates.
		{name: "ErrUnclosedTemplate", flow: vOne(vWith(msgStep, "text", "Hello {{name")),
			pointer: "/steps/0/text", code: "unclosed_template", msg: []string{"text", "{{", "}}"}},
		{name: "ErrInvalidTemplateVariableUppercase", flow: vOne(vWith(msgStep, "text", "Hello {{Name}}")),
			pointer: "/steps/0/text", code: "invalid_template_variable", msg: []string{"text", "{{Name}}"}},
		{name: "ErrInvalidTemplateVariable65", flow: vOne(vWith(msgStep, "text", "{{"+v65+"}}")),
			pointer: "/steps/0/text", code: "invalid_template_variable", msg: []string{"text"}},
		{name: "ErrInvalidTemplateVariableUnknownSystem", flow: vOne(vWith(msgStep, "text", "{{user.password}}")),
			pointer: "/steps/0/text", code: "invalid_template_variable", msg: []string{"user.password"}},
		{name: "OKTemplateVariable64", pointer: "/steps/0/text", flow: vOne(vWith(msgStep, "text", "{{"+v64+"}}"))},
		{name: "OKTemplateSystemVariables", pointer: "/steps/0/text", flow: vOne(vWith(msgStep, "text",
			"{{user.external_id}} {{user.name}} {{user.email}} {{user.authenticated}} {{user.locale}} {{conversation.id}}"))},
		{name: "ErrOptionLabelInvalidTemplate", flow: vOne(vWith(optsStep(1), "options", []any{jobj{"id": "a", "label": "{{A}}", "next": "done"}})),
			pointer: "/steps/0/options/0/label", code: "invalid_template_variable", msg: []string{"label"}},
		{name: "ErrSetVariableValueUnclosed", flow: vOne(vWith(setStep, "value", "{{x")),
			pointer: "/steps/0/value", code: "unclosed_template", msg: []string{"value"}},

		// field_not_allowed: a field of another type.
		{name: "ErrURLOnMessage", flow: vOne(vWith(msgStep, "url", "https://example.com/")),
			pointer: "/steps/0/url", code: "field_not_allowed", msg: []string{"url", "message"}},
		{name: "ErrOnSuccessOnMessage", flow: vOne(vWith(msgStep, "on_success", "done")),
			pointer: "/steps/0/on_success", code: "field_not_allowed", msg: []string{"on_success", "message"}},
		{name: "ErrNextOnOptions", flow: vOne(vWith(optsStep(1), "next", "done")),
			pointer: "/steps/0/next", code: "field_not_allowed", msg: []string{"next", "options"}},
		{name: "ErrTextOnBranch", flow: vOne(vWith(branchStep(condition("x", "exists", "")), "text", "hi")),
			pointer: "/steps/0/text", code: "field_not_allowed", msg: []string{"text", "branch"}},
		{name: "ErrVariableOnEnd", flow: vFlowOf(jobj{"id": "s", "type": "end", "variable": "x"}),
			pointer: "/steps/0/variable", code: "field_not_allowed", msg: []string{"variable", "end"}},
		{name: "ErrTextOnAPICall", flow: vAPI("text", "hi"),
			pointer: "/steps/0/text", code: "field_not_allowed", msg: []string{"text", "api_call"}},
		{name: "OKNameAndPositionOnAnyStep", flow: vOne(vWith(msgStep, "name", "Greet", "position", jobj{"x": 1.5, "y": -2}))},

		// options: 1 to 10, ids like step ids, unique.
		{name: "ErrOptions0", flow: vOne(vWith(optsStep(0), "options", nil)),
			pointer: "/steps/0/options", code: "too_few_options", msg: []string{"options", "1 to 10"},
			also: []string{"/steps/1 " + flow.CodeUnreachableStep}},
		{name: "ErrOptionsEmptyArray", flow: vOne(optsStep(0)),
			pointer: "/steps/0/options", code: "too_few_options", msg: []string{"options"},
			also: []string{"/steps/1 " + flow.CodeUnreachableStep}},
		{name: "OKOptions1", pointer: "/steps/0/options", flow: vOne(optsStep(1))},
		{name: "OKOptions10", pointer: "/steps/0/options", flow: vOne(optsStep(10))},
		{name: "ErrOptions11", flow: vOne(optsStep(11)),
			pointer: "/steps/0/options", code: "too_many_options", msg: []string{"options", "11", "10"}},
		{name: "OKOptionID64", pointer: "/steps/0/options/0/id", flow: vOne(vWith(optsStep(1), "options", []any{jobj{"id": vRep("o", 64), "label": "A", "next": "done"}}))},
		{name: "ErrOptionID65", flow: vOne(vWith(optsStep(1), "options", []any{jobj{"id": vRep("o", 65), "label": "A", "next": "done"}})),
			pointer: "/steps/0/options/0/id", code: "invalid_option_id", msg: []string{"option id", "65", "64"}},
		{name: "ErrOptionIDUppercase", flow: vOne(vWith(optsStep(1), "options", []any{jobj{"id": "Yes", "label": "A", "next": "done"}})),
			pointer: "/steps/0/options/0/id", code: "invalid_option_id", msg: []string{"option id", `"Yes"`}},
		{name: "ErrOptionIDEmpty", flow: vOne(vWith(optsStep(1), "options", []any{jobj{"id": "", "label": "A", "next": "done"}})),
			pointer: "/steps/0/options/0/id", code: "invalid_option_id", msg: []string{"option id"}},
		{name: "ErrOptionIDDuplicate", flow: vOne(vWith(optsStep(2), "options", []any{jobj{"id": "a", "label": "A", "next": "done"}, jobj{"id": "a", "label": "B", "next": "done"}})),
			pointer: "/steps/0/options/1/id", code: "duplicate_option_id", msg: []string{`"a"`, "option 0"}},
		{name: "ErrOptionLabelMissing", flow: vOne(vWith(optsStep(1), "options", []any{jobj{"id": "a", "next": "done"}})),
			pointer: "/steps/0/options/0/label", code: "missing_field", msg: []string{"label"}},

		// options_from: replies built at run time from a JSON array.
		{name: "OKOptionsFrom", pointer: "/steps/0/options_from", flow: vOne(vWith(optsStep(0), "options", nil, "options_from", vOptsFrom()))},
		{name: "ErrOptionsAndOptionsFrom", flow: vOne(vWith(optsStep(1), "options_from", vOptsFrom())),
			pointer: "/steps/0/options", code: "options_conflict", msg: []string{"options_from"}},
		{name: "ErrOptionsFromLabelPathInvalid", flow: vOne(vWith(optsStep(0), "options", nil, "options_from", vWith(vOptsFrom(), "label_path", "name"))),
			pointer: "/steps/0/options_from/label_path", code: "invalid_json_path", msg: []string{"label_path"}},
		{name: "ErrOptionsFromWritesSystemVariable", flow: vOne(vWith(optsStep(0), "options", nil, "options_from", vWith(vOptsFrom(), "value_variable", "user.locale"))),
			pointer: "/steps/0/options_from/value_variable", code: "system_variable_readonly", msg: []string{"user.locale"}},
		{name: "ErrOptionsFromNextUnknown", flow: vOne(vWith(optsStep(0), "options", nil, "options_from", vWith(vOptsFrom(), "next", "nowhere"))),
			pointer: "/steps/0/options_from/next", code: flow.CodeUnknownTarget, msg: []string{`"nowhere"`},
			also: []string{"/steps/1 " + flow.CodeUnreachableStep}},

		// ask: variable and input.
		{name: "ErrAskInputUnknown", flow: vOne(vWith(askStep, "input", "date")),
			pointer: "/steps/0/input", code: "invalid_input", msg: []string{"input", `"date"`, "email"}},
		{name: "ErrAskInputUppercase", flow: vOne(vWith(askStep, "input", "Email")),
			pointer: "/steps/0/input", code: "invalid_input", msg: []string{`"Email"`}},
		{name: "OKAskInputDefault", pointer: "/steps/0/input", flow: vOne(vWith(askStep, "input", nil))},
		{name: "ErrAskVariableMissing", flow: vOne(vWith(askStep, "variable", nil)),
			pointer: "/steps/0/variable", code: "missing_field", msg: []string{"variable"}},
		{name: "ErrAskSystemVariable", flow: vOne(vWith(askStep, "variable", "user.email")),
			pointer: "/steps/0/variable", code: "system_variable_readonly", msg: []string{"user.email", "read-only"}},

		// set_variable.
		{name: "ErrSetSystemVariable", flow: vOne(vWith(setStep, "variable", "conversation.id")),
			pointer: "/steps/0/variable", code: "system_variable_readonly", msg: []string{"conversation.id", "read-only"}},
		{name: "OKSetVariableEmptyValue", pointer: "/steps/0/value", flow: vOne(vWith(setStep, "value", nil))},

		// branch.
		{name: "OKBranchReadsSystemVariable", pointer: "/steps/0/conditions/0/variable",
			flow: vOne(branchStep(condition("user.authenticated", "equals", "true")))},
		{name: "ErrBranchOpUnknown", flow: vOne(branchStep(condition("x", "eq", "1"))),
			pointer: "/steps/0/conditions/0/op", code: "invalid_operator", msg: []string{"op", `"eq"`, "equals"}},
		{name: "ErrBranchOpUppercase", flow: vOne(branchStep(condition("x", "EQUALS", "1"))),
			pointer: "/steps/0/conditions/0/op", code: "invalid_operator", msg: []string{`"EQUALS"`}},
		{name: "ErrBranchOpMissing", flow: vOne(branchStep(condition("x", "", "1"))),
			pointer: "/steps/0/conditions/0/op", code: "missing_field", msg: []string{"op"}},
		{name: "ErrBranchValueMissing", flow: vOne(branchStep(condition("x", "equals", ""))),
			pointer: "/steps/0/conditions/0/value", code: "missing_field", msg: []string{"value", "equals"}},
		{name: "ErrBranchValueWithExists", flow: vOne(branchStep(condition("x", "exists", "1"))),
			pointer: "/steps/0/conditions/0/value", code: "field_not_allowed", msg: []string{"value", "exists"}},
		{name: "WarnBranchValueNotNumber", flow: vOne(branchStep(condition("x", "greater_than", "ten"))),
			pointer: "/steps/0/conditions/0/value", code: "value_not_number", warn: true, msg: []string{`"ten"`, "number"}},
		{name: "ErrBranchValueInvalidTemplate", flow: vOne(branchStep(condition("x", "equals", "{{Y}}"))),
			pointer: "/steps/0/conditions/0/value", code: "invalid_template_variable", msg: []string{"value"}},
		{name: "ErrBranchVariableMissing", flow: vOne(branchStep(condition("", "exists", ""))),
			pointer: "/steps/0/conditions/0/variable", code: "missing_field", msg: []string{"variable"}},
	}
	conds := func(n int) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = condition(fmt.Sprintf("v%d", i), "exists", "")
		}
		return out
	}
	cases = append(cases,
		ruleCase{name: "OKConditions20", pointer: "/steps/0/conditions", flow: vOne(vWith(branchStep(), "conditions", conds(20)))},
		ruleCase{name: "ErrConditions21", flow: vOne(vWith(branchStep(), "conditions", conds(21))),
			pointer: "/steps/0/conditions", code: "too_many_conditions", msg: []string{"21", "20"}},
	)
	for _, in := range flow.InputTypes {
		cases = append(cases, ruleCase{name: "OKAskInput_" + in, pointer: "/steps/0/input", flow: vOne(vWith(askStep, "input", in))})
	}
	for _, op := range flow.BranchOps {
		val := "1"
		if op == flow.OpExists || op == flow.OpNotExists {
			val = ""
		}
		cases = append(cases, ruleCase{name: "OKBranchOp_" + op, pointer: "/steps/0/conditions/0/op", flow: vOne(branchStep(condition("x", op, val)))})
	}

	// Variable names a designer writes (ask, set_variable, api_call
	// variables) and reads (branch): ^[a-z0-9_]{1,64}$.
	type varSite struct {
		name, pointer string
		flow          func(v string) jobj
	}
	sites := []varSite{
		{"Ask", "/steps/0/variable", func(v string) jobj { return vOne(vWith(askStep, "variable", v)) }},
		{"SetVariable", "/steps/0/variable", func(v string) jobj { return vOne(vWith(setStep, "variable", v)) }},
		{"Branch", "/steps/0/conditions/0/variable", func(v string) jobj { return vOne(branchStep(condition(v, "exists", ""))) }},
		{"APICall", "/steps/0/variables/0/name", func(v string) jobj { return vAPI("variables", vRespVar(v, "$.a")) }},
	}
	for _, s := range sites {
		cases = append(cases,
			ruleCase{name: "OK" + s.name + "Variable64", pointer: s.pointer, flow: s.flow(v64)},
			ruleCase{name: "OK" + s.name + "VariableCharset", pointer: s.pointer, flow: s.flow("a_1")},
			ruleCase{name: "Err" + s.name + "Variable65", flow: s.flow(v65),
				pointer: s.pointer, code: "invalid_variable_name", msg: []string{"65", "64"}},
			ruleCase{name: "Err" + s.name + "VariableUppercase", flow: s.flow("Order"),
				pointer: s.pointer, code: "invalid_variable_name", msg: []string{`"Order"`}},
			ruleCase{name: "Err" + s.name + "VariableHyphen", flow: s.flow("order-id"),
				pointer: s.pointer, code: "invalid_variable_name", msg: []string{`"order-id"`}},
		)
		if s.name != "Branch" { // a branch may read a system variable
			cases = append(cases, ruleCase{name: "Err" + s.name + "WritesSystemVariable", flow: s.flow("user.name"),
				pointer: s.pointer, code: "system_variable_readonly", msg: []string{"user.name"}})
		}
	}
	runRules(t, newRuleBot(t), cases)
}

// ---- api_call: method, url ------------------------------------------------

func TestValidation_APICallURL(t *testing.T) {
	cases := []ruleCase{
		{name: "ErrMethodLowercase", flow: vAPI("method", "get"),
			pointer: "/steps/0/method", code: "invalid_method", msg: []string{"method", `"get"`}},
		{name: "ErrMethodHEAD", flow: vAPI("method", "HEAD"),
			pointer: "/steps/0/method", code: "invalid_method", msg: []string{`"HEAD"`, "GET"}},
		{name: "ErrMethodMissing", flow: vAPI("method", nil),
			pointer: "/steps/0/method", code: "missing_field", msg: []string{"method"}},
		{name: "ErrURLMissing", flow: vAPI("url", nil),
			pointer: "/steps/0/url", code: "missing_field", msg: []string{"url"}},
		{name: "ErrURLNotHTTPS", flow: vAPI("url", "http://api.example.com/orders"),
			pointer: "/steps/0/url", code: "url_not_https", msg: []string{"https", "http://"}},
		{name: "ErrURLFTP", flow: vAPI("url", "ftp://api.example.com/orders"),
			pointer: "/steps/0/url", code: "url_not_https", msg: []string{"https"}},
		{name: "ErrURLRelative", flow: vAPI("url", "/api/orders"),
			pointer: "/steps/0/url", code: "invalid_url", msg: []string{"https://"}},
		{name: "ErrURLNoHost", flow: vAPI("url", "https:///orders"),
			pointer: "/steps/0/url", code: "invalid_url", msg: []string{"host"}},
		{name: "ErrURLUserInfo", flow: vAPI("url", "https://user:secret@api.example.com/orders"),
			pointer: "/steps/0/url", code: "url_user_info", msg: []string{"user-info", "connection"}},
		{name: "ErrURLFragment", flow: vAPI("url", "https://api.example.com/orders#top"),
			pointer: "/steps/0/url", code: "url_fragment", msg: []string{"fragment"}},
		{name: "ErrURLEmptyFragment", flow: vAPI("url", "https://api.example.com/orders#"),
			pointer: "/steps/0/url", code: "url_fragment", msg: []string{"fragment"}},
		{name: "ErrURLUnclosedTemplate", flow: vAPI("url", "https://api.example.com/orders/{{order_number"),
			pointer: "/steps/0/url", code: "unclosed_template", msg: []string{"url"}},
		{name: "ErrURLInvalidTemplateVariable", flow: vAPI("url", "https://api.example.com/orders/{{Order}}"),
			pointer: "/steps/0/url", code: "invalid_template_variable", msg: []string{"url", "{{Order}}"}},

		// SPEC §3 rule 3: variables only in path segments and query values.
		{name: "OKSeedVariableInPathSegment", pointer: "/steps/0/url",
			flow: vAPI("url", "https://myshopify.com/admin/api/orders/{{order_number}}.json")},
		{name: "OKSeedVariableInQueryValue", pointer: "/steps/0/url",
			flow: vAPI("url", "https://maps.googleapis.com/maps/api/place?input={{city_name}}")},
		{name: "OKVariablesInManySegmentsAndValues", pointer: "/steps/0/url",
			flow: vAPI("url", "https://api.example.com/{{a}}/x-{{b}}/{{user.external_id}}?q={{c}}&r=1{{d}}2&s=")},
		{name: "OKPortLiteral", pointer: "/steps/0/url", flow: vAPI("url", "https://api.example.com:8443/orders/{{id}}")},
		{name: "ErrSeedVariableInSubdomain", flow: vAPI("url", "https://{{shop}}.myshopify.com/admin"),
			pointer: "/steps/0/url", code: "variable_in_host", msg: []string{"{{shop}}", "host"}},
		{name: "ErrVariableInDomain", flow: vAPI("url", "https://example.{{tld}}/admin"),
			pointer: "/steps/0/url", code: "variable_in_host", msg: []string{"{{tld}}", "host"}},
		{name: "ErrVariableIsHost", flow: vAPI("url", "https://{{host}}/admin"),
			pointer: "/steps/0/url", code: "variable_in_host", msg: []string{"host"}},
		{name: "ErrSeedVariableInQueryKey", flow: vAPI("url", "https://example.com/api/search?{{key}}=value"),
			pointer: "/steps/0/url", code: "variable_in_query_key", msg: []string{"{{key}}", "query key"}},
		{name: "ErrVariableInSecondQueryKey", flow: vAPI("url", "https://example.com/api/search?a=1&x{{key}}=value"),
			pointer: "/steps/0/url", code: "variable_in_query_key", msg: []string{"query key"}},
		{name: "ErrVariableInScheme", flow: vAPI("url", "{{scheme}}://example.com/api"),
			pointer: "/steps/0/url", code: "variable_in_scheme", msg: []string{"{{scheme}}", "scheme"}},
		{name: "ErrVariableIsWholeURL", flow: vAPI("url", "{{url}}"),
			pointer: "/steps/0/url", code: "variable_in_scheme", msg: []string{"{{url}}"}},
		{name: "ErrVariableInPort", flow: vAPI("url", "https://example.com:{{port}}/api"),
			pointer: "/steps/0/url", code: "variable_in_port", msg: []string{"{{port}}", "port"}},
		{name: "ErrVariableInFragment", flow: vAPI("url", "https://example.com/api#{{section}}"),
			pointer: "/steps/0/url", code: "variable_in_fragment", msg: []string{"{{section}}", "fragment"}},
		{name: "ErrVariableInUserInfo", flow: vAPI("url", "https://{{user}}@example.com/api"),
			pointer: "/steps/0/url", code: "variable_in_user_info", msg: []string{"{{user}}", "user-info"}},
	}
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		cases = append(cases, ruleCase{name: "OKMethod" + m, pointer: "/steps/0/method", flow: vAPI("method", m)})
	}
	runRules(t, newRuleBot(t), cases)
}

// ---- api_call: headers ----------------------------------------------------

func TestValidation_APICallHeaders(t *testing.T) {
	cases := []ruleCase{
		{name: "OKHeaders20", pointer: "/steps/0/headers", flow: vAPI("headers", vHeaders(20))},
		{name: "ErrHeaders21", flow: vAPI("headers", vHeaders(21)),
			pointer: "/steps/0/headers", code: "too_many_headers", msg: []string{"headers", "21", "20"}},
		{name: "OKHeaderValue256", pointer: "/steps/0/headers/0/value", flow: vAPI("headers", vHeader("X-A", vRep("a", 256)))},
		{name: "OKHeaderValue256Runes", pointer: "/steps/0/headers/0/value", flow: vAPI("headers", vHeader("X-A", vRep("é", 256)))},
		{name: "ErrHeaderValueTooLong257", flow: vAPI("headers", vHeader("X-A", vRep("a", 257))),
			pointer: "/steps/0/headers/0/value", code: "header_value_too_long", msg: []string{"header value", "257", "256"}},
		{name: "ErrHeaderValueTooLongSecondHeader", flow: vAPI("headers", append(vHeader("X-A", "a"), vHeader("X-B", vRep("b", 257))...)),
			pointer: "/steps/0/headers/1/value", code: "header_value_too_long", msg: []string{"256"}},
		{name: "ErrHeaderValueCR", flow: vAPI("headers", vHeader("X-A", "a\rb")),
			pointer: "/steps/0/headers/0/value", code: "invalid_header_value", msg: []string{"header value", "control character"}},
		{name: "ErrHeaderValueLF", flow: vAPI("headers", vHeader("X-A", "a\nX-Injected: 1")),
			pointer: "/steps/0/headers/0/value", code: "invalid_header_value", msg: []string{"line breaks"}},
		{name: "ErrHeaderValueCRLF", flow: vAPI("headers", vHeader("X-A", "a\r\nb")),
			pointer: "/steps/0/headers/0/value", code: "invalid_header_value", msg: []string{"header value"}},
		{name: "ErrHeaderValueNUL", flow: vAPI("headers", vHeader("X-A", "a\x00b")),
			pointer: "/steps/0/headers/0/value", code: "invalid_header_value", msg: []string{"NUL"}},
		{name: "OKHeaderValueTab", pointer: "/steps/0/headers/0/value", flow: vAPI("headers", vHeader("X-A", "a\tb"))},
		{name: "OKHeaderValueTemplate", pointer: "/steps/0/headers/0/value", flow: vAPI("headers", vHeader("X-Order", "{{order_number}}-{{user.locale}}"))},
		{name: "ErrHeaderValueInvalidTemplate", flow: vAPI("headers", vHeader("X-Order", "{{Order}}")),
			pointer: "/steps/0/headers/0/value", code: "invalid_template_variable", msg: []string{"header value"}},
		{name: "ErrHeaderKeySpace", flow: vAPI("headers", vHeader("X Order", "v")),
			pointer: "/steps/0/headers/0/key", code: "invalid_header_key", msg: []string{"header key", `"X Order"`}},
		{name: "ErrHeaderKeyColon", flow: vAPI("headers", vHeader("X-Order:", "v")),
			pointer: "/steps/0/headers/0/key", code: "invalid_header_key", msg: []string{"header key"}},
		{name: "ErrHeaderKeyVariable", flow: vAPI("headers", vHeader("X-{{name}}", "v")),
			pointer: "/steps/0/headers/0/key", code: "invalid_header_key", msg: []string{"header key"}},
		{name: "ErrHeaderKeyMissing", flow: vAPI("headers", vHeader("", "v")),
			pointer: "/steps/0/headers/0/key", code: "missing_field", msg: []string{"header key"}},
		{name: "OKHeaderKeyTokenChars", pointer: "/steps/0/headers/0/key", flow: vAPI("headers", vHeader("X-a1!#$%&'*+-.^_`|~", "v"))},
		{name: "OKHeaderContentType", pointer: "/steps/0/headers/0/key", flow: vAPI("headers", vHeader("Accept", "application/json"))},
	}
	for _, k := range []string{"Authorization", "authorization", "AUTHORIZATION", "Cookie", "cookie", "X-API-Key", "x-api-key", "X-Api-Key", "Proxy-Authorization", "proxy-authorization"} {
		cases = append(cases, ruleCase{name: "ErrCredentialHeader_" + k, flow: vAPI("headers", vHeader(k, "Bearer secret")),
			pointer: "/steps/0/headers/0/key", code: "credential_header", msg: []string{k, "connection"}})
	}
	for _, k := range []string{"Host", "host", "Content-Length", "content-length", "Transfer-Encoding", "TRANSFER-ENCODING", "Connection", "connection"} {
		cases = append(cases, ruleCase{name: "ErrFramingHeader_" + k, flow: vAPI("headers", vHeader(k, "x")),
			pointer: "/steps/0/headers/0/key", code: "framing_header", msg: []string{k}})
	}
	runRules(t, newRuleBot(t), cases)
}

// ---- api_call: body -------------------------------------------------------

func TestValidation_APICallBody(t *testing.T) {
	jsonBody := func(n int) string { return `"` + vRep("a", n-2) + `"` } // n bytes of valid JSON
	post := func(kv ...any) jobj { return vAPI(append([]any{"method", "POST"}, kv...)...) }
	cases := []ruleCase{
		{name: "ErrBodyOnGET", flow: vAPI("body", `{"a":1}`),
			pointer: "/steps/0/body", code: "body_not_allowed", msg: []string{"body", "GET"}},
		{name: "ErrBodyOnDELETE", flow: vAPI("method", "DELETE", "body", `{"a":1}`),
			pointer: "/steps/0/body", code: "body_not_allowed", msg: []string{"body", "DELETE"}},
		{name: "OKNullBodyOnGET", pointer: "/steps/0/body", flow: vAPI("body", nil, "body_type", "json")},
		{name: "OKBody65536", pointer: "/steps/0/body", flow: post("body", jsonBody(65536))},
		{name: "ErrBodyTooLarge65537", flow: post("body", jsonBody(65537)),
			pointer: "/steps/0/body", code: "body_too_large", msg: []string{"body", "65537", "65536"}},
		{name: "OKTextBody65536", pointer: "/steps/0/body", flow: post("body", vRep("t", 65536), "body_type", "text", "content_type", "text/plain")},
		{name: "ErrTextBodyTooLarge65537", flow: post("body", vRep("t", 65537), "body_type", "text", "content_type", "text/plain"),
			pointer: "/steps/0/body", code: "body_too_large", msg: []string{"65536"}},
		{name: "ErrBodyInvalidJSON", flow: post("body", `{"order": `),
			pointer: "/steps/0/body", code: "invalid_json_body", msg: []string{"body", "JSON", "line 1"}},
		{name: "ErrBodyInvalidJSONTrailingComma", flow: post("body", `{"a": 1,}`),
			pointer: "/steps/0/body", code: "invalid_json_body", msg: []string{"JSON"}},
		{name: "ErrBodyVariableOutsideString", flow: post("body", `{"order": {{order_number}}}`),
			pointer: "/steps/0/body", code: "variable_outside_json_string", msg: []string{"{{order_number}}", "quotes"}},
		{name: "OKBodyVariableInsideString", pointer: "/steps/0/body", flow: post("body", `{"order": "{{order_number}}", "who": "{{user.email}} <{{user.name}}>"}`)},
		{name: "OKBodyOnPUT", pointer: "/steps/0/body", flow: vAPI("method", "PUT", "body", `{"a":"{{x}}"}`)},
		{name: "OKBodyOnPATCH", pointer: "/steps/0/body", flow: vAPI("method", "PATCH", "body", `{"a":"{{x}}"}`, "body_type", "json")},
		{name: "ErrBodyUnclosedTemplate", flow: post("body", `{"a": "{{x"}`),
			pointer: "/steps/0/body", code: "unclosed_template", msg: []string{"body"}},
		{name: "ErrBodyInvalidTemplateVariable", flow: post("body", `{"a": "{{X}}"}`),
			pointer: "/steps/0/body", code: "invalid_template_variable", msg: []string{"body"}},
		{name: "ErrTextBodyNeedsContentType", flow: post("body", "order={{order_number}}", "body_type", "text"),
			pointer: "/steps/0/content_type", code: "missing_field", msg: []string{"content_type", "text"}},
		{name: "OKTextBodyWithContentType", pointer: "/steps/0/content_type",
			flow: post("body", "order={{order_number}}", "body_type", "text", "content_type", "application/x-www-form-urlencoded")},
		{name: "ErrContentTypeInvalid", flow: post("body", "x", "body_type", "text", "content_type", "plain"),
			pointer: "/steps/0/content_type", code: "invalid_content_type", msg: []string{`"plain"`}},
		{name: "ErrContentTypeWithoutBody", flow: post("content_type", "text/plain"),
			pointer: "/steps/0/content_type", code: "field_not_allowed", msg: []string{"content_type"}},
		{name: "ErrBodyTypeUnknown", flow: post("body", "<a/>", "body_type", "xml"),
			pointer: "/steps/0/body_type", code: "invalid_body_type", msg: []string{"body_type", `"xml"`}},
	}
	runRules(t, newRuleBot(t), cases)
}

// ---- api_call: variables, timeout, retry, branches --------------------------

func TestValidation_APICallResponse(t *testing.T) {
	cases := []ruleCase{
		{name: "OKVariables8", pointer: "/steps/0/variables", flow: vAPI("variables", vRespVars(8))},
		{name: "ErrVariables9", flow: vAPI("variables", vRespVars(9)),
			pointer: "/steps/0/variables", code: "too_many_variables", msg: []string{"variables", "9", "8"}},
		{name: "ErrVariableDuplicateName", flow: vAPI("variables", append(vRespVar("status", "$.a"), vRespVar("status", "$.b")...)),
			pointer: "/steps/0/variables/1/name", code: "duplicate_variable", msg: []string{`"status"`, "variable 0"}},
		{name: "ErrVariableNameMissing", flow: vAPI("variables", vRespVar("", "$.a")),
			pointer: "/steps/0/variables/0/name", code: "missing_field", msg: []string{"name"}},
		{name: "ErrJSONPathNoDollar", flow: vAPI("variables", vRespVar("s", "order.status")),
			pointer: "/steps/0/variables/0/path", code: "invalid_json_path", msg: []string{"path"}},
		{name: "ErrJSONPathUnclosedIndex", flow: vAPI("variables", vRespVar("s", "$.items[0")),
			pointer: "/steps/0/variables/0/path", code: "invalid_json_path", msg: []string{"path"}},
		{name: "ErrJSONPathTrailingDot", flow: vAPI("variables", vRespVar("s", "$.order.")),
			pointer: "/steps/0/variables/0/path", code: "invalid_json_path", msg: []string{"path"}},
		{name: "ErrJSONPathMissing", flow: vAPI("variables", vRespVar("s", "")),
			pointer: "/steps/0/variables/0/path", code: "missing_field", msg: []string{"path"}},
		{name: "OKJSONPathStatus", pointer: "/steps/0/variables/0/path", flow: vAPI("variables", vRespVar("code", "$status"))},
		{name: "OKJSONPathHeader", pointer: "/steps/0/variables/0/path", flow: vAPI("variables", vRespVar("request_id", "$headers.x-request-id"))},
		{name: "OKJSONPathRoot", pointer: "/steps/0/variables/0/path", flow: vAPI("variables", vRespVar("all", "$"))},
		{name: "OKJSONPathNested", pointer: "/steps/0/variables/0/path", flow: vAPI("variables", vRespVar("name", "$.items[0].name"))},

		{name: "ErrTimeout999", flow: vAPI("timeout_ms", 999),
			pointer: "/steps/0/timeout_ms", code: "invalid_timeout", msg: []string{"timeout_ms", "999", "1000", "30000"}},
		{name: "ErrTimeout30001", flow: vAPI("timeout_ms", 30001),
			pointer: "/steps/0/timeout_ms", code: "invalid_timeout", msg: []string{"30001", "30000"}},
		{name: "ErrTimeoutNegative", flow: vAPI("timeout_ms", -1),
			pointer: "/steps/0/timeout_ms", code: "invalid_timeout", msg: []string{"-1"}},
		{name: "OKTimeout1000", pointer: "/steps/0/timeout_ms", flow: vAPI("timeout_ms", 1000)},
		{name: "OKTimeout30000", pointer: "/steps/0/timeout_ms", flow: vAPI("timeout_ms", 30000)},
		{name: "OKTimeout0Default", pointer: "/steps/0/timeout_ms", flow: vAPI("timeout_ms", 0)},

		{name: "ErrRetryOnPOST", flow: vAPI("method", "POST", "retry", jobj{"max_attempts": 2, "backoff_ms": 100}),
			pointer: "/steps/0/retry", code: "retry_not_allowed", msg: []string{"retry", "POST"}},
		{name: "ErrRetryOnPATCH", flow: vAPI("method", "PATCH", "retry", jobj{"max_attempts": 2, "backoff_ms": 100}),
			pointer: "/steps/0/retry", code: "retry_not_allowed", msg: []string{"PATCH"}},
		{name: "OKRetryOnGET", pointer: "/steps/0/retry", flow: vAPI("retry", jobj{"max_attempts": 2, "backoff_ms": 100})},
		{name: "OKRetryOnPUT", pointer: "/steps/0/retry", flow: vAPI("method", "PUT", "retry", jobj{"max_attempts": 2, "backoff_ms": 100})},
		{name: "OKRetryOnDELETE", pointer: "/steps/0/retry", flow: vAPI("method", "DELETE", "retry", jobj{"max_attempts": 2, "backoff_ms": 100})},
		{name: "ErrRetryAttempts0", flow: vAPI("retry", jobj{"max_attempts": 0, "backoff_ms": 0}),
			pointer: "/steps/0/retry/max_attempts", code: "invalid_retry_attempts", msg: []string{"max_attempts", "0", "1 to 5"}},
		{name: "ErrRetryAttempts6", flow: vAPI("retry", jobj{"max_attempts": 6, "backoff_ms": 0}),
			pointer: "/steps/0/retry/max_attempts", code: "invalid_retry_attempts", msg: []string{"6", "1 to 5"}},
		{name: "OKRetryAttempts1", pointer: "/steps/0/retry/max_attempts", flow: vAPI("retry", jobj{"max_attempts": 1, "backoff_ms": 0})},
		{name: "OKRetryAttempts5", pointer: "/steps/0/retry/max_attempts", flow: vAPI("retry", jobj{"max_attempts": 5, "backoff_ms": 0})},
		{name: "ErrRetryBackoffNegative", flow: vAPI("retry", jobj{"max_attempts": 2, "backoff_ms": -1}),
			pointer: "/steps/0/retry/backoff_ms", code: "invalid_retry_backoff", msg: []string{"backoff_ms", "-1", "10000"}},
		{name: "ErrRetryBackoff10001", flow: vAPI("retry", jobj{"max_attempts": 2, "backoff_ms": 10001}),
			pointer: "/steps/0/retry/backoff_ms", code: "invalid_retry_backoff", msg: []string{"10001", "10000"}},
		{name: "OKRetryBackoff0", pointer: "/steps/0/retry/backoff_ms", flow: vAPI("retry", jobj{"max_attempts": 2, "backoff_ms": 0})},
		{name: "OKRetryBackoff10000", pointer: "/steps/0/retry/backoff_ms", flow: vAPI("retry", jobj{"max_attempts": 2, "backoff_ms": 10000})},
		{name: "OKAttemptTimeoutAtCallTimeout", pointer: "/steps/0/retry/attempt_timeout_ms",
			flow: vAPI("timeout_ms", 4000, "retry", jobj{"max_attempts": 2, "backoff_ms": 0, "attempt_timeout_ms": 4000})},
		{name: "ErrAttemptTimeoutOverCallTimeout", flow: vAPI("timeout_ms", 4000, "retry", jobj{"max_attempts": 2, "backoff_ms": 0, "attempt_timeout_ms": 4001}),
			pointer: "/steps/0/retry/attempt_timeout_ms", code: "invalid_attempt_timeout", msg: []string{"attempt_timeout_ms", "4001", "1000 to 4000"}},
		{name: "OKAttemptTimeout1000", pointer: "/steps/0/retry/attempt_timeout_ms", flow: vAPI("retry", jobj{"max_attempts": 2, "backoff_ms": 0, "attempt_timeout_ms": 1000})},
		{name: "ErrAttemptTimeout999", flow: vAPI("retry", jobj{"max_attempts": 2, "backoff_ms": 0, "attempt_timeout_ms": 999}),
			pointer: "/steps/0/retry/attempt_timeout_ms", code: "invalid_attempt_timeout", msg: []string{"999"}},

		{name: "ErrOnSuccessMissing", flow: vAPI("on_success", nil),
			pointer: "/steps/0/on_success", code: "missing_field", msg: []string{"on_success", "required"}},
		{name: "ErrOnFailureMissing", flow: vAPI("on_failure", nil),
			pointer: "/steps/0/on_failure", code: "missing_field", msg: []string{"on_failure", "required"}},
		{name: "OKBranchesToDifferentSteps", pointer: "/steps/0/on_failure",
			flow: vFlowOf(vWith(apiStep, "on_failure", "human"), vEndStep(), vWith(xferStep, "id", "human"))},
	}
	runRules(t, newRuleBot(t), cases)
}

// ---- api_call: connection ---------------------------------------------------

func TestValidation_APICallConnection(t *testing.T) {
	b := newRuleBot(t)
	shop := vAPI("url", "https://shop.example.com/api/orders/{{order_number}}.json", "connection", "shop_api")

	// Before an admin creates it, the name is unknown.
	runRules(t, b, []ruleCase{
		{name: "ErrConnectionUnknown", flow: shop,
			pointer: "/steps/0/connection", code: "unknown_connection", msg: []string{"connection", `"shop_api"`}},
	})
	if code, _ := b.publish(t); code != 422 {
		t.Fatalf("publish with an unknown connection: %d", code)
	}

	for _, c := range []jobj{
		{"name": "shop_api", "type": "bearer", "allowed_domain": "shop.example.com", "credentials": jobj{"token": "s3cret-token"}},
		{"name": "wide_api", "type": "api_key", "allowed_domain": "example.org", "allow_subdomains": true,
			"credentials": jobj{"header": "X-API-Key", "value": "k3y"}},
	} {
		if r := b.e.do("POST", "/v1/connections", adminToken, c); r.Code != 201 {
			t.Fatalf("create connection %s: %d %s", c["name"], r.Code, r.Body)
		}
	}
	// The stored draft did not change, but it is now valid.
	if ps := b.validate(t); len(problemKeys(ps)) != 0 {
		t.Fatalf("after creating the connection:%s", listProblems(ps))
	}

	wide := func(url string) jobj { return vAPI("url", url, "connection", "wide_api") }
	runRules(t, b, []ruleCase{
		{name: "OKConnectionHostMatches", pointer: "/steps/0/connection", flow: shop},
		{name: "OKConnectionHostCaseInsensitive", pointer: "/steps/0/url", flow: vAPI("url", "https://SHOP.example.com/x", "connection", "shop_api")},
		{name: "ErrConnectionUnknownName", flow: vAPI("connection", "nope_api"),
			pointer: "/steps/0/connection", code: "unknown_connection", msg: []string{`"nope_api"`}},
		{name: "ErrConnectionHostNotAllowed", flow: vAPI("url", "https://evil.example.net/api/orders", "connection", "shop_api"),
			pointer: "/steps/0/url", code: "connection_host_not_allowed", msg: []string{"evil.example.net", "shop_api", "shop.example.com"}},
		{name: "ErrConnectionSubdomainNotAllowed", flow: vAPI("url", "https://api.shop.example.com/x", "connection", "shop_api"),
			pointer: "/steps/0/url", code: "connection_host_not_allowed", msg: []string{"api.shop.example.com"}},
		{name: "ErrConnectionParentDomainNotAllowed", flow: vAPI("url", "https://example.com/x", "connection", "shop_api"),
			pointer: "/steps/0/url", code: "connection_host_not_allowed", msg: []string{"shop.example.com"}},
		{name: "ErrConnectionSuffixTrick", flow: vAPI("url", "https://shop.example.com.evil.net/x", "connection", "shop_api"),
			pointer: "/steps/0/url", code: "connection_host_not_allowed", msg: []string{"shop.example.com"}},
		{name: "OKConnectionSubdomainAllowed", pointer: "/steps/0/url", flow: wide("https://api.example.org/v1/{{id}}")},
		{name: "OKConnectionDeepSubdomainAllowed", pointer: "/steps/0/url", flow: wide("https://eu.api.example.org/v1")},
		{name: "OKConnectionApexWithSubdomains", pointer: "/steps/0/url", flow: wide("https://example.org/v1")},
		{name: "ErrConnectionLookalikeDomain", flow: wide("https://badexample.org/v1"),
			pointer: "/steps/0/url", code: "connection_host_not_allowed", msg: []string{"example.org", "subdomains"}},
		{name: "ErrConnectionWithVariableHostReportsHostOnly", flow: vAPI("url", "https://{{shop}}.example.org/", "connection", "wide_api"),
			pointer: "/steps/0/url", code: "variable_in_host", msg: []string{"{{shop}}"}},
	})
}

// ---- nothing stored is lost --------------------------------------------------

func TestValidation_RefusedSaveKeepsDraft(t *testing.T) {
	b := newRuleBot(t)
	e := b.e
	path := "/v1/bots/" + b.id + "/flow"
	// An invalid draft with several problems is stored as sent, and read
	// back (b.draft) as openapi.yaml says: no limit that validation reports
	// as a problem may be a limit of the schema the draft is served in.
	invalid := vFlowOf(
		vWith(apiStep, "url", "https://{{shop}}.myshopify.com/admin", "headers", vHeader("Authorization", "Bearer x"), "timeout_ms", 999),
		vWith(msgStep, "id", "done", "text", vRep("a", 4097), "next", "nowhere", "description", vRep("d", 1001)),
	)
	ps := b.save(t, invalid)
	for _, want := range []string{"/steps/0/url variable_in_host", "/steps/0/headers/0/key credential_header",
		"/steps/0/timeout_ms invalid_timeout", "/steps/1/text text_too_long", "/steps/1/next unknown_target",
		"/steps/1/description text_too_long"} {
		if !strings.Contains(strings.Join(problemKeys(ps), ","), want) {
			t.Errorf("missing %s:%s", want, listProblems(ps))
		}
	}
	saved, rev := b.draft(t)
	if saved != canonFlow(t, invalid) || rev != b.rev {
		t.Fatalf("invalid draft did not round-trip (revision %d/%d):\n%s", rev, b.rev, truncate([]byte(saved)))
	}
	if code, _ := b.publish(t); code != 422 {
		t.Fatalf("publish: %d", code)
	}

	valid := vOne(msgStep)
	unchanged := func(t *testing.T) {
		t.Helper()
		got, r := b.draft(t)
		if got != saved || r != rev {
			t.Fatalf("refused save changed the draft: revision %d (was %d)\n%s", r, rev, truncate([]byte(got)))
		}
	}
	for _, tc := range []struct {
		name    string
		body    any
		ifMatch []string
		code    int
		errCode string
		names   string // the error must name this
	}{
		{"ErrStaleRevision", valid, []string{"If-Match", strconv.FormatInt(rev-1, 10)}, 409, "conflict", strconv.FormatInt(rev, 10)},
		{"ErrFutureRevision", valid, []string{"If-Match", strconv.FormatInt(rev+1, 10)}, 409, "conflict", ""},
		{"ErrNoIfMatch", valid, nil, 409, "conflict", "If-Match"},
		{"ErrIfMatchNotANumber", valid, []string{"If-Match", "latest"}, 400, "invalid", "If-Match"},
		{"ErrUnknownStepField", `{"start":"s","steps":[{"id":"s","type":"api_call","method":"GET","url":"https://a.example.com/","on_sucess":"s","on_failure":"s"}]}`,
			[]string{"If-Match", strconv.FormatInt(rev, 10)}, 400, "invalid", "/steps/0/on_sucess"},
		{"ErrUnknownTopField", `{"start":"s","steps":[],"begin":"s"}`, []string{"If-Match", strconv.FormatInt(rev, 10)}, 400, "invalid", "begin"},
		{"ErrUnknownNestedField", `{"start":"s","steps":[{"id":"s","type":"api_call","headers":[{"key":"a","value":"b","secret":true}]}]}`,
			[]string{"If-Match", strconv.FormatInt(rev, 10)}, 400, "invalid", "/steps/0/headers/0/secret"},
		{"ErrWrongType", `{"start":"s","steps":[{"id":"s","type":"api_call","timeout_ms":"10000"}]}`,
			[]string{"If-Match", strconv.FormatInt(rev, 10)}, 400, "invalid", "timeout_ms"},
		{"ErrMalformedJSON", `{"start":"s","steps":[`, []string{"If-Match", strconv.FormatInt(rev, 10)}, 400, "invalid", "JSON"},
		{"ErrEmptyBody", ``, []string{"If-Match", strconv.FormatInt(rev, 10)}, 400, "invalid", "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			r := e.do("PUT", path, b.tok, tc.body, tc.ifMatch...)
			if r.Code != tc.code || r.errCode(t) != tc.errCode || !strings.Contains(string(r.Body), tc.names) {
				t.Fatalf("got %d %s, want %d %s naming %q", r.Code, r.Body, tc.code, tc.errCode, tc.names)
			}
			unchanged(t)
		})
	}
	t.Run("OKReadOnlyFieldsIgnored", func(t *testing.T) {
		doc := vWith(valid, "id", "ignored", "revision", 12345)
		if ps := b.save(t, doc); len(ps) != 0 {
			t.Fatalf("problems:%s", listProblems(ps))
		}
		got, _ := b.draft(t)
		if got != canonFlow(t, valid) {
			t.Fatalf("got %s", got)
		}
		if code, _ := b.publish(t); code != 201 {
			t.Fatalf("publish: %d", code)
		}
	})
	t.Run("RefusedPublishMakesNoVersion", func(t *testing.T) {
		b.save(t, invalid)
		if code, _ := b.publish(t); code != 422 {
			t.Fatalf("publish: %d", code)
		}
		r := e.with(t).do("GET", "/v1/bots/"+b.id+"/versions", b.tok, nil)
		if r.Code != 200 || len(r.m(t)["items"].([]any)) != 1 {
			t.Fatalf("versions: %d %s", r.Code, r.Body)
		}
		r = e.with(t).do("GET", "/v1/bots/"+b.id, b.tok, nil)
		if r.m(t)["published_version"].(float64) != 1 {
			t.Fatalf("published_version changed: %s", truncate(r.Body))
		}
	})
}

// ---- test call --------------------------------------------------------------

func TestValidation_TestCall(t *testing.T) {
	e := newEnv(t)
	tok := e.designerToken()
	step := func(kv ...any) jobj {
		return vWith(jobj{"id": "t", "type": "api_call", "method": "GET", "url": "https://127.0.0.1:1/x"}, kv...)
	}
	type detail struct{ Pointer, Code, Message string }
	refused := func(t *testing.T, body any, pointer, code string) {
		t.Helper()
		r := e.with(t).do("POST", "/v1/test-call", tok, body)
		var out struct {
			Error struct {
				Code    string
				Details []detail
			}
		}
		r.json(t, &out)
		if r.Code != 422 || out.Error.Code != "rule_violation" {
			t.Fatalf("got %d %s", r.Code, r.Body)
		}
		for _, d := range out.Error.Details {
			if d.Pointer == pointer && d.Code == code {
				if d.Message == "" {
					t.Errorf("%s %s without a message", pointer, code)
				}
				return
			}
		}
		t.Fatalf("no detail %s %s: %s", pointer, code, r.Body)
	}
	for _, tc := range []struct {
		name, pointer, code string
		step                jobj
	}{
		{"ErrVariableInHost", "/step/url", "variable_in_host", step("url", "https://{{shop}}.myshopify.com/admin")},
		{"ErrVariableInQueryKey", "/step/url", "variable_in_query_key", step("url", "https://example.com/api/search?{{key}}=value")},
		{"ErrNotHTTPS", "/step/url", "url_not_https", step("url", "http://example.com/")},
		{"ErrCredentialHeader", "/step/headers/0/key", "credential_header", step("headers", vHeader("authorization", "Bearer x"))},
		{"ErrHeaderValueTooLong", "/step/headers/0/value", "header_value_too_long", step("headers", vHeader("X-A", vRep("a", 257)))},
		{"ErrBodyOnGET", "/step/body", "body_not_allowed", step("body", `{}`)},
		{"ErrTimeout", "/step/timeout_ms", "invalid_timeout", step("timeout_ms", 30001)},
		{"ErrUnknownConnection", "/step/connection", "unknown_connection", step("connection", "nope_api")},
		{"ErrNotAPICall", "/step/type", "not_api_call", jobj{"id": "t", "type": "message", "text": "hi"}},
		{"ErrFieldNotAllowed", "/step/text", "field_not_allowed", step("text", "hi")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			refused(t, jobj{"step": tc.step, "test_values": jobj{"shop": "x", "key": "k"}}, tc.pointer, tc.code)
		})
	}
	t.Run("ErrStepMissing", func(t *testing.T) { refused(t, jobj{"test_values": jobj{}}, "/step", "required") })
	t.Run("ErrUnknownField", func(t *testing.T) {
		r := e.with(t).do("POST", "/v1/test-call", tok, `{"step":{"id":"t","type":"api_call","on_sucess":"x"}}`)
		if r.Code != 400 || !strings.Contains(string(r.Body), "/step/on_sucess") {
			t.Fatalf("got %d %s", r.Code, r.Body)
		}
	})
	t.Run("OKUnreachableHostTakesFailureBranch", func(t *testing.T) {
		// A valid step (branches are a flow property: not needed here) to a
		// port nothing listens on: the call is made and fails.
		r := e.with(t).do("POST", "/v1/test-call", tok, jobj{
			"step":        step("url", "https://127.0.0.1:1/orders/{{order_number}}?q={{q}}", "timeout_ms", 2000),
			"test_values": jobj{"order_number": "A 1/2", "q": "a&b"},
		})
		if r.Code != 200 {
			t.Fatalf("got %d %s", r.Code, r.Body)
		}
		var out struct {
			Request   struct{ Method, URL string }
			Response  *json.RawMessage
			Branch    string
			Error     *struct{ Code, Message string }
			Variables map[string]string
		}
		r.json(t, &out)
		if out.Branch != "failure" || out.Error == nil || out.Error.Code != "network_error" || out.Error.Message == "" {
			t.Fatalf("want failure with network_error: %s", r.Body)
		}
		if out.Request.Method != "GET" || out.Request.URL != "https://127.0.0.1:1/orders/A%201%2F2?q=a%26b" {
			t.Errorf("request: %+v", out.Request)
		}
		if out.Response != nil && string(*out.Response) != "null" {
			t.Errorf("response without a connection: %s", *out.Response)
		}
	})
	t.Run("OKSeedURLsPassValidation", func(t *testing.T) {
		// Valid steps pass validation and are called; 127.0.0.1:1 keeps
		// the call local, so only the path and query rules are exercised
		// here (the seed hosts themselves are covered by the draft tests).
		for _, u := range []string{
			"https://127.0.0.1:1/admin/api/orders/{{order_number}}.json",
			"https://127.0.0.1:1/maps/api/place?input={{city_name}}",
		} {
			r := e.with(t).do("POST", "/v1/test-call", tok, jobj{"step": step("url", u), "test_values": jobj{"order_number": "1001", "city_name": "Paris"}})
			if r.Code != 200 || r.m(t)["branch"] != "failure" {
				t.Fatalf("%s: %d %s", u, r.Code, r.Body)
			}
		}
	})
}

// ---- the other ways a flow comes in ------------------------------------------

// Creating a bot with a flow and importing one validate like a save: the
// flow is stored as sent and its problems are reported.
func TestValidation_CreateAndImportReportProblems(t *testing.T) {
	e := newEnv(t)
	tok := e.designerToken()
	bad := vAPI("url", "https://{{shop}}.myshopify.com/admin", "headers", vHeader("Cookie", "a=b"))
	want := []string{"/steps/0/headers/0/key credential_header", "/steps/0/url variable_in_host"}

	r := e.do("POST", "/v1/bots", tok, jobj{"name": "Created", "flow": bad})
	if r.Code != 201 {
		t.Fatalf("create: %d %s", r.Code, r.Body)
	}
	var created struct {
		ID       string          `json:"id"`
		Flow     json.RawMessage `json:"flow"`
		Problems []ruleProblem   `json:"problems"`
	}
	r.json(t, &created)
	if got := problemKeys(created.Problems); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("create problems %v, want %v", got, want)
	}
	if canonFlow(t, created.Flow) != canonFlow(t, bad) {
		t.Fatalf("create did not store the flow as sent: %s", created.Flow)
	}
	b := &ruleBot{e: e, tok: tok, id: created.ID, rev: 1}
	if code, _ := b.publish(t); code != 422 {
		t.Fatalf("publish: %d", code)
	}

	r = e.do("GET", "/v1/bots/"+created.ID+"/export", tok, nil)
	if r.Code != 200 {
		t.Fatalf("export: %d %s", r.Code, r.Body)
	}
	r = e.do("POST", "/v1/bots/import", tok, r.Body)
	if r.Code != 201 {
		t.Fatalf("import: %d %s", r.Code, r.Body)
	}
	var imported struct {
		ID       string          `json:"id"`
		Flow     json.RawMessage `json:"flow"`
		Problems []ruleProblem   `json:"problems"`
	}
	r.json(t, &imported)
	if got := problemKeys(imported.Problems); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("import problems %v, want %v", got, want)
	}
	if canonFlow(t, imported.Flow) != canonFlow(t, bad) {
		t.Fatalf("import did not keep the flow: %s", imported.Flow)
	}
}

// TestValidation_VariableNeverSet: a misspelt {{variable}} is a warning on
// the field that reads it, naming the set variable it is likely a typo
// of; it does not stop a publish.
func TestValidation_VariableNeverSet(t *testing.T) {
	e := newEnv(t)
	id, _ := e.createBot(`{"start":"ask","steps":[
 {"id":"ask","type":"ask","text":"Order?","variable":"order_number","input":"text","next":"tell"},
 {"id":"tell","type":"message","text":"Looking up {{order_numbr}} for {{user.name}}","next":"bye"},
 {"id":"bye","type":"end","text":"Bye {{order_number}}"}]}`)
	var v struct{ Problems []ruleProblem }
	e.do("POST", "/v1/bots/"+id+"/validate", adminToken, nil).json(t, &v)
	if len(v.Problems) != 1 || v.Problems[0].Pointer != "/steps/1/text" || v.Problems[0].Code != "variable_never_set" ||
		v.Problems[0].Severity != "warning" || !strings.Contains(v.Problems[0].Message, "did you mean {{order_number}}?") {
		t.Fatalf("problems:%s", listProblems(v.Problems))
	}
	if r := e.do("POST", "/v1/bots/"+id+"/publish", adminToken, nil); r.Code != 201 {
		t.Fatalf("publish with a warning: %d %s", r.Code, r.Body)
	}
}
