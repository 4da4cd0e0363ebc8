package botstep

import (
	"fmt"
	"strings"
	"testing"

	"github.com/flowbot/flowbot/flow"
)

func TestCheckHeaders(t *testing.T) {
	h := func(hs ...flow.Header) flow.Step { return apiStep(func(s *flow.Step) { s.Headers = hs }) }
	n := func(k int) flow.Step {
		hs := make([]flow.Header, k)
		for i := range hs {
			hs[i] = flow.Header{Key: fmt.Sprintf("X-H%d", i), Value: "v"}
		}
		return h(hs...)
	}
	cases := []stepCase{
		{name: "OKNoHeaders", step: h()},
		{name: "OKTwentyHeaders", step: n(20)},
		{name: "ErrTwentyOneHeaders", step: n(21), want: []string{"/headers too_many_headers"}, msg: "headers has 21 headers; the limit is 20"},
		{name: "OKValue256", step: h(flow.Header{Key: "X-A", Value: strings.Repeat("a", 256)})},
		{name: "OKValue256Runes", step: h(flow.Header{Key: "X-A", Value: strings.Repeat("é", 256)})},
		{name: "ErrValue257", step: h(flow.Header{Key: "X-A", Value: strings.Repeat("a", 257)}),
			want: []string{"/headers/0/value header_value_too_long"}, msg: "header value is 257 characters; the limit is 256"},
		{name: "ErrValue257Runes", step: h(flow.Header{Key: "X-A", Value: strings.Repeat("é", 257)}),
			want: []string{"/headers/0/value header_value_too_long"}},
		{name: "OKTokenChars", step: h(flow.Header{Key: "X-a1!#$%&'*+-.^_`|~", Value: "v\tw"})},
		{name: "ErrKeySpace", step: h(flow.Header{Key: "X A", Value: "v"}), want: []string{"/headers/0/key invalid_header_key"}},
		{name: "ErrKeyColon", step: h(flow.Header{Key: "X:", Value: "v"}), want: []string{"/headers/0/key invalid_header_key"}},
		{name: "ErrKeyVariable", step: h(flow.Header{Key: "{{k}}", Value: "v"}), want: []string{"/headers/0/key invalid_header_key"}},
		{name: "ErrKeyNonASCII", step: h(flow.Header{Key: "X-é", Value: "v"}), want: []string{"/headers/0/key invalid_header_key"}},
		{name: "ErrKeyEmpty", step: h(flow.Header{Key: "", Value: "v"}), want: []string{"/headers/0/key missing_field"}},
		{name: "ErrValueCR", step: h(flow.Header{Key: "X-A", Value: "a\rb"}), want: []string{"/headers/0/value invalid_header_value"}},
		{name: "ErrValueLF", step: h(flow.Header{Key: "X-A", Value: "a\nX-Evil: 1"}), want: []string{"/headers/0/value invalid_header_value"}},
		{name: "ErrValueNUL", step: h(flow.Header{Key: "X-A", Value: "a\x00"}), want: []string{"/headers/0/value invalid_header_value"}},
		{name: "OKValueTemplate", step: h(flow.Header{Key: "X-Order", Value: "{{order_number}}/{{user.external_id}}"})},
		{name: "ErrValueTemplate", step: h(flow.Header{Key: "X-Order", Value: "{{Order}}"}), want: []string{"/headers/0/value invalid_template_variable"}},
	}
	for _, k := range []string{"Authorization", "authorization", "PROXY-AUTHORIZATION", "Cookie", "x-api-key", "X-Api-Key"} {
		cases = append(cases, stepCase{name: "ErrCredentialHeader_" + k, step: h(flow.Header{Key: k, Value: "v"}),
			want: []string{"/headers/0/key credential_header"}})
	}
	for _, k := range []string{"Host", "content-length", "Transfer-Encoding", "CONNECTION", "Upgrade", "TE", "Keep-Alive"} {
		cases = append(cases, stepCase{name: "ErrFramingHeader_" + k, step: h(flow.Header{Key: k, Value: "v"}),
			want: []string{"/headers/0/key framing_header"}})
	}
	cases = append(cases, stepCase{name: "OKContentTypeHeader", step: h(flow.Header{Key: "Content-Type", Value: "application/json"})})
	runStepCases(t, cases)
}

func TestCredentialHeaderMessage(t *testing.T) {
	s := apiStep(func(s *flow.Step) { s.Headers = []flow.Header{{Key: "Authorization", Value: "Bearer x"}} })
	p := ValidateAPICall(&s, "", testConns)
	if len(p) != 1 || !strings.Contains(p[0].Message, "connection") {
		t.Fatalf("got %v", p)
	}
}
