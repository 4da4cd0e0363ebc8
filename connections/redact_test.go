package connections

import (
	"encoding/base64"
	"fmt"
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
			// The forms as sent (escaped echoes are found by
			// RedactSecrets, tested below), longest first, none short.
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

// An echo escaped in any way an encoder or template may write it is
// redacted whole: JSON \u escapes of any character (System.Text.Json
// writes "+" as \u002B), HTML character references (an error page),
// lower-case percent-encoding, and mixes of them. The text around it is
// kept as it is, escapes included.
func TestRedactSecretsAnyEscape(t *testing.T) {
	const tok = "sk+live/0123456789&abc"
	secrets := SecretsSent(http.Header{"Authorization": {"Bearer " + tok}}, nil, &Connection{Type: TypeBearer})
	for _, tc := range []struct{ name, echo string }{
		{"JSONPlusEscaped", `sk\u002Blive\/0123456789\u0026abc`},
		{"JSONLowerHex", `sk\u002blive/0123456789\u0026abc`},
		{"JSONEveryCharacter", `\u0073\u006B\u002B\u006C\u0069\u0076\u0065\u002F\u0030\u0031\u0032\u0033\u0034\u0035\u0036\u0037\u0038\u0039\u0026\u0061\u0062\u0063`},
		{"HTMLDecimal", `sk&#43;live&#47;0123456789&#38;abc`},
		{"HTMLHex", `sk&#x2B;live&#X2f;0123456789&amp;abc`},
		{"HTMLNamed", `sk&plus;live&sol;0123456789&amp;abc`},
		{"PercentLowerCase", `sk%2blive%2f0123456789%26abc`},
		{"Mixed", `sk%2Blive&#x2F;0123456789\u0026abc`},
		{"Bearer", `Bearer sk\u002Blive/0123456789&amp;abc`},
		// Escaped twice and three times: JSON in a JSON string written by
		// PHP (\/), a URL encoded twice, an HTML reference JSON-escaped.
		{"JSONInJSON", `sk+live\\\/0123456789&abc`},
		{"PercentTwice", `sk%252Blive%252F0123456789%2526abc`},
		{"HTMLInJSON", `sk\u0026#43;live/0123456789\u0026amp;abc`},
		{"ThreeLevels", `sk%25252Blive/0123456789%252526abc`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, after := `{"note":"caf\u00e9 &amp; 100%25","got":"`, `","n":"\u002B1"}`
			got := string(RedactSecrets([]byte(before+tc.echo+after), secrets))
			if !strings.HasPrefix(got, before) || !strings.HasSuffix(got, after) || !strings.Contains(got, Redacted) {
				t.Fatalf("came out as %s", got)
			}
			if u, _ := unescape([]byte(got)); strings.Contains(got, "0123456789") || strings.Contains(string(u.text), "0123456789") {
				t.Fatalf("came out as %s (unescaped %s)", got, u.text)
			}
		})
	}
	t.Run("OKNothingToRedact", func(t *testing.T) {
		in := []byte(`{"a":"\u002B \/ &#43; &amp; %2B \ud83d\ude00 \ud800 &bogus; &#; %zz \"sk+live"}`)
		if got := RedactSecrets(in, secrets); &got[0] != &in[0] {
			t.Fatalf("changed to %s; want the same slice", got)
		}
	})
	t.Run("OKSurrogatePair", func(t *testing.T) {
		secrets := SecretsSent(http.Header{"Authorization": {"Bearer tok-😀-123456"}}, nil, &Connection{Type: TypeBearer})
		if got := string(RedactSecrets([]byte(`{"t":"tok-\ud83d\ude00-123456"}`), secrets)); got != `{"t":"`+Redacted+`"}` {
			t.Fatalf("came out as %s", got)
		}
	})
	t.Run("OKHeaders", func(t *testing.T) {
		h := http.Header{"Location": {"https://x.example/?t=sk%2Blive%2F0123456789%26abc&y=1"}}
		RedactSecretsInHeaders(h, secrets)
		if got := h.Get("Location"); got != "https://x.example/?t="+Redacted+"&y=1" {
			t.Fatalf("Location %s", got)
		}
	})
}

// FuzzRedactSecrets writes each character of a secret in a way chosen
// by the fuzzer (as it is, \u, &#, &#x or % of each byte) between two texts of
// letters and digits: what comes out never holds the secret, escaped or
// not, and keeps the texts around it.
func FuzzRedactSecrets(f *testing.F) {
	f.Add("before ", " after", []byte{0, 1, 2, 3, 4, 5})
	f.Add("", "", []byte{1})
	f.Add("sk", "abc", []byte{4, 4, 2})
	const tok = "sk+live/é0123&abc"
	secrets := SecretsSent(http.Header{"Authorization": {"Bearer " + tok}}, nil, &Connection{Type: TypeBearer})
	plain := func(s string) bool {
		for _, c := range s {
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == ' ') {
				return false
			}
		}
		return true
	}
	f.Fuzz(func(t *testing.T, before, after string, how []byte) {
		if !plain(before) || !plain(after) {
			t.Skip()
		}
		var echo strings.Builder
		for i, c := range tok {
			k := byte(0)
			if len(how) > 0 {
				k = how[i%len(how)] % 5
			}
			switch {
			case k == 1:
				fmt.Fprintf(&echo, `\u%04X`, c)
			case k == 2:
				fmt.Fprintf(&echo, "&#%d;", c)
			case k == 3:
				fmt.Fprintf(&echo, "&#x%x;", c)
			case k == 4:
				for _, b := range []byte(string(c)) {
					fmt.Fprintf(&echo, "%%%02x", b)
				}
			default:
				echo.WriteRune(c)
			}
		}
		got := string(RedactSecrets([]byte(before+echo.String()+after), secrets))
		u, _ := unescape([]byte(got))
		if strings.Contains(got, "live/é0123") || strings.Contains(string(u.text), "live/é0123") ||
			!strings.HasPrefix(got, before) || !strings.HasSuffix(got, after) {
			t.Fatalf("%s%s%s came out as %s", before, echo.String(), after, got)
		}
	})
}
