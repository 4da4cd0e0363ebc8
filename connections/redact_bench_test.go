package connections

import (
	"net/http"
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
