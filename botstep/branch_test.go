package botstep

import (
	"strings"
	"testing"

	"github.com/flowbot/flowbot/flow"
)

func TestCheckBranch(t *testing.T) {
	b := func(cs ...flow.Condition) flow.Step {
		return flow.Step{Type: flow.TypeBranch, Conditions: cs, Else: "e"}
	}
	c := func(v, op, val string) flow.Condition {
		return flow.Condition{Variable: v, Op: op, Value: val, Next: "n"}
	}
	many := func(n int) flow.Step {
		cs := make([]flow.Condition, n)
		for i := range cs {
			cs[i] = c("x", "equals", "1")
		}
		return b(cs...)
	}
	cases := []stepCase{
		{name: "OKEveryOp", step: b(c("a", "equals", "x"), c("a", "not_equals", "{{b}}"), c("a", "contains", "x"),
			c("a", "exists", ""), c("a", "not_exists", ""), c("a", "greater_than", "10"), c("a", "less_than", " -1.5 "))},
		{name: "OKSystemVariable", step: b(c("user.authenticated", "equals", "true"), c("conversation.id", "exists", ""))},
		{name: "OKVariableEdge", step: b(c(strings.Repeat("v", 64), "exists", ""))},
		{name: "OKTwentyConditions", step: many(20)},
		{name: "OKNoConditions", step: b()},
		{name: "ErrTwentyOneConditions", step: many(21), want: []string{"/conditions too_many_conditions"},
			msg: "conditions has 21 conditions; the limit is 20"},
		{name: "ErrVariableTooLong", step: b(c(strings.Repeat("v", 65), "exists", "")), want: []string{"/conditions/0/variable invalid_variable_name"}},
		{name: "ErrVariableMissing", step: b(c("", "exists", "")), want: []string{"/conditions/0/variable missing_field"}},
		{name: "ErrVariableUnknownSystem", step: b(c("user.phone", "exists", "")), want: []string{"/conditions/0/variable invalid_variable_name"}},
		{name: "ErrInvalidOperator", step: b(c("a", "==", "x")), want: []string{"/conditions/0/op invalid_operator"}},
		{name: "ErrMissingOperator", step: b(c("a", "", "x")), want: []string{"/conditions/0/op missing_field"}},
		{name: "ErrMissingValue", step: b(c("a", "equals", "")), want: []string{"/conditions/0/value missing_field"}},
		{name: "ErrValueWithExists", step: b(c("a", "exists", "x")), want: []string{"/conditions/0/value field_not_allowed"}},
		{name: "ErrValueTemplate", step: b(c("a", "equals", "{{B}}")), want: []string{"/conditions/0/value invalid_template_variable"}},
		{name: "ErrValueUnclosed", step: b(c("a", "equals", "{{b")), want: []string{"/conditions/0/value unclosed_template"}},
		{name: "WarnValueNotNumber", step: b(c("a", "greater_than", "ten")), want: []string{"/conditions/0/value value_not_number (warning)"}},
		{name: "OKValueTemplateNotChecked", step: b(c("a", "less_than", "{{limit}}"))},
		{name: "ErrTextOnBranch", step: flow.Step{Type: flow.TypeBranch, Text: "x", Next: "y"},
			want: []string{"/text field_not_allowed", "/next field_not_allowed"}},
	}
	runStepCases(t, cases)
}
