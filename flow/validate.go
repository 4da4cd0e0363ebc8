package flow

import (
	"fmt"
	"strconv"
	"strings"
)

// Problem codes reported by ValidateGraph.
const (
	CodeTooManySteps    = "too_many_steps"    // more than MaxStepsPerFlow steps
	CodeInvalidStepID   = "invalid_step_id"   // id empty or not ^[a-z0-9_-]{1,64}$
	CodeDuplicateStepID = "duplicate_step_id" // a second step with the same id
	CodeUnknownStepType = "unknown_step_type" // type empty or not one of StepTypes
	CodeMissingStart    = "missing_start"     // start is empty
	CodeUnknownStart    = "unknown_start"     // start names no step
	CodeUnknownTarget   = "unknown_target"    // a next/branch field names no step
	CodeUnreachableStep = "unreachable_step"  // warning: no path from start
)

// MaxIDLen is the longest step or option id.
const MaxIDLen = 64

// IsValidID reports whether s is a valid step or option id:
// ^[a-z0-9_-]{1,64}$.
func IsValidID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// IDProblem explains why s is not a valid id, naming field ("step id",
// "option id"), or returns "" when it is valid.
func IDProblem(field, s string) string {
	switch {
	case s == "":
		return field + " is empty; use 1 to 64 lowercase letters, digits, \"_\" or \"-\""
	case len(s) > MaxIDLen:
		return fmt.Sprintf("%s is %d characters; the limit is %d", field, len(s), MaxIDLen)
	case !IsValidID(s):
		return fmt.Sprintf("%s %s is invalid: use only lowercase letters, digits, \"_\" or \"-\"", field, Quote(s))
	}
	return ""
}

// IsStepType reports whether t is one of StepTypes.
func IsStepType(t string) bool {
	switch t {
	case TypeMessage, TypeOptions, TypeAsk, TypeAPICall, TypeBranch, TypeSetVariable, TypeTransfer, TypeEnd:
		return true
	}
	return false
}

// Quote quotes s for a problem message, shortening it past 64 bytes so a
// huge bad value does not make a huge message.
func Quote(s string) string {
	const max = 64
	if len(s) > max {
		cut := max
		for cut > 0 && s[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}

// ValidateGraph checks the shape of f without looking inside steps: step
// ids are valid and unique, types are known, start and every non-empty
// target name an existing step, and every step can be reached from start
// (a warning). An empty target means "end here" and is not reported; which
// targets are required is a per-step rule. It runs in time linear in the
// size of f.
func ValidateGraph(f *Flow) Problems {
	var p Problems
	if len(f.Steps) > MaxStepsPerFlow {
		p.Add("/steps", CodeTooManySteps, fmt.Sprintf("steps has %d steps; the limit is %d", len(f.Steps), MaxStepsPerFlow))
	}
	idx := indexSteps(f, &p)
	start, startOK := checkStart(f, idx, &p)
	targets := make([][]Target, len(f.Steps)) // computed once: Targets allocates
	for i := range f.Steps {
		targets[i] = f.Steps[i].Targets()
	}
	checkTargets(targets, idx, &p)
	if startOK {
		warnUnreachable(f, targets, idx, start, &p)
	}
	return p
}

// indexSteps maps ids to the first step using them and reports bad ids,
// duplicates and unknown types. An invalid but non-empty id is still
// indexed so that targets naming it do not report a second problem.
func indexSteps(f *Flow, p *Problems) map[string]int {
	idx := make(map[string]int, len(f.Steps))
	for i := range f.Steps {
		s := &f.Steps[i]
		if msg := IDProblem("step id", s.ID); msg != "" {
			p.Add(StepPointer(i, "/id"), CodeInvalidStepID, msg)
		}
		if s.ID != "" {
			if j, dup := idx[s.ID]; dup {
				p.Add(StepPointer(i, "/id"), CodeDuplicateStepID,
					fmt.Sprintf("step id %s is already used by step %d; step ids must be unique", Quote(s.ID), j))
			} else {
				idx[s.ID] = i
			}
		}
		if !IsStepType(s.Type) {
			p.Add(StepPointer(i, "/type"), CodeUnknownStepType, typeProblem(s.Type))
		}
	}
	return idx
}

func typeProblem(t string) string {
	list := strings.Join(StepTypes, ", ")
	if t == "" {
		return "type is empty; use one of " + list
	}
	return fmt.Sprintf("type %s is not a step type; use one of %s", Quote(t), list)
}

func checkStart(f *Flow, idx map[string]int, p *Problems) (int, bool) {
	if f.Start == "" {
		p.Add("/start", CodeMissingStart, "start is empty; name the step the conversation begins with")
		return 0, false
	}
	i, ok := idx[f.Start]
	if !ok {
		p.Add("/start", CodeUnknownStart, fmt.Sprintf("start names step %s, which does not exist", Quote(f.Start)))
	}
	return i, ok
}

func checkTargets(targets [][]Target, idx map[string]int, p *Problems) {
	for i, ts := range targets {
		for _, t := range ts {
			if t.StepID == "" {
				continue
			}
			if _, ok := idx[t.StepID]; !ok {
				p.Add(StepPointer(i, t.Field), CodeUnknownTarget,
					fmt.Sprintf("%s names step %s, which does not exist", fieldName(t.Field), Quote(t.StepID)))
			}
		}
	}
}

// fieldName turns a relative pointer such as "/options/1/next" into the
// name a message uses ("options/1/next").
func fieldName(rel string) string { return strings.TrimPrefix(rel, "/") }

// warnUnreachable walks the graph from start with an explicit stack (a
// 10,000-step chain must not recurse 10,000 deep) and warns about every
// step, other than a duplicate, that the walk never reaches.
func warnUnreachable(f *Flow, targets [][]Target, idx map[string]int, start int, p *Problems) {
	seen := make([]bool, len(f.Steps))
	stack := []int{start}
	seen[start] = true
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, t := range targets[i] {
			j, ok := idx[t.StepID]
			if ok && !seen[j] {
				seen[j] = true
				stack = append(stack, j)
			}
		}
	}
	for i := range f.Steps {
		s := &f.Steps[i]
		if seen[i] || s.ID == "" || idx[s.ID] != i {
			continue
		}
		p.Warn(StepPointer(i, ""), CodeUnreachableStep,
			fmt.Sprintf("step %s cannot be reached from the start step %s", Quote(s.ID), Quote(f.Start)))
	}
}
