package botstep

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/flowbot/flowbot/flow"
)

// checkTransfer: text (told to the user) and reason (told to the agent)
// are optional templates of at most flow.MaxTextLen characters; group,
// priority and tags (told to the help desk) are optional templates too.
// Written out without variables, a priority must be one of
// flow.TransferPriorities (in any case, as the engine reads it) and a tag
// must already be in the form it is sent in; with variables they are made
// so when the step runs.
func checkTransfer(p *flow.Problems, s *flow.Step, ptr string) {
	checkText(p, ptr+"/text", "text", s.Text, false)
	checkText(p, ptr+"/reason", "reason", s.Reason, false)
	if s.Group != "" {
		checkTemplate(p, ptr+"/group", "group", s.Group)
		checkMaxLength(p, ptr+"/group", "group", s.Group, flow.MaxGroupLen)
	}
	if s.Priority != "" {
		refs, _ := checkTemplate(p, ptr+"/priority", "priority", s.Priority)
		if len(refs) == 0 && !slices.Contains(flow.TransferPriorities, strings.ToLower(strings.TrimSpace(s.Priority))) {
			p.Add(ptr+"/priority", CodeInvalidPriority, fmt.Sprintf("priority %s is not one of %s (or a {{variable}} holding one)",
				flow.Quote(s.Priority), strings.Join(flow.TransferPriorities, ", ")))
		}
	}
	if n := len(s.Tags); n > flow.MaxTransferTags {
		p.Add(ptr+"/tags", CodeTooManyTags, fmt.Sprintf("tags has %d tags; the limit is %d", n, flow.MaxTransferTags))
	}
	for i, t := range s.Tags {
		tp := ptr + "/tags/" + strconv.Itoa(i)
		refs, _ := checkTemplate(p, tp, "tag", t)
		if len(refs) > 0 {
			checkMaxLength(p, tp, "tag", t, flow.MaxTextLen)
			continue
		}
		if norm := flow.NormalizeTags([]string{t}); len(norm) != 1 || norm[0] != t {
			msg := fmt.Sprintf("tag %s must be 1 to %d characters: lower-case letters, digits, _, - and :", flow.Quote(t), flow.MaxTagLen)
			if len(norm) == 1 {
				msg += fmt.Sprintf(" (write %s)", flow.Quote(norm[0]))
			}
			p.Add(tp, CodeInvalidTag, msg)
		}
	}
}
