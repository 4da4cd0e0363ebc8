package flow_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowbot/flowbot/flow"
)

func mustFlow(t *testing.T, js string) *flow.Compiled {
	t.Helper()
	var f flow.Flow
	if err := json.Unmarshal([]byte(js), &f); err != nil {
		t.Fatal(err)
	}
	return flow.Compile(&f)
}

func newEngine() *flow.Engine {
	return &flow.Engine{Now: func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) }}
}

func texts(tr *flow.Turn) []string {
	var out []string
	for _, m := range tr.Messages {
		out = append(out, m.Text)
	}
	return out
}

func TestEngine_MessageDropsUnsetVariables(t *testing.T) {
	c := mustFlow(t, `{"start":"a","steps":[
		{"id":"a","type":"message","text":"Hi {{user.name}}, order {{order}}!","next":"b"},
		{"id":"b","type":"end","text":"Bye"}]}`)
	conv := &flow.Conversation{ID: "c1", User: flow.User{Name: "Ann"}}
	tr := newEngine().Start(context.Background(), c, conv)
	if got := strings.Join(texts(tr), "|"); got != "Hi Ann, order !|Bye" {
		t.Fatalf("messages = %q", got)
	}
	if conv.Status != flow.StatusEnded || conv.Awaiting.Type != flow.AwaitNone {
		t.Fatalf("status %s awaiting %+v", conv.Status, conv.Awaiting)
	}
	if len(tr.Log) != 2 || tr.Log[0].StepID != "a" || tr.Log[1].Outcome != "ended" {
		t.Fatalf("log = %+v", tr.Log)
	}
}

func TestEngine_OptionsByIDAndByLabel(t *testing.T) {
	js := `{"start":"o","steps":[
		{"id":"o","type":"options","text":"Pick","options":[{"id":"y","label":"Yes please","next":"yes"},{"id":"n","label":"No","next":"no"}]},
		{"id":"yes","type":"end","text":"great"},{"id":"no","type":"transfer","text":"agent","reason":"said no"}]}`
	for _, tc := range []struct {
		name string
		in   flow.Input
		want string
		st   string
	}{
		{"ByOptionID", flow.Input{OptionID: "y"}, "great", flow.StatusEnded},
		{"ByLabelIgnoringCase", flow.Input{Text: "  yes PLEASE "}, "great", flow.StatusEnded},
		{"TransferBranch", flow.Input{Text: "no"}, "agent", flow.StatusTransferred},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustFlow(t, js)
			conv := &flow.Conversation{}
			tr := newEngine().Start(context.Background(), c, conv)
			if conv.Awaiting.Type != flow.AwaitOptions || len(conv.Awaiting.Options) != 2 || texts(tr)[0] != "Pick" {
				t.Fatalf("awaiting = %+v", conv.Awaiting)
			}
			tr, err := newEngine().Reply(context.Background(), c, conv, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := texts(tr); got[len(got)-1] != tc.want || conv.Status != tc.st {
				t.Fatalf("got %v status %s", got, conv.Status)
			}
			if _, err := newEngine().Reply(context.Background(), c, conv, flow.Input{Text: "again"}); flow.ErrorCode(err) != flow.ECONFLICT {
				t.Fatalf("reply after end: %v", err)
			}
		})
	}
	t.Run("UnknownChoiceAsksAgain", func(t *testing.T) {
		c := mustFlow(t, js)
		conv := &flow.Conversation{}
		newEngine().Start(context.Background(), c, conv)
		tr, err := newEngine().Reply(context.Background(), c, conv, flow.Input{Text: "maybe"})
		if err != nil || conv.Waiting != "o" || conv.Status != flow.StatusActive {
			t.Fatalf("err %v waiting %q", err, conv.Waiting)
		}
		if texts(tr)[0] != "Please choose one of the options." {
			t.Fatalf("got %v", texts(tr))
		}
	})
}

func TestEngine_AskValidatesByInputType(t *testing.T) {
	for _, tc := range []struct {
		input, bad, good, saved string
	}{
		{"email", "ann@example", "ann@example.com", "ann@example.com"},
		{"number", "forty-two", "42", "42"},
		{"number", "NaN", "3,5", "3.5"},
		{"phone", "call me", "+44 20 7946 0958", "+44 20 7946 0958"},
		{"text", "   ", "anything {{x}}", "anything {{x}}"},
	} {
		t.Run(tc.input+"_"+tc.good, func(t *testing.T) {
			c := mustFlow(t, `{"start":"q","steps":[
				{"id":"q","type":"ask","text":"Your value?","variable":"v","input":"`+tc.input+`","invalid_text":"Not valid, again?","next":"m"},
				{"id":"m","type":"message","text":"Got {{v}}"}]}`)
			conv := &flow.Conversation{}
			e := newEngine()
			e.Start(context.Background(), c, conv)
			tr, err := e.Reply(context.Background(), c, conv, flow.Input{Text: tc.bad})
			if strings.TrimSpace(tc.bad) == "" {
				if flow.ErrorCode(err) != flow.EINVALID {
					t.Fatalf("blank reply: %v", err)
				}
			} else if err != nil || texts(tr)[0] != "Not valid, again?" || conv.Waiting != "q" {
				t.Fatalf("bad reply: err %v msgs %v waiting %q", err, texts(tr), conv.Waiting)
			}
			tr, err = e.Reply(context.Background(), c, conv, flow.Input{Text: tc.good})
			if err != nil || conv.Vars["v"] != tc.saved {
				t.Fatalf("good reply: err %v vars %v", err, conv.Vars)
			}
			// Typed values are data: {{x}} is not expanded.
			if got := texts(tr)[0]; got != "Got "+tc.saved {
				t.Fatalf("message %q", got)
			}
		})
	}
}

func TestEngine_BranchOps(t *testing.T) {
	for _, tc := range []struct {
		op, val, value string
		set            bool
		want           bool
	}{
		{"equals", "shipped", "Shipped", true, true},
		{"equals", "42", "42.0", true, true},
		{"equals", "a", "b", true, false},
		{"not_equals", "a", "b", true, true},
		{"not_equals", "", "b", false, true},
		{"contains", "Order SHIPPED today", "shipped", true, true},
		{"contains", "x", "y", true, false},
		{"exists", "x", "", true, true},
		{"exists", "", "", false, false},
		{"not_exists", "", "", false, true},
		{"greater_than", "10", "9", true, true},
		{"greater_than", "9", "9", true, false},
		{"greater_than", "ten", "9", true, false},
		{"less_than", "8.5", "9", true, true},
		{"less_than", "9", "9", true, false},
	} {
		t.Run(tc.op+"_"+tc.val+"_"+tc.value, func(t *testing.T) {
			c := mustFlow(t, `{"start":"b","steps":[
				{"id":"b","type":"branch","conditions":[{"variable":"v","op":"`+tc.op+`","value":"`+tc.value+`","next":"t"}],"else":"f"},
				{"id":"t","type":"end","text":"true"},{"id":"f","type":"end","text":"false"}]}`)
			conv := &flow.Conversation{Vars: map[string]string{}}
			if tc.set {
				conv.Vars["v"] = tc.val
			}
			tr := newEngine().Start(context.Background(), c, conv)
			if got := texts(tr)[0] == "true"; got != tc.want {
				t.Fatalf("got %v want %v", got, tc.want)
			}
		})
	}
}

func TestEngine_BranchFirstTrueConditionWins(t *testing.T) {
	// v is "x": exists, equals "x" and contains "x" are all true for it;
	// not_exists and equals "y" are false. Each condition goes to its own
	// step, so the step reached tells which condition was taken.
	const (
		trueExists     = `"variable":"v","op":"exists"`
		trueEquals     = `"variable":"v","op":"equals","value":"x"`
		trueContains   = `"variable":"v","op":"contains","value":"x"`
		falseNotExists = `"variable":"v","op":"not_exists"`
		falseEquals    = `"variable":"v","op":"equals","value":"y"`
	)
	for _, tc := range []struct {
		name          string
		c0, c1, c2    string
		want, outcome string
	}{
		{"AllTrueTakesFirst", trueExists, trueEquals, trueContains, "first", "condition_0"},
		{"AllTrueOtherOrderTakesFirst", trueContains, trueExists, trueEquals, "first", "condition_0"},
		{"FirstFalseTakesSecond", falseNotExists, trueEquals, trueContains, "second", "condition_1"},
		{"OnlyLastTrueTakesThird", falseNotExists, falseEquals, trueExists, "third", "condition_2"},
		{"NoneTrueTakesElse", falseNotExists, falseEquals, falseNotExists, "else", "else"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustFlow(t, `{"start":"b","steps":[
				{"id":"b","type":"branch","conditions":[
					{`+tc.c0+`,"next":"first"},{`+tc.c1+`,"next":"second"},{`+tc.c2+`,"next":"third"}],"else":"else"},
				{"id":"first","type":"end","text":"first"},{"id":"second","type":"end","text":"second"},
				{"id":"third","type":"end","text":"third"},{"id":"else","type":"end","text":"else"}]}`)
			conv := &flow.Conversation{Vars: map[string]string{"v": "x"}}
			tr := newEngine().Start(context.Background(), c, conv)
			if got := texts(tr); len(got) != 1 || got[0] != tc.want {
				t.Fatalf("messages %q, want [%s]", got, tc.want)
			}
			if tr.Log[0].StepID != "b" || tr.Log[0].Outcome != tc.outcome || tr.Log[0].Next != tc.want {
				t.Fatalf("branch log %+v, want outcome %s next %s", tr.Log[0], tc.outcome, tc.want)
			}
		})
	}
}

func TestEngine_LoopWithoutInputStopsAtStepCap(t *testing.T) {
	c := mustFlow(t, `{"start":"a","steps":[
		{"id":"a","type":"set_variable","variable":"n","value":"x{{n}}","next":"b"},
		{"id":"b","type":"branch","conditions":[{"variable":"n","op":"exists","next":"a"}],"else":"a"}]}`)
	conv := &flow.Conversation{}
	tr := newEngine().Start(context.Background(), c, conv)
	if conv.Status != flow.StatusError {
		t.Fatalf("status %s", conv.Status)
	}
	last := tr.Log[len(tr.Log)-1]
	if last.Outcome != "step_limit" || len(tr.Log) != flow.MaxStepsPerTurn+1 {
		t.Fatalf("log has %d entries, last %+v", len(tr.Log), last)
	}
}

// messageChain returns a flow of n message steps, each going to the next,
// the last to "end here": a turn that starts it runs exactly n steps.
func messageChain(n int) *flow.Compiled {
	f := flow.Flow{Start: "s0"}
	for i := range n {
		st := flow.Step{ID: "s" + strconv.Itoa(i), Type: flow.TypeMessage, Text: "m" + strconv.Itoa(i)}
		if i < n-1 {
			st.Next = "s" + strconv.Itoa(i+1)
		}
		f.Steps = append(f.Steps, st)
	}
	return flow.Compile(&f)
}

func TestEngine_StepCapEdge(t *testing.T) {
	// SPEC §4: a turn runs at most 100 steps.
	if flow.MaxStepsPerTurn != 100 {
		t.Fatalf("MaxStepsPerTurn = %d, want 100 (SPEC §4)", flow.MaxStepsPerTurn)
	}
	for _, tc := range []struct {
		name        string
		steps       int
		wantStatus  string
		wantLog     int
		wantOutcome string
	}{
		{"OKExactlyCap", flow.MaxStepsPerTurn, flow.StatusEnded, flow.MaxStepsPerTurn, "ok"},
		{"ErrOneOverCap", flow.MaxStepsPerTurn + 1, flow.StatusError, flow.MaxStepsPerTurn + 1, "step_limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conv := &flow.Conversation{}
			tr := newEngine().Start(context.Background(), messageChain(tc.steps), conv)
			if conv.Status != tc.wantStatus || conv.Awaiting.Type != flow.AwaitNone {
				t.Fatalf("status %s awaiting %+v, want status %s awaiting none", conv.Status, conv.Awaiting, tc.wantStatus)
			}
			if len(tr.Messages) != flow.MaxStepsPerTurn {
				t.Fatalf("%d messages, want %d (one per step run)", len(tr.Messages), flow.MaxStepsPerTurn)
			}
			last := tr.Log[len(tr.Log)-1]
			if len(tr.Log) != tc.wantLog || last.Outcome != tc.wantOutcome || last.StepType != flow.TypeMessage {
				t.Fatalf("log has %d entries, last %+v; want %d entries, last outcome %q", len(tr.Log), last, tc.wantLog, tc.wantOutcome)
			}
		})
	}
}

func TestEngine_OptionsFromArrayVariable(t *testing.T) {
	c := mustFlow(t, `{"start":"o","steps":[
		{"id":"o","type":"options","text":"Which order?","options_from":{"variable":"orders","label_path":"$.name","value_variable":"order","next":"m"}},
		{"id":"m","type":"message","text":"You chose {{order}}"}]}`)
	conv := &flow.Conversation{Vars: map[string]string{"orders": `[{"id":1,"name":"Shoes"},{"id":2,"name":"Hat"},{"id":3,"name":"Scarf"}]`}}
	e := newEngine()
	e.Start(context.Background(), c, conv)
	if len(conv.Awaiting.Options) != 3 || conv.Awaiting.Options[1].Label != "Hat" {
		t.Fatalf("options = %+v", conv.Awaiting.Options)
	}
	tr, err := e.Reply(context.Background(), c, conv, flow.Input{Text: "hat"})
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(tr)[0]; got != `You chose {"id":2,"name":"Hat"}` {
		t.Fatalf("got %q", got)
	}
}

func TestEngine_SystemVariablesAndSetVariable(t *testing.T) {
	c := mustFlow(t, `{"start":"s","steps":[
		{"id":"s","type":"set_variable","variable":"greet","value":"{{user.name}} ({{user.authenticated}}, {{conversation.id}})","next":"m"},
		{"id":"m","type":"message","text":"{{greet}}"}]}`)
	conv := &flow.Conversation{ID: "cv", User: flow.User{Name: "Bo", Authenticated: true}}
	tr := newEngine().Start(context.Background(), c, conv)
	if got := texts(tr)[0]; got != "Bo (true, cv)" {
		t.Fatalf("got %q", got)
	}
}

func TestTurnTimeUp(t *testing.T) {
	if flow.TurnTimeUp(context.Background()) != nil {
		t.Fatal("no deadline: time is not up")
	}
	ctx, cancel := context.WithTimeoutCause(context.Background(), time.Hour, &flow.TurnTimeoutError{Limit: time.Hour})
	defer cancel()
	if flow.TurnTimeUp(ctx) != nil {
		t.Fatal("an hour left: time is not up")
	}
	ctx, cancel = context.WithTimeoutCause(context.Background(), 20*time.Millisecond, &flow.TurnTimeoutError{Limit: 20 * time.Millisecond})
	defer cancel()
	time.Sleep(30 * time.Millisecond)
	if e := flow.TurnTimeUp(ctx); e == nil || e.Error() != "a turn may take at most 20ms" {
		t.Fatalf("after the turn's deadline: %v", e)
	}
	// A step's own timeout is not the turn's.
	ctx, cancel = context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	time.Sleep(5 * time.Millisecond)
	if flow.TurnTimeUp(ctx) != nil {
		t.Fatal("a plain deadline was taken for the turn's")
	}
}

// TestInputDigest: the digest tells apart inputs whose fields differ only
// in where one ends and the other starts.
func TestInputDigest(t *testing.T) {
	a := flow.Input{OptionID: "a", Text: "b\x00"}
	b := flow.Input{OptionID: "a\x00b"}
	c := flow.Input{OptionID: "a\x00", Text: "b"}
	if a.Digest() == b.Digest() || a.Digest() == c.Digest() || b.Digest() == c.Digest() {
		t.Fatal("two different inputs share a digest")
	}
	if a.Digest() != (flow.Input{OptionID: "a", Text: "b\x00", Key: "other"}).Digest() {
		t.Fatal("the key changed the digest")
	}
}

// A conversation takes MaxTurnsPerConversation replies; the next one is
// not taken and ends it with status error, logged as turn_limit, and
// later messages are refused as for any ended conversation.
func TestEngine_TurnCapEdge(t *testing.T) {
	c := mustFlow(t, `{"start":"a","steps":[
		{"id":"a","type":"ask","text":"Say something","variable":"x","next":"m"},
		{"id":"m","type":"message","text":"You said {{x}}","next":"a"}]}`)
	e := newEngine()
	conv := &flow.Conversation{}
	e.Start(context.Background(), c, conv)
	conv.Turns = flow.MaxTurnsPerConversation - 1
	tr, err := e.Reply(context.Background(), c, conv, flow.Input{Text: "last"})
	if err != nil || conv.Status != flow.StatusActive || conv.Turns != flow.MaxTurnsPerConversation || texts(tr)[0] != "You said last" {
		t.Fatalf("reply %d: err %v, status %s, turns %d, messages %q", flow.MaxTurnsPerConversation, err, conv.Status, conv.Turns, texts(tr))
	}
	tr, err = e.Reply(context.Background(), c, conv, flow.Input{Text: "one more"})
	if err != nil || conv.Status != flow.StatusError || conv.Turns != flow.MaxTurnsPerConversation {
		t.Fatalf("reply %d: err %v, status %s, turns %d", flow.MaxTurnsPerConversation+1, err, conv.Status, conv.Turns)
	}
	if len(tr.Log) != 1 || tr.Log[0].Outcome != flow.OutcomeTurnLimit || tr.Log[0].StepID != "a" || len(texts(tr)) != 0 {
		t.Fatalf("log %+v, messages %q; want one turn_limit entry at the waiting step and no message", tr.Log, texts(tr))
	}
	for _, e := range tr.Transcript {
		if e.Text == "one more" {
			t.Fatal("the refused reply is in the transcript")
		}
	}
	if _, err := e.Reply(context.Background(), c, conv, flow.Input{Text: "again"}); flow.ErrorCode(err) != flow.ECONFLICT {
		t.Fatalf("after the cap: %v, want ECONFLICT", err)
	}
}
