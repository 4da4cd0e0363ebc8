package botstep

import (
	"strings"
	"testing"

	"github.com/flowbot/flowbot/flow"
)

func TestCheckMessage(t *testing.T) {
	m := func(text string) flow.Step { return flow.Step{ID: "m", Type: flow.TypeMessage, Text: text, Next: "n"} }
	runStepCases(t, []stepCase{
		{name: "OK", step: m("Hi {{ name }}, your id is {{user.external_id}}")},
		{name: "OKTextAtLimit", step: m(strings.Repeat("é", flow.MaxTextLen))},
		{name: "ErrTextTooLong", step: m(strings.Repeat("é", flow.MaxTextLen+1)),
			want: []string{"/text text_too_long"}, msg: "text is 4097 characters; the limit is 4096"},
		{name: "ErrMissingText", step: m(""), want: []string{"/text missing_field"}, msg: "text is required"},
		{name: "ErrUnclosedTemplate", step: m("Hi {{name"), want: []string{"/text unclosed_template"}},
		{name: "ErrInvalidTemplateVariable", step: m("Hi {{Name}} {{user.phone}} {{}}"),
			want: []string{"/text invalid_template_variable", "/text invalid_template_variable", "/text invalid_template_variable"}},
		{name: "ErrFieldNotAllowed", step: flow.Step{ID: "m", Type: flow.TypeMessage, Text: "x",
			Options: []flow.Option{{ID: "a"}}, APICall: flow.APICall{URL: "https://x", Body: strp(""), TimeoutMS: 5}},
			want: []string{"/options field_not_allowed", "/url field_not_allowed", "/body field_not_allowed", "/timeout_ms field_not_allowed"},
			msg:  "url is not a field of a message step; remove it"},
	})
}

func TestCheckEndTransferSetVariable(t *testing.T) {
	runStepCases(t, []stepCase{
		{name: "OKEndEmpty", step: flow.Step{Type: flow.TypeEnd}},
		{name: "OKEndText", step: flow.Step{Type: flow.TypeEnd, Text: "Bye {{user.name}}"}},
		{name: "ErrEndBadTemplate", step: flow.Step{Type: flow.TypeEnd, Text: "Bye {{x-y}}"}, want: []string{"/text invalid_template_variable"}},
		{name: "ErrEndNext", step: flow.Step{Type: flow.TypeEnd, Next: "a"}, want: []string{"/next field_not_allowed"}},

		{name: "OKTransfer", step: flow.Step{Type: flow.TypeTransfer, Text: "Passing you on", Reason: strings.Repeat("r", flow.MaxTextLen)}},
		{name: "ErrTransferReasonTooLong", step: flow.Step{Type: flow.TypeTransfer, Reason: strings.Repeat("r", flow.MaxTextLen+1)},
			want: []string{"/reason text_too_long"}},
		{name: "ErrTransferReasonTemplate", step: flow.Step{Type: flow.TypeTransfer, Reason: "order {{order"},
			want: []string{"/reason unclosed_template"}},
		{name: "ErrTransferTextTooLong", step: flow.Step{Type: flow.TypeTransfer, Text: strings.Repeat("r", flow.MaxTextLen+1)},
			want: []string{"/text text_too_long"}},
		{name: "ErrTransferVariable", step: flow.Step{Type: flow.TypeTransfer, Variable: "x", Next: "y"},
			want: []string{"/variable field_not_allowed", "/next field_not_allowed"}},

		{name: "OKSetVariable", step: flow.Step{Type: flow.TypeSetVariable, Variable: strings.Repeat("v", 64), Value: "{{a}}-{{user.email}}", Next: "n"}},
		{name: "OKSetVariableEmptyValue", step: flow.Step{Type: flow.TypeSetVariable, Variable: "v"}},
		{name: "ErrSetVariableNameTooLong", step: flow.Step{Type: flow.TypeSetVariable, Variable: strings.Repeat("v", 65)},
			want: []string{"/variable invalid_variable_name"}, msg: "variable is 65 characters; the limit is 64"},
		{name: "ErrSetVariableBadName", step: flow.Step{Type: flow.TypeSetVariable, Variable: "Order"},
			want: []string{"/variable invalid_variable_name"}},
		{name: "ErrSetVariableMissing", step: flow.Step{Type: flow.TypeSetVariable, Value: "x"},
			want: []string{"/variable missing_field"}},
		{name: "ErrSetVariableSystem", step: flow.Step{Type: flow.TypeSetVariable, Variable: "user.email"},
			want: []string{"/variable system_variable_readonly"}},
		{name: "ErrSetVariableValueTemplate", step: flow.Step{Type: flow.TypeSetVariable, Variable: "v", Value: "{{a"},
			want: []string{"/value unclosed_template"}},
		{name: "ErrSetVariableValueTooLong", step: flow.Step{Type: flow.TypeSetVariable, Variable: "v", Value: strings.Repeat("a", flow.MaxTextLen+1)},
			want: []string{"/value text_too_long"}},
		{name: "ErrSetVariableText", step: flow.Step{Type: flow.TypeSetVariable, Variable: "v", Text: "x"},
			want: []string{"/text field_not_allowed"}},
	})
}
