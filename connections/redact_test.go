package connections

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
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
			got := SecretsSent(tc.header, nil, tc.conn)
			// The forms as sent, plus escaped forms of them (tested below),
			// longest first, none short.
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Fatalf("got %q; it lacks %q", got, w)
				}
			}
			for i, g := range got {
				if len(g) < minEchoedSecret || (i > 0 && len(g) > len(got[i-1])) {
					t.Fatalf("got %q: %q is short or out of order", got, g)
				}
			}
			if len(tc.want) == 0 && len(got) != 0 {
				t.Fatalf("got %q; want nothing", got)
			}
		})
	}
}

func TestRedactSecrets(t *testing.T) {
	secrets := SecretsSent(http.Header{"Authorization": {"Bearer abcdefghijkl"}}, nil, &Connection{Type: TypeBearer})
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

// An echo that escapes the credential (JSON with \/ or \u0026, a URL- or
// form-encoded echo) is redacted as well.
func TestRedactSecretsEscapedEchoes(t *testing.T) {
	tok := "ab+cd/ef&gh<ij==" // base64-ish, with characters encoders escape
	secrets := SecretsSent(http.Header{"Authorization": {"Bearer " + tok}}, nil, &Connection{Type: TypeBearer})
	for _, echo := range []string{
		`{"auth":"Bearer ab+cd\/ef&gh<ij=="}`,
		`{"auth":"Bearer ab+cd/ef\u0026gh\u003cij=="}`,
		`token=ab%2Bcd%2Fef%26gh%3Cij%3D%3D&x=1`,
		`/echo/ab+cd%2Fef&gh%3Cij==`,
	} {
		got := string(RedactSecrets([]byte(echo), secrets))
		if strings.Contains(got, "cd") || !strings.Contains(got, Redacted) {
			t.Errorf("%s came out as %s", echo, got)
		}
	}
}
