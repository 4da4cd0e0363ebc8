package botstep

import (
	"strings"
	"testing"

	"github.com/flowbot/flowbot/flow"
)

func TestCheckBody(t *testing.T) {
	post := func(body *string, mod func(*flow.Step)) flow.Step {
		return apiStep(func(s *flow.Step) {
			s.Method = "POST"
			s.Body = body
			if mod != nil {
				mod(s)
			}
		})
	}
	bodyOf := func(n int) *string {
		// {"a":"xxx..."} padded to exactly n bytes.
		b := `{"a":"` + strings.Repeat("x", n-8) + `"}`
		return &b
	}
	text := func(s *flow.Step) { s.BodyType = flow.BodyText; s.ContentType = "text/plain; charset=utf-8" }
	runStepCases(t, []stepCase{
		{name: "OKJSON", step: post(strp(`{"email": "{{user.email}}", "order": "#{{ order_number }}", "n": [1, true, null]}`), nil)},
		{name: "OKJSONDefaultType", step: post(strp(`{"a": "{{b}}"}`), func(s *flow.Step) { s.BodyType = "" })},
		{name: "OKVariableInKey", step: post(strp(`{"{{k}}": 1}`), nil)},
		{name: "OKEscapedQuoteBeforeVariable", step: post(strp(`{"a": "say \"{{b}}\""}`), nil)},
		{name: "OKPUTPATCH", step: post(strp(`[]`), func(s *flow.Step) { s.Method = "PATCH" })},
		{name: "OKBody64KiB", step: post(bodyOf(65536), nil)},
		{name: "ErrBody64KiBPlus1", step: post(bodyOf(65537), nil), want: []string{"/body body_too_large"},
			msg: "body is 65537 bytes; the limit is 65536 (64 KiB)"},
		{name: "OKEmptyBodyOnGET", step: apiStep(func(s *flow.Step) { s.Body = strp("") })},
		{name: "OKBodyTypeWithoutBody", step: apiStep(func(s *flow.Step) { s.BodyType = flow.BodyText })},
		{name: "ErrBodyOnGET", step: apiStep(func(s *flow.Step) { s.Body = strp(`{}`) }), want: []string{"/body body_not_allowed"},
			msg: "body is not allowed with GET; only POST, PUT and PATCH send a body"},
		{name: "ErrBodyOnDELETE", step: apiStep(func(s *flow.Step) { s.Method = "DELETE"; s.Body = strp(`{}`) }), want: []string{"/body body_not_allowed"}},
		{name: "ErrBodyType", step: post(strp(`{}`), func(s *flow.Step) { s.BodyType = "xml" }), want: []string{"/body_type invalid_body_type"}},
		{name: "ErrInvalidJSON", step: post(strp("{\n  \"a\": 1,\n}"), nil), want: []string{"/body invalid_json_body"},
			msg: "body is not valid JSON at line 3, column 1: invalid character '}' looking for beginning of object key string"},
		{name: "ErrJSONString", step: post(strp(`"{\"a\":1}"x`), nil), want: []string{"/body invalid_json_body"}},
		{name: "ErrVariableAsValue", step: post(strp(`{"n": {{count}}}`), nil), want: []string{"/body variable_outside_json_string"},
			msg: `body has {{count}} outside a JSON string at line 1, column 7; put it inside quotes, for example "{{count}}"`},
		{name: "ErrVariableAsKey", step: post(strp(`{ {{k}}: 1}`), nil), want: []string{"/body variable_outside_json_string"}},
		{name: "ErrVariableAfterString", step: post(strp(`{"a": "x"{{b}}}`), nil),
			want: []string{"/body variable_outside_json_string", "/body invalid_json_body"}},
		{name: "ErrVariableWholeBody", step: post(strp(`{{payload}}`), nil), want: []string{"/body variable_outside_json_string"}},
		{name: "ErrJSONUnclosedTemplate", step: post(strp(`{"a": "{{b"}`), nil), want: []string{"/body unclosed_template"}},
		{name: "ErrJSONBadVariable", step: post(strp(`{"a": "{{B}}"}`), nil), want: []string{"/body invalid_template_variable"}},

		// Typed values: a string of one typed variable is sent as that JSON type.
		{name: "OKTypedValues", step: post(strp(`{"qty": "{{qty:number}}", "gift": "{{ gift : boolean }}", "items": "{{items:json}}", "a": ["{{n:number}}"]}`), nil)},
		{name: "ErrTypedUnknownType", step: post(strp(`{"qty": "{{qty:integer}}"}`), nil), want: []string{"/body invalid_template_variable"}},
		{name: "ErrTypedEmptyType", step: post(strp(`{"qty": "{{qty:}}"}`), nil), want: []string{"/body invalid_template_variable"}},
		{name: "OKTypedName64", step: post(strp(`{"n": "{{`+strings.Repeat("v", 64)+`:number}}"}`), nil)},
		{name: "ErrTypedName65", step: post(strp(`{"n": "{{`+strings.Repeat("v", 65)+`:number}}"}`), nil), want: []string{"/body invalid_template_variable"}},
		{name: "ErrTypedBadName", step: post(strp(`{"qty": "{{Qty:number}}"}`), nil), want: []string{"/body invalid_template_variable"}},
		{name: "ErrTypedWithOtherText", step: post(strp(`{"qty": "x{{qty:number}}"}`), nil), want: []string{"/body typed_variable_not_alone"}},
		{name: "ErrTypedAsKey", step: post(strp(`{"{{k:number}}": 1}`), nil), want: []string{"/body typed_variable_not_alone"}},
		{name: "ErrTypedInEscapedQuotes", step: post(strp(`{"a": "say \"{{b:number}}\""}`), nil), want: []string{"/body typed_variable_not_alone"}},
		{name: "ErrTypedLineBreakInBraces", step: post(strp("{\"{{k:\nnumber}}\": 1}"), nil), want: []string{"/body invalid_template_variable"}},
		{name: "ErrTypedAsKeyBesideABadPlainRef", step: post(strp("{\"a\": \"{{x\n}}\", \"{{k:number}}\": 1}"), nil), want: []string{"/body typed_variable_not_alone"}},
		{name: "ErrTypedAfterEscapedOpeningQuote", step: post(strp(`{"a": "x\"{{b:number}}"}`), nil), want: []string{"/body typed_variable_not_alone"}},
		{name: "ErrTypedInText", step: post(strp("n={{qty:number}}"), text), want: []string{"/body invalid_template_variable"}},

		{name: "OKText", step: post(strp("order {{order_number}} & <x>"), text)},
		{name: "ErrTextWithoutContentType", step: post(strp("hi"), func(s *flow.Step) { s.BodyType = flow.BodyText }),
			want: []string{"/content_type missing_field"}},
		{name: "ErrTextBadContentType", step: post(strp("hi"), func(s *flow.Step) { text(s); s.ContentType = "text" }),
			want: []string{"/content_type invalid_content_type"}},
		{name: "ErrTextContentTypeCRLF", step: post(strp("hi"), func(s *flow.Step) { text(s); s.ContentType = "text/plain\r\nX: y" }),
			want: []string{"/content_type invalid_content_type"}},
		{name: "OKJSONWithContentType", step: post(strp(`{}`), func(s *flow.Step) { s.ContentType = "application/vnd.api+json" })},
		{name: "ErrContentTypeWithoutBody", step: apiStep(func(s *flow.Step) { s.ContentType = "text/plain" }),
			want: []string{"/content_type field_not_allowed"}},
		{name: "ErrTextTemplate", step: post(strp("{{a"), text), want: []string{"/body unclosed_template"}},
	})
}
