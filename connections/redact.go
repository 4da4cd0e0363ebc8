package connections

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
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
// when conn is nil.
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
	// An echo may escape what it sends back: JSON encoders write "/" as
	// "\/" (PHP) or "<>&" as \u003c... (Go), and a form or URL echo
	// percent-encodes. Base64 tokens and pairs hold "/" and "+".
	for _, v := range out {
		for _, e := range echoForms(v) {
			if e != v {
				out = append(out, e)
			}
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

// echoForms are the escaped forms in which an API may send v back.
func echoForms(v string) []string {
	var forms []string
	for _, html := range []bool{true, false} {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(html) // Go escapes <, > and &; most others do not
		_ = enc.Encode(v)
		inJSON := strings.TrimSuffix(b.String(), "\n")
		inJSON = inJSON[1 : len(inJSON)-1]
		forms = append(forms, inJSON, strings.ReplaceAll(inJSON, "/", `\/`)) // PHP writes / as \/
	}
	return append(forms, url.QueryEscape(v), url.PathEscape(v))
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
// variable or the execution log. b is returned as is when nothing matches.
func RedactSecrets(b []byte, secrets []string) []byte {
	for _, s := range secrets {
		if bytes.Contains(b, []byte(s)) {
			b = bytes.ReplaceAll(b, []byte(s), []byte(Redacted))
		}
	}
	return b
}

// RedactSecretsInHeaders is RedactSecrets for every value of h, in place.
func RedactSecretsInHeaders(h http.Header, secrets []string) {
	for _, vs := range h {
		for i := range vs {
			for _, s := range secrets {
				vs[i] = strings.ReplaceAll(vs[i], s, Redacted)
			}
		}
	}
}
