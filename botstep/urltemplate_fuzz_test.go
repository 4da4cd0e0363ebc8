package botstep

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// FuzzParseURLTemplate checks invariants of ParseURLTemplate and Render on
// any input: no panic; a refusal is a *URLError with a code; an accepted
// template renders, with harmless and with hostile values, to a URL that
// net/url parses with the template's host and port, so no value can move
// the request to another host, add a path segment or add a query pair.
func FuzzParseURLTemplate(f *testing.F) {
	hostile := "E/?#@:&=[]%{{x}} +;\\\x00é"
	for _, c := range urlCases {
		f.Add(c.raw, hostile)
	}
	for _, s := range []string{
		"https://a.b/{{x}}/{{y}}?{{z}}", "https://a.b?x={{y}}&{{z}}=1", "https://{{a}}", "https://a{{b}}c/", "https://a.b:1{{p}}/",
		"https://a.b/{{ x }}{{y}}", "https://a.b/{{x}}}}", "https://a.b/}}{{x}}", "https://a.b/?=={{x}}", "https://a.b/?&&", "https://a.b/;{{x}}",
		"https://a@b@c/", "https://[::1]@x/", "https://a.b/@{{x}}", "https://a.b?x=@{{y}}", "https://a.b/\\{{x}}", "https://xn--bcher-kva.example/",
		"https://a.b./{{x}}", "https://a..b/", "https://-a.b/", "https://a.b:443:1/", "https://[::ffff:127.0.0.1]/", "https://[fe80::1%25en0]/",
	} {
		f.Add(s, "v")
		f.Add(s, "../a%2e/b?c#d")
	}
	f.Fuzz(func(t *testing.T, raw, value string) {
		tmpl, err := ParseURLTemplate(raw)
		if err != nil {
			var ue *URLError
			if !errors.As(err, &ue) || ue.Code == "" || ue.Message == "" {
				t.Fatalf("refusal %v is not a coded *URLError", err)
			}
			return
		}
		if tmpl.Scheme != "https" || tmpl.Host == "" {
			t.Fatalf("accepted %q as %+v", raw, tmpl)
		}
		if strings.Contains(tmpl.Host, "{{") || strings.Contains(tmpl.Port, "{{") {
			t.Fatalf("variable in host or port: %+v", tmpl)
		}
		safe, err := tmpl.Render(func(string) (string, bool) { return "v", true })
		if err != nil {
			t.Fatalf("render with safe values: %v", err)
		}
		us := mustParse(t, tmpl, safe)
		// Any value must change nothing structural; a value with a period
		// is refused exactly when there is a path variable.
		evil, err := tmpl.Render(func(string) (string, bool) { return value, true })
		if refused := errors.Is(err, ErrPeriodInPathVariable); refused != (hasPathVar(tmpl) && strings.Contains(value, ".")) {
			t.Fatalf("value %q: period refusal %v, err %v", value, refused, err)
		}
		if err != nil {
			// An empty value may empty a segment of variables only.
			if errors.Is(err, ErrPeriodInPathVariable) || (value == "" && errors.Is(err, ErrEmptyPathSegment)) {
				return
			}
			t.Fatalf("render with %q: %v", value, err)
		}
		ue := mustParse(t, tmpl, evil)
		if strings.Count(us.EscapedPath(), "/") != strings.Count(ue.EscapedPath(), "/") {
			t.Fatalf("a value added a path segment: %q vs %q", safe, evil)
		}
		if strings.Count(us.RawQuery, "&") != strings.Count(ue.RawQuery, "&") || strings.Count(us.RawQuery, "=") != strings.Count(ue.RawQuery, "=") {
			t.Fatalf("a value added a query pair: %q vs %q", safe, evil)
		}
		// Rendered text has no template left, so it parses again as itself.
		again, err := ParseURLTemplate(safe)
		if err != nil || again.Host != tmpl.Host || again.Port != tmpl.Port {
			t.Fatalf("rendering %q does not parse back: %+v %v", safe, again, err)
		}
		// A period in a path variable is refused; in a query value it is not.
		_, err = tmpl.Render(func(string) (string, bool) { return "a.b", true })
		if hasPathVar(tmpl) != errors.Is(err, ErrPeriodInPathVariable) {
			t.Fatalf("period in path: path vars %v, err %v", hasPathVar(tmpl), err)
		}
	})
}

func mustParse(t *testing.T, tmpl *URLTemplate, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatalf("net/url refuses rendering %q: %v", s, err)
	}
	// What the HTTP client sends must be exactly what was rendered: if
	// net/url re-encoded the path, a value's %2F could become a "/".
	origin := "https://" + u.Host
	if want := strings.TrimPrefix(s, origin); u.RequestURI() != want && !(want == "" && u.RequestURI() == "/") && !(strings.HasPrefix(want, "?") && u.RequestURI() == "/"+want) {
		t.Fatalf("rendering %q goes out as %q, not %q", s, u.RequestURI(), want)
	}
	if u.Scheme != "https" || u.Hostname() != tmpl.Host || u.Port() != tmpl.Port || u.User != nil || u.Fragment != "" {
		t.Fatalf("rendering %q parses as scheme %q host %q port %q user %v fragment %q; template host %q port %q",
			s, u.Scheme, u.Hostname(), u.Port(), u.User, u.Fragment, tmpl.Host, tmpl.Port)
	}
	return u
}

func hasPathVar(t *URLTemplate) bool {
	for _, s := range t.Path {
		for _, p := range s.Parts {
			if p.Var != "" {
				return true
			}
		}
	}
	return false
}
