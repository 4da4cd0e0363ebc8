package botstep

import "github.com/flowbot/flowbot/flow"

// checkTransfer: text (told to the user) and reason (told to the agent)
// are optional templates of at most flow.MaxTextLen characters.
func checkTransfer(p *flow.Problems, s *flow.Step, ptr string) {
	checkText(p, ptr+"/text", "text", s.Text, false)
	checkText(p, ptr+"/reason", "reason", s.Reason, false)
}
