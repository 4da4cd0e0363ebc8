package connections

import (
	"net/http"
	"slices"
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
