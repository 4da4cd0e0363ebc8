package connections

import (
	"net/http"
	"strings"
	"testing"
)

// BenchmarkRedactHeaders redacts what an api_call sends: the step's
// Accept and User-Agent, without a connection and with an api_key one.
func BenchmarkRedactHeaders(b *testing.B) {
	h := http.Header{"Accept": {"application/json"}, "User-Agent": {"flowbot/0.1.0"}}
	b.Run("NoConnection", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if got := RedactHeaders(h, nil); len(got) != 2 {
				b.Fatal(got)
			}
		}
	})
	b.Run("APIKey", func(b *testing.B) {
		h := h.Clone()
		h.Set("X-Shop-Key", "k-secret-value")
		conn := &Connection{Type: TypeAPIKey, Public: map[string]string{"header": "x-shop-key"}}
		b.ReportAllocs()
		for b.Loop() {
			if got := RedactHeaders(h, conn); got.Get("X-Shop-Key") != Redacted {
				b.Fatal(got)
			}
		}
	})
}

// BenchmarkRedactSecrets looks for a bearer token in a 2 KB JSON answer
// that does not echo it (with and without escapes that could hide one,
// such as PHP's \/ and a query string's & and %), and in answers that
// echo it as sent and \u-escaped.
func BenchmarkRedactSecrets(b *testing.B) {
	const tok = "sk+live/0123456789abcdefghijklmnopqrstuv"
	secrets := SecretsSent(http.Header{"Authorization": {"Bearer " + tok}}, nil, &Connection{Type: TypeBearer})
	item := `{"sku":"SKU-0001","name":"Tea","qty":2,"price":5.75,"tags":["kitchen","gift"]},`
	plain := `{"order":{"id":"12345","status":"shipped","items":[` + strings.Repeat(item, 24) + `{}]}}`
	escaped := strings.Replace(plain, `"gift"`, `"https:\/\/shop.example.com\/t?id=1&amp;x=%20"`, 1)
	for _, bc := range []struct{ name, body string }{
		{"Plain", plain},
		{"Escapes", escaped},
		{"Echo", strings.Replace(plain, `"gift"`, `"`+tok+`"`, 1)},
		{"EscapedEcho", strings.Replace(plain, `"gift"`, `"`+strings.ReplaceAll(tok, "+", `\u002B`)+`"`, 1)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			body := []byte(bc.body)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				RedactSecrets(body, secrets)
			}
		})
	}
}
