package botstep

import (
	"strings"
	"testing"

	"github.com/flowbot/flowbot/flow"
)

func TestValidateTransferRouting(t *testing.T) {
	tr := func(mod func(*flow.Step)) flow.Step {
		s := flow.Step{ID: "t", Type: flow.TypeTransfer, Text: "A person will help.", Reason: "asked"}
		mod(&s)
		return s
	}
	ten := make([]string, flow.MaxTransferTags)
	for i := range ten {
		ten[i] = "tag_" + string(rune('a'+i))
	}
	runStepCases(t, []stepCase{
		{name: "OKAll", step: tr(func(s *flow.Step) {
			s.Group, s.Priority, s.Tags = "billing", "urgent", []string{"vip", "tier:gold", "a-b"}
		})},
		{name: "OKTemplates", step: tr(func(s *flow.Step) { s.Group, s.Priority, s.Tags = "{{team}}", "{{prio}}", []string{"Tier {{tier}}"} })},
		{name: "OKEachPriority", step: tr(func(s *flow.Step) { s.Priority = "low" })},
		{name: "OKGroup200", step: tr(func(s *flow.Step) { s.Group = strings.Repeat("é", flow.MaxGroupLen) })},
		{name: "ErrGroup201", step: tr(func(s *flow.Step) { s.Group = strings.Repeat("é", flow.MaxGroupLen+1) }), want: []string{"/group text_too_long"}},
		{name: "ErrGroupTemplate", step: tr(func(s *flow.Step) { s.Group = "{{team" }), want: []string{"/group unclosed_template"}},
		{name: "OKPriorityAnyCase", step: tr(func(s *flow.Step) { s.Priority = " Urgent" })},
		{name: "ErrPriority", step: tr(func(s *flow.Step) { s.Priority = "asap" }), want: []string{"/priority invalid_priority"}},
		{name: "OKTenTags", step: tr(func(s *flow.Step) { s.Tags = ten })},
		{name: "ErrElevenTags", step: tr(func(s *flow.Step) { s.Tags = append(ten, "k") }), want: []string{"/tags too_many_tags"}},
		{name: "ErrTagNotAsSent", step: tr(func(s *flow.Step) { s.Tags = []string{"vip", "VIP Customer"} }), want: []string{"/tags/1 invalid_tag"},
			msg: `tag "VIP Customer" must be 1 to 50 characters: lower-case letters, digits, _, - and : (write "vip_customer")`},
		{name: "OKUnicodeTag", step: tr(func(s *flow.Step) { s.Tags = []string{"café", "служба"} })},
		{name: "ErrTagEmpty", step: tr(func(s *flow.Step) { s.Tags = []string{"!!"} }), want: []string{"/tags/0 invalid_tag"}},
		{name: "OKTag50", step: tr(func(s *flow.Step) { s.Tags = []string{strings.Repeat("a", flow.MaxTagLen)} })},
		{name: "ErrTag51", step: tr(func(s *flow.Step) { s.Tags = []string{strings.Repeat("a", flow.MaxTagLen+1)} }), want: []string{"/tags/0 invalid_tag"}},
		{name: "ErrTagBadVariable", step: tr(func(s *flow.Step) { s.Tags = []string{"{{Bad}}"} }), want: []string{"/tags/0 invalid_template_variable"}},
		{name: "ErrOnMessage", step: flow.Step{ID: "m", Type: flow.TypeMessage, Text: "hi", Group: "x", Priority: "low", Tags: []string{"a"}},
			want: []string{"/group field_not_allowed", "/priority field_not_allowed", "/tags field_not_allowed"}},
	})
}
