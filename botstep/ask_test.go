package botstep

import (
	"testing"

	"github.com/flowbot/flowbot/flow"
)

func TestCheckAsk(t *testing.T) {
	a := func(mod func(*flow.Step)) flow.Step {
		s := flow.Step{Type: flow.TypeAsk, Text: "Your email?", Variable: "email", Input: flow.InputEmail, InvalidText: "That is not an email", Next: "n"}
		if mod != nil {
			mod(&s)
		}
		return s
	}
	cases := []stepCase{{name: "OK", step: a(nil)}}
	for _, in := range append([]string{""}, flow.InputTypes...) {
		cases = append(cases, stepCase{name: "OKInput_" + in, step: a(func(s *flow.Step) { s.Input = in })})
	}
	cases = append(cases, []stepCase{
		{name: "ErrInvalidInput", step: a(func(s *flow.Step) { s.Input = "date" }),
			want: []string{"/input invalid_input"}, msg: `input "date" is not an input type; use one of text, email, number, phone`},
		{name: "ErrMissingVariable", step: a(func(s *flow.Step) { s.Variable = "" }), want: []string{"/variable missing_field"}},
		{name: "ErrSystemVariable", step: a(func(s *flow.Step) { s.Variable = "user.name" }), want: []string{"/variable system_variable_readonly"}},
		{name: "ErrInvalidVariable", step: a(func(s *flow.Step) { s.Variable = "e-mail" }), want: []string{"/variable invalid_variable_name"}},
		{name: "ErrInvalidTextTemplate", step: a(func(s *flow.Step) { s.InvalidText = "{{ bad name }}" }), want: []string{"/invalid_text invalid_template_variable"}},
		{name: "ErrOptionsOnAsk", step: a(func(s *flow.Step) { s.Options = []flow.Option{{ID: "a", Label: "A"}} }), want: []string{"/options field_not_allowed"}},
	}...)
	runStepCases(t, cases)
}
