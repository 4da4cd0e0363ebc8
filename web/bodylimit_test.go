package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/flowbot/flowbot/web"
)

// padTo pads a JSON document with trailing spaces (valid JSON) to n bytes.
func padTo(doc string, n int) string {
	return doc + strings.Repeat(" ", n-len(doc))
}

// The routes a widget calls without an API key take bodies of at most
// web.WidgetBodyLimit (64 KiB): a body of exactly that size is read, one
// byte more is refused with 413, declared or not. Designer routes keep the
// flow documents' limit.
func TestWidgetBodyLimit(t *testing.T) {
	e := newEnv(t)
	bot := e.publishBot(echoFlow)
	c := e.start(bot, nil)
	start := fmt.Sprintf(`{"variables":{"note":"%s"}}`, strings.Repeat("n", 4000))
	message := `{"text":"hello"}`
	for _, tc := range []struct {
		name, path, token, body string
		want                    int
	}{
		{"OKStartAtLimit", "/v1/bots/" + bot + "/conversations", "", padTo(start, web.WidgetBodyLimit), http.StatusCreated},
		{"ErrStartOverLimit", "/v1/bots/" + bot + "/conversations", "", padTo(start, web.WidgetBodyLimit+1), http.StatusRequestEntityTooLarge},
		{"OKMessageAtLimit", "/v1/conversations/" + c.ID + "/messages", c.Token, padTo(message, web.WidgetBodyLimit), http.StatusOK},
		{"ErrMessageOverLimit", "/v1/conversations/" + c.ID + "/messages", c.Token, padTo(message, web.WidgetBodyLimit+1), http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", tc.path, tc.token, tc.body)
			if r.Code != tc.want || (tc.want == 413 && r.errCode(t) != "too_large") {
				t.Fatalf("%d %s; want %d", r.Code, truncate(r.Body), tc.want)
			}
		})
	}
	t.Run("ErrUndeclaredLengthOverLimit", func(t *testing.T) {
		req := httptest.NewRequest("POST", "/v1/bots/"+bot+"/conversations", strings.NewReader(padTo(start, web.WidgetBodyLimit+1)))
		req.ContentLength = -1 // sent chunked: only reading finds the size
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("%d %s; want 413", rec.Code, rec.Body)
		}
	})
	t.Run("OKDesignerRouteOverWidgetLimit", func(t *testing.T) {
		body := padTo(`{"name":"big","description":"d"}`, 4*web.WidgetBodyLimit)
		if r := e.do("POST", "/v1/bots", adminToken, body); r.Code != http.StatusCreated {
			t.Fatalf("%d %s; want 201", r.Code, truncate(r.Body))
		}
	})
}
