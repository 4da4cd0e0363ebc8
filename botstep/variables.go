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
		if v.Path == "" {
			p.Add(vp+"/path", CodeMissingField, "path is required, for example $.order.status")
		} else if _, err := ParseResponsePath(v.Path); err != nil {
			p.Add(vp+"/path", CodeInvalidJSONPath, "path "+err.Error())
		}
	}
}
