package botstep

import (
	"fmt"

	"github.com/flowbot/flowbot/flow"
)

// Validate runs every static rule against f: the graph checks of
// flow.ValidateGraph, then each step's own fields, and for api_call steps
// that both branches are set. conns holds the existing connections by
// name (nil: none exist). Problems come graph first, then step by step.
func Validate(f *flow.Flow, conns map[string]ConnectionInfo) flow.Problems {
	p := flow.ValidateGraph(f)
	for i := range f.Steps {
		s := &f.Steps[i]
		ptr := flow.StepPointer(i, "")
		checkStep(&p, s, ptr, conns)
		if s.Type == flow.TypeAPICall {
			checkAPICallBranches(&p, s, ptr)
		}
	}
	checkEmailsInPaths(&p, f)
	return p
}

// checkEmailsInPaths warns about an api_call whose URL path holds a
// variable that is always an email address: {{user.email}}, or the
// variable of an ask step whose input is email. An email address always
// has a period, which a path value may not hold (SPEC §3 rule 4), so the
// call would always take the failure branch. A query value may hold it.
func checkEmailsInPaths(p *flow.Problems, f *flow.Flow) {
	emails := map[string]string{"user.email": "is the user's email address"}
	for i := range f.Steps {
		if s := &f.Steps[i]; s.Type == flow.TypeAsk && s.Input == flow.InputEmail && s.Variable != "" {
			emails[s.Variable] = "holds an email address (ask step " + flow.Quote(s.ID) + ")"
		}
	}
	for i := range f.Steps {
		s := &f.Steps[i]
		if s.Type != flow.TypeAPICall || !holdsAny(s.URL, emails) {
			continue // no email variable in it: no need to parse it again
		}
		t, err := ParseURLTemplate(s.URL)
		if err != nil {
			continue // reported by the step's own checks
		}
		for _, seg := range t.Path {
			for _, part := range seg.Parts {
				if what, ok := emails[part.Var]; ok {
					p.Warn(flow.StepPointer(i, "/url"), CodeEmailInPath, fmt.Sprintf(
						"{{%s}} %s, which always contains a period, and a URL path value may not: the call would always take the failure branch. Put it in a query value instead (?email={{%s}}) or in the body of a POST or PUT",
						part.Var, what, part.Var))
				}
			}
		}
	}
}

// ValidateStep checks one step's own fields, with ptr ("/steps/3", or ""
// for a bare step) prefixing every pointer. It does not check where the
// step's targets lead, nor that an api_call's branches are set: those are
// properties of the flow (Validate). An unknown type gives no problems
// here; flow.ValidateGraph reports it.
func ValidateStep(s *flow.Step, ptr string, conns map[string]ConnectionInfo) flow.Problems {
	var p flow.Problems
	checkStep(&p, s, ptr, conns)
	return p
}

func checkStep(p *flow.Problems, s *flow.Step, ptr string, conns map[string]ConnectionInfo) {
	checkFields(p, s, ptr)
	switch s.Type {
	case flow.TypeMessage:
		checkMessage(p, s, ptr)
	case flow.TypeOptions:
		checkOptions(p, s, ptr)
	case flow.TypeAsk:
		checkAsk(p, s, ptr)
	case flow.TypeAPICall:
		checkAPICall(p, s, ptr, conns)
	case flow.TypeBranch:
		checkBranch(p, s, ptr)
	case flow.TypeSetVariable:
		checkSetVariable(p, s, ptr)
	case flow.TypeTransfer:
		checkTransfer(p, s, ptr)
	case flow.TypeEnd:
		checkEnd(p, s, ptr)
	}
}

// holdsAny reports whether url names one of the variables in vars, with
// the scanner that validation and the runtime share.
func holdsAny(url string, vars map[string]string) bool {
	refs, _ := flow.ScanTemplate(url)
	for _, r := range refs {
		if _, ok := vars[r.Name]; ok {
			return true
		}
	}
	return false
}
