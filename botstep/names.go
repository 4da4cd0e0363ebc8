package botstep

import (
	"fmt"

	"github.com/flowbot/flowbot/flow"
)

// MaxVariableNameLen is the longest variable name.
const MaxVariableNameLen = flow.MaxVariableNameLen

// IsVariableName reports whether s is a designer variable name:
// ^[a-z0-9_]{1,64}$ (the rule lives in flow, which the runtime also uses).
func IsVariableName(s string) bool { return flow.IsVariableName(s) }

// IsReadableVariable reports whether a template or a branch condition may
// read s: a variable name or one of flow.SystemVariables, which no step
// may write.
func IsReadableVariable(s string) bool { return IsVariableName(s) || flow.IsSystemVariable(s) }

// checkReadVariable reports a variable a step reads (a branch condition,
// options_from.variable): a designer variable or a system variable.
func checkReadVariable(p *flow.Problems, ptr, field, name string) {
	switch {
	case name == "":
		p.Add(ptr, CodeMissingField, field+" is required")
	case !IsReadableVariable(name):
		p.Add(ptr, CodeInvalidVariableName, variableNameProblem(field, name)+", or a system variable such as user.email")
	}
}

// checkWriteVariable reports a variable a step writes (ask,
// set_variable, options_from.value_variable, api_call variables): a
// designer variable, never a system variable.
func checkWriteVariable(p *flow.Problems, ptr, field, name string) {
	switch {
	case name == "":
		p.Add(ptr, CodeMissingField, field+" is required")
	case flow.IsSystemVariable(name):
		p.Add(ptr, CodeSystemVariableWrite, fmt.Sprintf("%s %s is a read-only system variable; choose another name", field, flow.Quote(name)))
	case !IsVariableName(name):
		p.Add(ptr, CodeInvalidVariableName, variableNameProblem(field, name))
	}
}

func variableNameProblem(field, name string) string {
	if len(name) > MaxVariableNameLen {
		return fmt.Sprintf("%s is %d characters; the limit is %d", field, len(name), MaxVariableNameLen)
	}
	return fmt.Sprintf("%s %s is invalid: use 1 to 64 lowercase letters, digits or \"_\"", field, flow.Quote(name))
}
