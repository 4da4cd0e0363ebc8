package botstep

import "github.com/flowbot/flowbot/flow"

// checkSetVariable: variable is a designer variable (never a system one);
// value is an optional template ("" clears the variable's text).
func checkSetVariable(p *flow.Problems, s *flow.Step, ptr string) {
	checkWriteVariable(p, ptr+"/variable", "variable", s.Variable)
	checkText(p, ptr+"/value", "value", s.Value, false)
}
