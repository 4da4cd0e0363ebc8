package connections

import (
	"encoding/base64"
	"net/http"
	"slices"
	"testing"
)

func TestSecretsSent(t *testing.T) {
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	for _, tc := range []struct {
		name   string
		conn   *Connection
		header http.Header
		want   []string
	}{
		{"NoConnection", nil, http.Header{"Authorization": {"Bearer abcdefghijkl"}}, nil},
		{"Bearer", &Connection{Type: TypeBearer}, http.Header{"Authorization": {"Bearer abcdefghijkl"}},
			[]string{"Bearer abcdefghijkl", "abcdefghijkl"}},
		{"OAuth", &Connection{Type: TypeOAuth2CC}, http.Header{"Authorization": {"Bearer tok-123456"}},
			[]string{"Bearer tok-123456", "tok-123456"}},
		{"APIKeyOwnHeader", &Connection{Type: TypeAPIKey, Public: map[string]string{"header": "X-Shop-Key"}},
			http.Header{"X-Shop-Key": {"k-secret-value"}, "Authorization": {"Bearer not-this-one"}},
			[]string{"k-secret-value"}},
		{"Basic", &Connection{Type: TypeBasic}, http.Header{"Authorization": {basic("ann", "correct horse")}},
			[]string{basic("ann", "correct horse"), basic("ann", "correct horse")[6:], "ann:correct horse", "correct horse"}},
		// A 7-byte password would match ordinary text: the encoded forms,
		// which are longer, are still redacted.
		{"BasicShortPassword", &Connection{Type: TypeBasic}, http.Header{"Authorization": {basic("a", "1234567")}},
			[]string{basic("a", "1234567"), basic("a", "1234567")[6:], "a:1234567"}},
		{"BasicEightBytePassword", &Connection{Type: TypeBasic}, http.Header{"Authorization": {basic("a", "12345678")}},
			[]string{basic("a", "12345678"), basic("a", "12345678")[6:], "a:12345678", "12345678"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := SecretsSent(tc.header, tc.conn)
			want := slices.Clone(tc.want)
			slices.SortStableFunc(want, func(a, b string) int { return len(b) - len(a) })
			if !slices.Equal(got, want) {
				t.Fatalf("got %q; want %q", got, want)
			}
		})
	}
}

func TestRedactSecrets(t *testing.T) {
	secrets := SecretsSent(http.Header{"Authorization": {"Bearer abcdefghijkl"}}, &Connection{Type: TypeBearer})
	got := string(RedactSecrets([]byte(`{"auth":"Bearer abcdefghijkl","t":"abcdefghijkl","x":"abcdefghijk"}`), secrets))
	if want := `{"auth":"` + Redacted + `","t":"` + Redacted + `","x":"abcdefghijk"}`; got != want {
		t.Fatalf("got %s; want %s", got, want)
	}
	h := http.Header{"X-Echo": {"seen Bearer abcdefghijkl", "plain"}}
	RedactSecretsInHeaders(h, secrets)
	if h["X-Echo"][0] != "seen "+Redacted || h["X-Echo"][1] != "plain" {
		t.Fatalf("headers %v", h)
	}
}
