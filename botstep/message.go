package botstep

import "github.com/flowbot/flowbot/flow"

// checkMessage: text is required, at most flow.MaxTextLen characters, and
// a template of valid variables.
func checkMessage(p *flow.Problems, s *flow.Step, ptr string) {
	checkText(p, ptr+"/text", "text", s.Text, true)
}
