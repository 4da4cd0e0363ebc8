package connections

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// credentialHeaders always carry credentials (SPEC §3 rule 5); they are
// written in canonical form.
var credentialHeaders = []string{"Authorization", "Proxy-Authorization", "Cookie", "X-Api-Key"}

// RedactHeaders returns a copy of h, fit to show or log, in which every
// value of a credential-bearing header is Redacted: Authorization,
// Proxy-Authorization, Cookie, X-API-Key, and the header of conn when it is
// an api_key connection. conn may be nil. h is not changed.
func RedactHeaders(h http.Header, conn *Connection) http.Header {
	out := h.Clone()
	if out == nil {
		return http.Header{}
	}
	// Each name is put in canonical form once, not once per pair.
	extra := ""
	if conn != nil && conn.Type == TypeAPIKey && conn.Public["header"] != "" {
		extra = http.CanonicalHeaderKey(conn.Public["header"])
	}
	for k, vs := range out {
		ck := http.CanonicalHeaderKey(k)
		if (extra != "" && ck == extra) || slices.Contains(credentialHeaders, ck) {
			for i := range vs {
				vs[i] = Redacted
			}
		}
	}
	return out
}

// minEchoedSecret is the shortest part of a credential that is looked for
// in an answer: shorter strings (a 4-letter password) would match ordinary
// text and mangle it.
const minEchoedSecret = 8

// SecretsSent returns the credential strings that h and u, a request's
// headers and URL after Apply with conn, carry (an api_key sent as a
// query parameter is in u): the credential header's value and the
// parts of it an API could send back on their own (the token after
// "Bearer ", the encoded pair after "Basic ", and the pair and password
// inside it), longest first, each at least minEchoedSecret bytes. nil
// when conn is nil. Escaped echoes of them are found by RedactSecrets.
func SecretsSent(h http.Header, u *url.URL, conn *Connection) []string {
	if conn == nil {
		return nil
	}
	header := "Authorization"
	if conn.Type == TypeAPIKey {
		header = conn.Public["header"]
	}
	v := h.Get(header)
	if q := conn.Public["query"]; q != "" && conn.Type == TypeAPIKey && u != nil {
		v = u.Query().Get(q)
	}
	out := []string{v}
	if tok, ok := cutScheme(v, "Bearer "); ok {
		out = append(out, tok)
	}
	if enc, ok := cutScheme(v, "Basic "); ok {
		out = append(out, enc)
		if pair, err := base64.StdEncoding.DecodeString(enc); err == nil {
			_, pass, _ := strings.Cut(string(pair), ":")
			out = append(out, string(pair), pass)
		}
	}
	out = slices.DeleteFunc(out, func(s string) bool { return len(s) < minEchoedSecret })
	// A form or query string echo writes a space as "+", which no
	// unescaping turns back (a "+" may be the secret's own).
	for _, v := range out {
		if strings.Contains(v, " ") {
			out = append(out, strings.ReplaceAll(v, " ", "+"))
		}
	}
	slices.SortFunc(out, func(a, b string) int { // longest first, so a part never spoils a whole
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	return slices.Compact(out)
}

func cutScheme(v, scheme string) (string, bool) {
	if len(v) > len(scheme) && strings.EqualFold(v[:len(scheme)], scheme) {
		return v[len(scheme):], true
	}
	return "", false
}

// RedactSecrets replaces every occurrence of the secrets (SecretsSent) in
// b with Redacted: an API that echoes the request, or puts the credential
// in an error page, must not hand it to the designer's test call, a saved
// variable or the execution log. A secret is found as sent and also
// escaped, in any mix of JSON escapes (\/, \u002B as .NET writes "+",
// \u0026 as Go writes "&"), HTML character references (&#43;, &#x2F;,
// &amp;) and percent-encoding (%2B): the escaped text is replaced whole.
// b is returned as is when nothing matches.
func RedactSecrets(b []byte, secrets []string) []byte {
	if len(secrets) == 0 {
		return b
	}
	spans := secretSpans(b, secrets)
	if len(spans) == 0 {
		return b
	}
	return redactSpans(b, spans)
}

// RedactSecretsIn is RedactSecrets for a string.
func RedactSecretsIn(s string, secrets []string) string {
	if len(secrets) == 0 || !mayHoldSecret(s, secrets) {
		return s // most strings: no copy
	}
	return string(RedactSecrets([]byte(s), secrets))
}

// mayHoldSecret reports whether s holds one of the secrets as sent, or an
// escape that could hide one.
func mayHoldSecret(s string, secrets []string) bool {
	if strings.ContainsAny(s, escapeStarts) {
		return true
	}
	for _, sec := range secrets {
		if strings.Contains(s, sec) {
			return true
		}
	}
	return false
}

// RedactSecretsInHeaders is RedactSecrets for every value of h, in place.
func RedactSecretsInHeaders(h http.Header, secrets []string) {
	for _, vs := range h {
		for i := range vs {
			vs[i] = RedactSecretsIn(vs[i], secrets)
		}
	}
}

// span is a part of a text, from its byte from up to (not including) to.
type span struct{ from, to int }

// secretSpans returns where the secrets are in text, as sent or escaped,
// in no particular order; spans may overlap.
func secretSpans(text []byte, secrets []string) []span {
	var spans []span
	needles := make([][]byte, len(secrets)) // converted once for both passes
	for i, s := range secrets {
		needles[i] = []byte(s)
	}
	find := func(t []byte, add func(from, to int)) {
		for _, s := range needles {
			for i := 0; ; {
				j := bytes.Index(t[i:], s)
				if j < 0 {
					break
				}
				add(i+j, i+j+len(s))
				i += j + len(s)
			}
		}
	}
	find(text, func(from, to int) { spans = append(spans, span{from, to}) })
	// An echo may be escaped more than once: JSON carried in a JSON string
	// (abc\\\/def), a URL encoded twice (%252F). Each level decodes the
	// one before; a part found is led back through every level.
	var levels []unescaped
	for t := text; len(levels) < maxEscapeLevels; {
		u, ok := unescape(t)
		if !ok {
			break
		}
		levels = append(levels, u)
		find(u.text, func(from, to int) {
			for k := len(levels) - 1; k >= 0; k-- {
				from, to = levels[k].raw(from, false), levels[k].raw(to, true)
			}
			spans = append(spans, span{from, to})
		})
		t = u.text
	}
	return spans
}

// maxEscapeLevels is how many times over an echo may be escaped and still
// be found.
const maxEscapeLevels = 3

// redactSpans returns a copy of text with each span, merged with those it
// overlaps or touches, replaced by Redacted.
func redactSpans(text []byte, spans []span) []byte {
	slices.SortFunc(spans, func(a, b span) int { return a.from - b.from })
	out := make([]byte, 0, len(text))
	last := 0
	for i := 0; i < len(spans); {
		from, to := spans[i].from, spans[i].to
		for i++; i < len(spans) && spans[i].from <= to; i++ {
			to = max(to, spans[i].to)
		}
		out = append(append(out, text[last:from]...), Redacted...)
		last = to
	}
	return append(out, text[last:]...)
}
