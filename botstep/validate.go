package botstep

import (
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
	return p
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
