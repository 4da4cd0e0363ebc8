package connections

import "net/http"

// credentialHeaders always carry credentials (SPEC §3 rule 5).
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
	names := credentialHeaders
	if conn != nil && conn.Type == TypeAPIKey && conn.Public["header"] != "" {
		names = append(names[:len(names):len(names)], conn.Public["header"])
	}
	for k, vs := range out {
		for _, n := range names {
			if http.CanonicalHeaderKey(n) == http.CanonicalHeaderKey(k) {
				for i := range vs {
					vs[i] = Redacted
				}
			}
		}
	}
	return out
}
