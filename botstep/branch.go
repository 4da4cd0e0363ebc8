package botstep

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/flowbot/flowbot/flow"
)

// checkBranch: at most flow.MaxConditionsPerStep conditions; each reads a
// designer or system variable with one of flow.BranchOps; value is a
// template, required except for exists and not_exists (where it is not
// allowed). Comparing with greater_than or less_than against a literal
// that is not a number draws a warning.
func checkBranch(p *flow.Problems, s *flow.Step, ptr string) {
	if n := len(s.Conditions); n > flow.MaxConditionsPerStep {
		p.Add(ptr+"/conditions", CodeTooManyConditions,
			fmt.Sprintf("conditions has %d conditions; the limit is %d", n, flow.MaxConditionsPerStep))
	}
	for i := range s.Conditions {
		checkCondition(p, &s.Conditions[i], ptr+"/conditions/"+strconv.Itoa(i))
	}
}

func checkCondition(p *flow.Problems, c *flow.Condition, ptr string) {
	checkReadVariable(p, ptr+"/variable", "variable", c.Variable)
	checkOpValue(p, c.Op, c.Value, ptr)
}

// checkOpValue checks a condition's op and value (a branch step's, or an
// api_call's success_when): op is one of flow.BranchOps; value is a
// template, required except for exists and not_exists (where it is not
// allowed), and should be a number for greater_than and less_than.
func checkOpValue(p *flow.Problems, op, value, ptr string) {
	switch op {
	case flow.OpExists, flow.OpNotExists:
		if value != "" {
			p.Add(ptr+"/value", CodeFieldNotAllowed, "value is not used by op "+op+"; remove it")
		}
		return
	case flow.OpEquals, flow.OpNotEquals, flow.OpContains, flow.OpGreaterThan, flow.OpLessThan:
	case "":
		p.Add(ptr+"/op", CodeMissingField, "op is required; use one of "+strings.Join(flow.BranchOps, ", "))
	default:
		p.Add(ptr+"/op", CodeInvalidOperator, fmt.Sprintf("op %s is not an operator; use one of %s",
			flow.Quote(op), strings.Join(flow.BranchOps, ", ")))
	}
	if value == "" {
		if op != "" {
			p.Add(ptr+"/value", CodeMissingField, "value is required for op "+op)
		}
		return
	}
	refs, _ := checkTemplate(p, ptr+"/value", "value", value)
	checkLength(p, ptr+"/value", "value", value)
	if (op == flow.OpGreaterThan || op == flow.OpLessThan) && len(refs) == 0 {
		if _, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err != nil {
			p.Warn(ptr+"/value", CodeValueNotNumber,
				fmt.Sprintf("value %s is not a number; %s compares numbers", flow.Quote(value), op))
		}
	}
}
