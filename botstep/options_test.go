package botstep

import (
	"fmt"
	"strings"
	"testing"

	"github.com/flowbot/flowbot/flow"
)

func opts(n int) []flow.Option {
	o := make([]flow.Option, n)
	for i := range o {
		o[i] = flow.Option{ID: fmt.Sprintf("o%d", i), Label: fmt.Sprintf("Option %d", i), Next: "n"}
	}
	return o
}

func TestCheckOptions(t *testing.T) {
	o := func(mod func(*flow.Step)) flow.Step {
		s := flow.Step{Type: flow.TypeOptions, Text: "Pick one", Options: opts(3)}
		if mod != nil {
			mod(&s)
		}
		return s
	}
	from := &flow.OptionsFrom{Variable: "orders", LabelPath: "$.name", ValueVariable: "order", Next: "n"}
	runStepCases(t, []stepCase{
		{name: "OK", step: o(nil)},
		{name: "OKOneOption", step: o(func(s *flow.Step) { s.Options = opts(1) })},
		{name: "OKTenOptions", step: o(func(s *flow.Step) { s.Options = opts(10) })},
		{name: "ErrNoOptions", step: o(func(s *flow.Step) { s.Options = nil }), want: []string{"/options too_few_options"}},
		{name: "ErrElevenOptions", step: o(func(s *flow.Step) { s.Options = opts(11) }),
			want: []string{"/options too_many_options"}, msg: "options has 11 options; the limit is 10"},
		{name: "OKOptionIDEdge", step: o(func(s *flow.Step) { s.Options[0].ID = strings.Repeat("a", 64) })},
		{name: "ErrOptionIDTooLong", step: o(func(s *flow.Step) { s.Options[0].ID = strings.Repeat("a", 65) }),
			want: []string{"/options/0/id invalid_option_id"}},
		{name: "ErrOptionIDEmpty", step: o(func(s *flow.Step) { s.Options[1].ID = "" }), want: []string{"/options/1/id invalid_option_id"}},
		{name: "ErrOptionIDInvalid", step: o(func(s *flow.Step) { s.Options[1].ID = "Yes" }), want: []string{"/options/1/id invalid_option_id"}},
		{name: "ErrOptionIDDuplicate", step: o(func(s *flow.Step) { s.Options[2].ID = "o0" }),
			want: []string{"/options/2/id duplicate_option_id"}, msg: `option id "o0" is already used by option 0; option ids must be unique in the step`},
		{name: "ErrLabelEmpty", step: o(func(s *flow.Step) { s.Options[0].Label = "" }), want: []string{"/options/0/label missing_field"}},
		{name: "ErrLabelTooLong", step: o(func(s *flow.Step) { s.Options[0].Label = strings.Repeat("a", flow.MaxTextLen+1) }),
			want: []string{"/options/0/label text_too_long"}},
		{name: "OKLabelTemplate", step: o(func(s *flow.Step) { s.Options[0].Label = "Order {{order_number}}" })},
		{name: "ErrLabelTemplate", step: o(func(s *flow.Step) { s.Options[0].Label = "Order {{Order}}" }),
			want: []string{"/options/0/label invalid_template_variable"}},
		{name: "ErrNextOnOptions", step: o(func(s *flow.Step) { s.Next = "x" }), want: []string{"/next field_not_allowed"}},

		{name: "OKOptionsFrom", step: o(func(s *flow.Step) { s.Options = nil; f := *from; s.OptionsFrom = &f })},
		{name: "OKOptionsFromRootLabel", step: o(func(s *flow.Step) {
			s.Options = nil
			f := *from
			f.LabelPath = "$"
			s.OptionsFrom = &f
		})},
		{name: "ErrOptionsAndOptionsFrom", step: o(func(s *flow.Step) { f := *from; s.OptionsFrom = &f }),
			want: []string{"/options options_conflict"}},
		{name: "ErrOptionsFromBadFields", step: o(func(s *flow.Step) {
			s.Options = nil
			s.OptionsFrom = &flow.OptionsFrom{Variable: "Orders", LabelPath: "name", ValueVariable: "conversation.id"}
		}), want: []string{
			"/options_from/variable invalid_variable_name",
			"/options_from/label_path invalid_json_path",
			"/options_from/value_variable system_variable_readonly",
		}},
		{name: "ErrOptionsFromMissing", step: o(func(s *flow.Step) { s.Options = nil; s.OptionsFrom = &flow.OptionsFrom{} }),
			want: []string{
				"/options_from/variable missing_field",
				"/options_from/label_path missing_field",
				"/options_from/value_variable missing_field",
			}},
		{name: "ErrOptionsFromBadPath", step: o(func(s *flow.Step) {
			s.Options = nil
			f := *from
			f.LabelPath = "$.a["
			s.OptionsFrom = &f
		}), want: []string{"/options_from/label_path invalid_json_path"}},
	})
}
