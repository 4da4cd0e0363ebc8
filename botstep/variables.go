package botstep

import (
	"fmt"
	"strconv"

	"github.com/flowbot/flowbot/flow"
)

// checkResponseVariables (SPEC §3 rule 8): at most flow.MaxResponseVars;
// names are designer variables, unique in the step; each path is a
// JSONPath from "$" or one of "$status" and "$headers.<header-name>"
// (see ParseResponsePath).
func checkResponseVariables(p *flow.Problems, vs []flow.ResponseVariable, ptr string) {
	if len(vs) > flow.MaxResponseVars {
		p.Add(ptr, CodeTooManyVariables, fmt.Sprintf("variables has %d variables; the limit is %d", len(vs), flow.MaxResponseVars))
	}
	firstUse := make(map[string]int, len(vs))
	for i := range vs {
		v := &vs[i]
		vp := ptr + "/" + strconv.Itoa(i)
		checkWriteVariable(p, vp+"/name", "name", v.Name)
		if j, dup := firstUse[v.Name]; dup && v.Name != "" {
			p.Add(vp+"/name", CodeDuplicateVariable, fmt.Sprintf("name %s is already used by variable %d; names must be unique in the step", flow.Quote(v.Name), j))
		} else {
			firstUse[v.Name] = i
		}
		checkResponsePath(p, v.Path, vp+"/path")
	}
}

func checkResponsePath(p *flow.Problems, path, ptr string) {
	if path == "" {
		p.Add(ptr, CodeMissingField, "path is required, for example $.order.status")
	} else if _, err := ParseResponsePath(path); err != nil {
		p.Add(ptr, CodeInvalidJSONPath, "path "+err.Error())
	}
}

// checkSuccessWhen: at most flow.MaxSuccessConditions tests, each with a
// path a response variable could have and a branch operator.
func checkSuccessWhen(p *flow.Problems, cs []flow.SuccessCondition, ptr string) {
	if len(cs) > flow.MaxSuccessConditions {
		p.Add(ptr, CodeTooManyConditions, fmt.Sprintf("success_when has %d conditions; the limit is %d", len(cs), flow.MaxSuccessConditions))
	}
	for i := range cs {
		cp := ptr + "/" + strconv.Itoa(i)
		checkResponsePath(p, cs[i].Path, cp+"/path")
		checkOpValue(p, cs[i].Op, cs[i].Value, cp)
	}
}
