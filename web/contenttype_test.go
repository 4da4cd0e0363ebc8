package web_test

import (
	"strings"
	"testing"
)

// TestContentType_BodiesAreJSON: every route that takes a body answers a
// body sent as another media type (curl's -d default, text/plain) with 415,
// naming Content-Type and what to send; a JSON media type with parameters,
// a +json type, or no Content-Type at all is read as JSON.
func TestContentType_BodiesAreJSON(t *testing.T) {
	e := newEnv(t)
	bot := e.publishedBot(rolesFlow)
	conv, convToken := e.startConversation(bot)
	e.mustConnection(connBody("shop_api", "bearer", map[string]any{"token": "t"}))
	// The draft's revision goes in If-Match, which PUT .../flow reads first.
	routes := []struct{ method, path, token string }{
		{"POST", "/v1/bots", adminToken},
		{"POST", "/v1/bots/import", adminToken},
		{"PATCH", "/v1/bots/{id}", adminToken},
		{"PUT", "/v1/bots/{id}/flow", adminToken},
		{"POST", "/v1/api-keys", adminToken},
		{"POST", "/v1/connections", adminToken},
		{"PATCH", "/v1/connections/{name}", adminToken},
		{"POST", "/v1/bots/{id}/conversations", ""},
		{"POST", "/v1/conversations/{id}/messages", convToken},
		{"POST", "/v1/test-call", adminToken},
	}
	t.Run("OKEveryBodyRouteListed", func(t *testing.T) {
		doc, _ := spec(t)
		listed := map[string]bool{}
		for _, r := range routes {
			listed[r.method+" "+r.path] = true
		}
		for path, item := range doc.Paths.Map() {
			for method, op := range item.Operations() {
				if op.RequestBody != nil && !listed[method+" "+path] {
					t.Errorf("%s %s takes a body but is not checked here", method, path)
				}
			}
		}
	})
	ifMatch := func(path string) string {
		if strings.HasSuffix(path, "/flow") {
			return "1"
		}
		return ""
	}
	concrete := strings.NewReplacer("/v1/bots/{id}", "/v1/bots/"+bot, "/v1/conversations/{id}", "/v1/conversations/"+conv, "{name}", "shop_api")
	for _, r := range routes {
		for _, ct := range []string{"application/x-www-form-urlencoded", "text/plain; charset=utf-8"} {
			t.Run("Err"+r.method+r.path, func(t *testing.T) {
				e := e.with(t)
				got := e.do(r.method, concrete.Replace(r.path), r.token, `{"name":"x"}`, "Content-Type", ct, "If-Match", ifMatch(r.path))
				if got.Code != 415 || got.errCode(t) != "unsupported_media_type" ||
					!strings.Contains(string(got.Body), "Content-Type") || !strings.Contains(string(got.Body), "application/json") {
					t.Fatalf("%s: %d %s", ct, got.Code, got.Body)
				}
			})
		}
	}
	if r := e.do("GET", "/v1/bots", adminToken, nil); r.m(t)["total"].(float64) != 1 {
		t.Fatalf("a refused body made a bot: %s", r.Body)
	}
	for _, ct := range []string{"", "application/json; charset=utf-8", "Application/JSON", "application/merge-patch+json"} {
		t.Run("OKCreate"+ct, func(t *testing.T) {
			e := e.with(t)
			if r := e.do("POST", "/v1/bots", adminToken, `{"name":"x"}`, "Content-Type", ct); r.Code != 201 {
				t.Fatalf("Content-Type %q: %d %s", ct, r.Code, r.Body)
			}
		})
	}
}
