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
	switch c.Op {
	case flow.OpExists, flow.OpNotExists:
		if c.Value != "" {
			p.Add(ptr+"/value", CodeFieldNotAllowed, "value is not used by op "+c.Op+"; remove it")
		}
		return
	case flow.OpEquals, flow.OpNotEquals, flow.OpContains, flow.OpGreaterThan, flow.OpLessThan:
	case "":
		p.Add(ptr+"/op", CodeMissingField, "op is required; use one of "+strings.Join(flow.BranchOps, ", "))
	default:
		p.Add(ptr+"/op", CodeInvalidOperator, fmt.Sprintf("op %s is not an operator; use one of %s",
			flow.Quote(c.Op), strings.Join(flow.BranchOps, ", ")))
	}
	if c.Value == "" {
		if c.Op != "" {
			p.Add(ptr+"/value", CodeMissingField, "value is required for op "+c.Op)
		}
		return
	}
	refs, _ := checkTemplate(p, ptr+"/value", "value", c.Value)
	checkLength(p, ptr+"/value", "value", c.Value)
	if (c.Op == flow.OpGreaterThan || c.Op == flow.OpLessThan) && len(refs) == 0 {
		if _, err := strconv.ParseFloat(strings.TrimSpace(c.Value), 64); err != nil {
			p.Warn(ptr+"/value", CodeValueNotNumber,
				fmt.Sprintf("value %s is not a number; %s compares numbers", flow.Quote(c.Value), c.Op))
		}
	}
}
