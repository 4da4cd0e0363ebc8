package flow

import (
	"encoding/json"
	"math"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ohler55/ojg/jp"
	"github.com/ohler55/ojg/oj"
)

// maxInputLen caps what a user may type in one message.
const maxInputLen = 4096

// answer applies the user's input to the waiting step st. It returns the
// step to run next, or ok=false when the step asks again.
func (r *run) answer(st *Step, in Input) (next string, ok bool) {
	text := strings.TrimSpace(in.Text)
	if utf8.RuneCountInString(text) > maxInputLen {
		text = string([]rune(text)[:maxInputLen])
	}
	entry := Entry{From: "user", Text: text, OptionID: in.OptionID, StepID: st.ID}
	switch st.Type {
	case TypeOptions:
		opts := r.conv.Awaiting.Options
		chosen := -1
		for i, o := range opts {
			if (in.OptionID != "" && o.ID == in.OptionID) || (in.OptionID == "" && strings.EqualFold(strings.TrimSpace(o.Label), text)) {
				chosen = i
				break
			}
		}
		if chosen < 0 {
			r.transcript(entry)
			r.reask(st, "Please choose one of the options.", OutcomeInvalidChoice)
			return "", false
		}
		entry.Text, entry.OptionID = opts[chosen].Label, opts[chosen].ID
		r.transcript(entry)
		if st.OptionsFrom != nil && len(st.Options) == 0 {
			items := r.items(st.OptionsFrom)
			i, _ := strconv.Atoi(opts[chosen].ID)
			if i >= 1 && i <= len(items) {
				r.conv.Vars[st.OptionsFrom.ValueVariable] = asText(items[i-1])
			}
			next = st.OptionsFrom.Next
		} else {
			next = st.Options[chosen].Next
		}
		r.log(LogEntry{StepID: st.ID, StepType: st.Type, Outcome: OutcomeChosen, Next: next, Detail: map[string]string{"option_id": opts[chosen].ID}})
		return next, true
	case TypeAsk:
		r.transcript(entry)
		if in.OptionID != "" && text == "" {
			r.reask(st, "Please type your answer.", OutcomeInvalidInput)
			return "", false
		}
		v, valid := validInput(st.Input, text)
		if !valid {
			msg := st.InvalidText
			if msg == "" {
				msg = defaultInvalid(st.Input)
			}
			r.reask(st, msg, OutcomeInvalidInput)
			return "", false
		}
		r.conv.Vars[st.Variable] = v
		r.log(LogEntry{StepID: st.ID, StepType: st.Type, Outcome: OutcomeAnswered, Next: st.Next, Detail: map[string]string{"variable": st.Variable}})
		return st.Next, true
	}
	r.transcript(entry)
	return "", false
}

// reask says why the reply was not taken and keeps waiting on the step.
func (r *run) reask(st *Step, msg, outcome string) {
	r.say(st.ID, Interpolate(msg, r.vars))
	r.log(LogEntry{StepID: st.ID, StepType: st.Type, Outcome: outcome})
}

func defaultInvalid(input string) string {
	switch input {
	case InputEmail:
		return "That doesn't look like an email address. Please try again."
	case InputNumber:
		return "Please answer with a number."
	case InputPhone:
		return "That doesn't look like a phone number. Please try again."
	}
	return "Please type your answer."
}

var phoneRE = regexp.MustCompile(`^\+?[0-9][0-9 ()./-]{4,24}$`)

// validInput checks a reply against an ask step's input type and returns
// the value to save.
func validInput(input, text string) (string, bool) {
	if text == "" {
		return "", false
	}
	switch input {
	case InputEmail:
		a, err := mail.ParseAddress(text)
		if err != nil || a.Address != text || !strings.Contains(text[strings.LastIndexByte(text, '@'):], ".") {
			return "", false
		}
		return text, true
	case InputNumber:
		f, err := strconv.ParseFloat(strings.ReplaceAll(text, ",", "."), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return "", false
		}
		return strconv.FormatFloat(f, 'f', -1, 64), true
	case InputPhone:
		digits := 0
		for _, c := range text {
			if c >= '0' && c <= '9' {
				digits++
			}
		}
		if !phoneRE.MatchString(text) || digits < 5 || digits > 15 {
			return "", false
		}
		return text, true
	}
	return text, true
}

// options returns the replies an options step offers: its own, or one per
// element of the array in options_from.variable.
func (r *run) options(st *Step) []AwaitOption {
	if st.OptionsFrom == nil || len(st.Options) > 0 {
		opts := make([]AwaitOption, len(st.Options))
		for i, o := range st.Options {
			opts[i] = AwaitOption{ID: o.ID, Label: Interpolate(o.Label, r.vars)}
		}
		return opts
	}
	items := r.items(st.OptionsFrom)
	x, _ := jp.ParseString(st.OptionsFrom.LabelPath)
	var opts []AwaitOption
	for i, it := range items {
		label := asText(it)
		if x != nil {
			if got := x.Get(it); len(got) > 0 {
				label = asText(got[0])
			}
		}
		opts = append(opts, AwaitOption{ID: strconv.Itoa(i + 1), Label: label})
	}
	return opts
}

// items decodes the JSON array held in the options_from variable (at most
// MaxOptions elements are offered).
func (r *run) items(of *OptionsFrom) []any {
	raw, ok := r.conv.Vars[of.Variable]
	if !ok {
		return nil
	}
	v, err := oj.ParseString(raw)
	if err != nil {
		return nil
	}
	arr, _ := v.([]any)
	if len(arr) > MaxOptions {
		arr = arr[:MaxOptions]
	}
	return arr
}

// asText renders a JSON value as a variable's text: strings as they are,
// everything else as compact JSON.
func asText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// evaluate tests one branch condition.
func evaluate(c Condition, vars Lookup) bool {
	v, set := vars(c.Variable)
	return Compare(c.Op, v, set, Interpolate(c.Value, vars))
}

// Compare applies a branch operator to a value (v, and whether it is set
// at all) and the wanted value, as a branch step does: equals compares
// numbers as numbers and text ignoring case and surrounding space,
// contains ignores case, greater_than and less_than need two numbers, and
// an empty value does not exist.
func Compare(op, v string, set bool, want string) bool {
	switch op {
	case OpExists:
		return set && v != ""
	case OpNotExists:
		return !set || v == ""
	case OpEquals:
		return set && equalValues(v, want)
	case OpNotEquals:
		return !set || !equalValues(v, want)
	case OpContains:
		return set && strings.Contains(strings.ToLower(v), strings.ToLower(want))
	case OpGreaterThan, OpLessThan:
		a, errA := strconv.ParseFloat(strings.TrimSpace(v), 64)
		b, errB := strconv.ParseFloat(strings.TrimSpace(want), 64)
		if !set || errA != nil || errB != nil {
			return false
		}
		if op == OpGreaterThan {
			return a > b
		}
		return a < b
	}
	return false
}

// equalValues compares as numbers when both sides are numbers ("42" equals
// "42.0"), else as text ignoring case and surrounding space.
func equalValues(a, b string) bool {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	fa, errA := strconv.ParseFloat(a, 64)
	fb, errB := strconv.ParseFloat(b, 64)
	if errA == nil && errB == nil {
		return fa == fb
	}
	return strings.EqualFold(a, b)
}
