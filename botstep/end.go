package botstep

import "github.com/flowbot/flowbot/flow"

// checkEnd: the closing text is optional; when set it is a text template.
func checkEnd(p *flow.Problems, s *flow.Step, ptr string) {
	checkText(p, ptr+"/text", "text", s.Text, false)
}
