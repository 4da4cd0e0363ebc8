package botstep

import (
	"fmt"
	"strings"

	"github.com/flowbot/flowbot/flow"
)

// checkAsk: text and invalid_text are optional templates; variable is a
// designer variable; input is text, email, number or phone, and empty
// means text.
func checkAsk(p *flow.Problems, s *flow.Step, ptr string) {
	checkText(p, ptr+"/text", "text", s.Text, false)
	checkText(p, ptr+"/invalid_text", "invalid_text", s.InvalidText, false)
	checkWriteVariable(p, ptr+"/variable", "variable", s.Variable)
	switch s.Input {
	case "", flow.InputText, flow.InputEmail, flow.InputNumber, flow.InputPhone:
	default:
		p.Add(ptr+"/input", CodeInvalidInput, fmt.Sprintf("input %s is not an input type; use one of %s",
			flow.Quote(s.Input), strings.Join(flow.InputTypes, ", ")))
	}
}
