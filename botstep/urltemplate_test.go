package botstep

import (
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// urlCases are URL templates with the problem code they must draw ("" for
// valid). They seed FuzzParseURLTemplate too.
var urlCases = []struct{ raw, code string }{
	// The seed's valid and invalid examples (Zendesk, "Make an API call").
	{"https://myshopify.com/admin/api/orders/{{order_number}}.json", ""},
	{"https://maps.googleapis.com/maps/api/place?input={{city_name}}", ""},
	{"https://{{shop}}.myshopify.com/admin", CodeVariableInHost},
	{"https://domain.com{{x}}/api/search?input=value", CodeVariableInHost},
	{"https://example.com/api/search?{{key}}=value", CodeVariableInQueryKey},
	{"https://example.com/api/search?a=1&{{key}}", CodeVariableInQueryKey},
	{"https://example.com/api/search?k{{ey}}=v", CodeVariableInQueryKey},

	{"https://shop.example.com/api/orders/{{order_number}}.json?fields={{fields}}", ""},
	{"https://example.com", ""},
	{"https://example.com/", ""},
	{"HTTPS://Example.COM/a", ""},
	{"https://example.com:8443/a/{{ b }}/c?x=1&y={{user.external_id}}&z", ""},
	{"https://example.com?q={{a}}{{b}}-{{c}}", ""},
	{"https://example.com/a//b/?", ""},
	{"https://example.com/a?x=1&&y==2", ""},
	{"https://192.0.2.1/a", ""},
	{"https://[2001:db8::1]:443/a", ""},
	{"https://example.com/%7Bliteral%7D/{{a}}", ""},
	{"https://bücher.example/{{a}}", ""},

	{"{{base}}/orders", CodeVariableInScheme},
	{"{{scheme}}://example.com/", CodeVariableInScheme},
	{"http{{s}}://example.com/", CodeVariableInScheme},
	{"http://example.com/", CodeURLNotHTTPS},
	{"ftp://example.com/", CodeURLNotHTTPS},
	{"//example.com/", CodeInvalidURL},
	{"https//example.com/", CodeInvalidURL},
	{":https://example.com/", CodeURLNotHTTPS},
	{"example.com/a", CodeInvalidURL},
	{"https:/example.com/a", CodeInvalidURL},
	{"https://", CodeInvalidURL},
	{"https:///a", CodeInvalidURL},
	{"https://:443/", CodeInvalidURL},
	{"https://example.com:/", CodeInvalidURL},
	{"https://example.com:0/", CodeInvalidURL},
	{"https://example.com:65536/", CodeInvalidURL},
	{"https://example.com:+80/", CodeInvalidURL},
	{"https://example.com:8o/", CodeInvalidURL},
	{"https://ex ample.com/", CodeInvalidURL},
	{"https://%65xample.com/", CodeInvalidURL},
	{"https://exa%2Fmple.com/", CodeInvalidURL},
	{"https://[::1/", CodeInvalidURL},
	{"https://[::1]x/", CodeInvalidURL},
	{"https://example.com/a\x7f", CodeInvalidURL},
	{"https://example.com/%zz", CodeInvalidURL},
	{"https://example.com:{{port}}/", CodeVariableInPort},
	{"https://[::1]:{{port}}/", CodeVariableInPort},
	{"https://{{user}}@example.com/", CodeVariableInUserInfo},
	{"https://a:{{pw}}@example.com/", CodeVariableInUserInfo},
	{"https://a:b@example.com/", CodeURLUserInfo},
	{"https://@example.com/", CodeURLUserInfo},
	{"https://example.com\\@evil.com/", CodeURLUserInfo},
	{"https://example.com/#{{f}}", CodeVariableInFragment},
	{"https://example.com/?a={{b}}#x{{f}}", CodeVariableInFragment},
	{"https://example.com/#top", CodeURLFragment},
	{"https://example.com/#", CodeURLFragment},
	{"https://example.com/{{Order}}", CodeInvalidTemplateVar},
	{"https://example.com/{{}}", CodeInvalidTemplateVar},
	{"https://example.com/{{a/b}}", CodeInvalidTemplateVar},
	{"https://example.com/{{a", CodeUnclosedTemplate},
}

func TestParseURLTemplate(t *testing.T) {
	for _, c := range urlCases {
		t.Run(c.raw, func(t *testing.T) {
			tmpl, err := ParseURLTemplate(c.raw)
			if c.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if tmpl.Scheme != "https" || tmpl.Host == "" {
					t.Fatalf("template %+v", tmpl)
				}
				return
			}
			var ue *URLError
			if !errors.As(err, &ue) {
				t.Fatalf("err %v, want *URLError %s", err, c.code)
			}
			if ue.Code != c.code {
				t.Fatalf("code %s (%s), want %s", ue.Code, ue.Message, c.code)
			}
			if !strings.HasPrefix(ue.Message, "url ") {
				t.Errorf("message %q does not name the field", ue.Message)
			}
		})
	}
}

func TestParseURLTemplateStructure(t *testing.T) {
	tmpl, err := ParseURLTemplate("https://Shop.example.com:8443/api/orders/{{order_number}}.json/?fields={{fields}},id&flag&k=a{{ user.locale }}b")
	if err != nil {
		t.Fatal(err)
	}
	want := &URLTemplate{
		Scheme: "https", Host: "Shop.example.com", Port: "8443",
		Path: []URLSegment{
			{Parts: []URLPart{{Literal: "api"}}},
			{Parts: []URLPart{{Literal: "orders"}}},
			{Parts: []URLPart{{Var: "order_number"}, {Literal: ".json"}}},
			{Parts: nil},
		},
		HasQuery: true,
		Query: []QueryPair{
			{Key: "fields", HasValue: true, Value: []URLPart{{Var: "fields"}, {Literal: ",id"}}},
			{Key: "flag"},
			{Key: "k", HasValue: true, Value: []URLPart{{Literal: "a"}, {Var: "user.locale"}, {Literal: "b"}}},
		},
	}
	if !reflect.DeepEqual(tmpl, want) {
		t.Errorf("got  %+v\nwant %+v", tmpl, want)
	}
	if got := tmpl.Vars(); !reflect.DeepEqual(got, []string{"order_number", "fields", "user.locale"}) {
		t.Errorf("Vars() = %v", got)
	}
	v6, err := ParseURLTemplate("https://[2001:db8::1]/x")
	if err != nil || v6.Host != "2001:db8::1" {
		t.Fatalf("IPv6: %+v %v", v6, err)
	}
}

func TestURLTemplateRender(t *testing.T) {
	cases := []struct {
		name, raw string
		vars      map[string]string
		want      string
		period    bool
	}{
		{"OKSeedPath", "https://myshopify.com/admin/api/orders/{{order_number}}.json", map[string]string{"order_number": "1001"},
			"https://myshopify.com/admin/api/orders/1001.json", false},
		{"OKSlashStaysOneSegment", "https://e.com/u/{{id}}/x", map[string]string{"id": "a/b"}, "https://e.com/u/a%2Fb/x", false},
		{"OKPathSpecials", "https://e.com/u/{{id}}", map[string]string{"id": "a?b#c&d=e f;g%2e"}, "https://e.com/u/a%3Fb%23c&d=e%20f%3Bg%252e", false},
		{"ErrPeriodInPathDotDot", "https://e.com/u/{{id}}", map[string]string{"id": "../admin"}, "", true},
		{"ErrPeriodInPath", "https://e.com/u/{{email}}", map[string]string{"email": "a.b"}, "", true},
		{"OKPeriodInQuery", "https://e.com/u?email={{email}}", map[string]string{"email": "a.b@c.d"}, "https://e.com/u?email=a.b%40c.d", false},
		{"OKQueryStaysOneValue", "https://e.com/s?q={{q}}&x=1", map[string]string{"q": "a&admin=true"}, "https://e.com/s?q=a%26admin%3Dtrue&x=1", false},
		{"OKQueryHashAndPlus", "https://e.com/s?q={{q}}", map[string]string{"q": "a#b+c d"}, "https://e.com/s?q=a%23b%2Bc+d", false},
		{"OKMissingQueryValueIsEmpty", "https://e.com/u/x?q={{q}}", nil, "https://e.com/u/x?q=", false},
		{"OKOneCharacter", "https://e.com/u/{{id}}", map[string]string{"id": "0"}, "https://e.com/u/0", false},
		{"OKNoReExpansion", "https://e.com/u/{{a}}?q={{b}}", map[string]string{"a": "{{b}}", "b": "{{a}}"}, "https://e.com/u/%7B%7Bb%7D%7D?q=%7B%7Ba%7D%7D", false},
		{"OKLiteralsAsTyped", "https://e.com:8443/a%20b/{{x}}?k=v%2F&flag&&z=", map[string]string{"x": "1"}, "https://e.com:8443/a%20b/1?k=v%2F&flag&&z=", false},
		{"OKIPv6", "https://[::1]:8443/{{x}}", map[string]string{"x": "y"}, "https://[::1]:8443/y", false},
		{"OKBareQuery", "https://e.com?", nil, "https://e.com?", false},
		{"OKLiteralBytesEncoded", "https://e.com/a b/é}}{{x}}?q=a b|{{y}}", map[string]string{"x": "1/2", "y": "3"},
			"https://e.com/a%20b/%C3%A9%7D%7D1%2F2?q=a%20b%7C3", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tmpl, err := ParseURLTemplate(c.raw)
			if err != nil {
				t.Fatal(err)
			}
			var lookup func(string) (string, bool)
			if c.vars != nil {
				lookup = func(n string) (string, bool) { v, ok := c.vars[n]; return v, ok }
			}
			got, err := tmpl.Render(lookup)
			if c.period {
				var pe *PathVariableError
				if !errors.Is(err, ErrPeriodInPathVariable) || !errors.As(err, &pe) || got != "" {
					t.Fatalf("got %q, %v; want ErrPeriodInPathVariable", got, err)
				}
				if !strings.Contains(err.Error(), "{{"+pe.Name+"}}") {
					t.Errorf("message %q does not name the variable", err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %q, %v; want %q", got, err, c.want)
			}
			if _, err := url.Parse(got); err != nil {
				t.Errorf("net/url refuses the rendering: %v", err)
			}
		})
	}
}

// TestURLTemplateRenderEmptySegment: a path variable that is empty or
// unset is refused, naming it, instead of sending /orders/ for
// /orders/{{id}} or /orders/.json for /orders/{{id}}.json.
func TestURLTemplateRenderEmptySegment(t *testing.T) {
	cases := []struct {
		name, raw string
		vars      map[string]string
		want      string
	}{
		{"ErrUnset", "https://e.com/orders/{{id}}", nil, "id"},
		{"ErrEmptyText", "https://e.com/orders/{{id}}?q=1", map[string]string{"id": ""}, "id"},
		{"ErrMiddleSegment", "https://e.com/u/{{id}}/delete", map[string]string{"id": ""}, "id"},
		{"ErrOneOfTwoEmpty", "https://e.com/u/{{a}}{{b}}", map[string]string{"a": "1", "b": ""}, "b"},
		{"ErrNextToLiteral", "https://e.com/orders/{{id}}.json", map[string]string{"id": ""}, "id"},
		{"ErrAfterLiteral", "https://e.com/u/id-{{id}}", nil, "id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tmpl, err := ParseURLTemplate(c.raw)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tmpl.Render(func(n string) (string, bool) { v, ok := c.vars[n]; return v, ok })
			var ee *EmptyPathSegmentError
			if !errors.Is(err, ErrEmptyPathSegment) || !errors.As(err, &ee) || ee.Name != c.want || got != "" {
				t.Fatalf("got %q, %v; want the empty segment of {{%s}} refused", got, err, c.want)
			}
			if !strings.Contains(err.Error(), "{{"+c.want+"}}") {
				t.Errorf("message %q does not name the variable", err)
			}
		})
	}
}
