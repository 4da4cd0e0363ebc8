package web_test

import (
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowbot/flowbot/web"
)

// testClock is a server clock the test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Now().UTC().Truncate(time.Second)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// withClock makes the server read the time from c.
func withClock(c *testClock) envOption {
	return func(d *web.Deps, _ *env) { d.Now = c.Now }
}

// rolesFlow is the smallest publishable bot: a greeting, then a question.
const rolesFlow = `{"start":"hi","steps":[
 {"id":"hi","type":"message","text":"Hello.","next":"ask"},
 {"id":"ask","type":"ask","text":"Your name?","variable":"name","input":"text","next":""}]}`

// startConversation starts a conversation on a published bot, without a
// token, and returns the conversation's id and token.
func (e *env) startConversation(botID string) (id, token string) {
	e.t.Helper()
	r := e.do("POST", "/v1/bots/"+botID+"/conversations", "", nil)
	if r.Code != 201 {
		e.t.Fatalf("start conversation: %d %s", r.Code, r.Body)
	}
	m := r.m(e.t)
	return m["id"].(string), m["token"].(string)
}

// publishedBot creates and publishes a bot as the bootstrap admin.
func (e *env) publishedBot(flowJSON string) string {
	e.t.Helper()
	id, _ := e.createBot(flowJSON)
	if r := e.do("POST", "/v1/bots/"+id+"/publish", adminToken, nil); r.Code != 201 {
		e.t.Fatalf("publish: %d %s", r.Code, r.Body)
	}
	return id
}

// createKey makes an API key through the API and returns its id and token.
func (e *env) createKey(body any) (id, token string) {
	e.t.Helper()
	r := e.do("POST", "/v1/api-keys", adminToken, body)
	if r.Code != 201 {
		e.t.Fatalf("create api key: %d %s", r.Code, r.Body)
	}
	m := r.m(e.t)
	return m["id"].(string), m["token"].(string)
}

// caller is one way of presenting (or not) a credential.
type caller struct {
	name  string
	token string
	hdr   []string // extra headers, e.g. a malformed Authorization
	// may reports whether this caller passes a route of the given access.
	// false means the route answers want.
	may  func(web.Access) bool
	want int
}

func never(web.Access) bool { return false }

// TestRoles_EveryRouteEveryCaller sends every registered route every kind
// of credential and checks who is let in: 401 for no, malformed, unknown,
// expired and revoked credentials; 403 for a known caller without the role;
// anything but 401/403 for an allowed caller (fake ids then give 404 or
// 400, which is fine). Public routes never answer 401 or 403.
func TestRoles_EveryRouteEveryCaller(t *testing.T) {
	clk := newTestClock()
	e := newEnv(t, withClock(clk))

	bot := e.publishedBot(rolesFlow)
	ownID, ownTok := e.startConversation(bot)
	_, otherTok := e.startConversation(bot)
	_, adminKey := e.createKey(map[string]any{"name": "second admin", "role": "admin"})
	designer := e.designerToken()
	_, expiring := e.createKey(map[string]any{"name": "short", "role": "admin",
		"expires_at": clk.Now().Add(time.Hour).Format(time.RFC3339)})
	revokedID, revoked := e.createKey(map[string]any{"name": "gone", "role": "admin"})
	if r := e.do("DELETE", "/v1/api-keys/"+revokedID, adminToken, nil); r.Code != 204 {
		t.Fatalf("revoke: %d %s", r.Code, r.Body)
	}
	// The expiring key works until its time, then never again.
	if r := e.do("GET", "/v1/me", expiring, nil); r.Code != 200 {
		t.Fatalf("key before expiry: %d %s", r.Code, r.Body)
	}
	clk.Add(time.Hour)

	admins := func(a web.Access) bool { return a == web.Admin || a == web.Designer || a == web.ConversationHolder }
	callers := []caller{
		{name: "NoToken", may: never, want: 401},
		{name: "MalformedBasicScheme", hdr: []string{"Authorization", "Basic YWRtaW46YWRtaW4="}, may: never, want: 401},
		{name: "MalformedEmptyBearer", hdr: []string{"Authorization", "Bearer "}, may: never, want: 401},
		{name: "MalformedNoSpace", hdr: []string{"Authorization", "Bearer" + adminToken}, may: never, want: 401},
		{name: "MalformedTokenOnly", hdr: []string{"Authorization", adminToken}, may: never, want: 401},
		{name: "UnknownAPIKey", token: "fbk_" + strings.Repeat("A", 43), may: never, want: 401},
		{name: "UnknownConversationToken", token: "fbc_" + strings.Repeat("A", 43), may: never, want: 401},
		{name: "UnknownOtherToken", token: "not-a-token", may: never, want: 401},
		{name: "ExpiredAPIKey", token: expiring, may: never, want: 401},
		{name: "RevokedAPIKey", token: revoked, may: never, want: 401},
		{name: "Designer", token: designer, want: 403,
			may: func(a web.Access) bool { return a == web.Designer || a == web.ConversationHolder }},
		{name: "AdminKey", token: adminKey, may: admins, want: 403},
		{name: "BootstrapAdmin", token: adminToken, may: admins, want: 403},
		{name: "OtherConversation", token: otherTok, may: never, want: 403},
		{name: "OwnConversation", token: ownTok, want: 403,
			may: func(a web.Access) bool { return a == web.ConversationToken || a == web.ConversationHolder }},
	}

	routes := e.srv.Routes()
	for _, rt := range routes {
		path := rolesPath(rt.Path, ownID)
		if rt.Method == "DELETE" {
			path = rolesPath(rt.Path, "nope-0000") // erasing the own conversation would change the sweep
		}
		t.Run(rt.Method+" "+rt.Path, func(t *testing.T) {
			for _, c := range callers {
				t.Run(c.name, func(t *testing.T) {
					r := e.with(t).rolesDo(rt.Method, path, c.token, c.hdr)
					switch {
					case rt.Access == web.Public || c.may(rt.Access):
						if r.Code == 401 || r.Code == 403 || r.Code >= 500 {
							t.Fatalf("%s %s (access %d) answered %d: %s", rt.Method, path, rt.Access, r.Code, truncate(r.Body))
						}
					case r.Code != c.want:
						t.Fatalf("%s %s (access %d) answered %d, want %d: %s", rt.Method, path, rt.Access, r.Code, c.want, truncate(r.Body))
					case r.errCode(t) != map[int]string{401: "unauthorized", 403: "forbidden"}[c.want]:
						t.Fatalf("error code %q: %s", r.errCode(t), r.Body)
					}
				})
			}
		})
	}
	// The requests above changed nothing: the bot is still there.
	if r := e.do("GET", "/v1/bots/"+bot, designer, nil); r.Code != 200 {
		t.Fatalf("bot after the sweep: %d", r.Code)
	}
}

// rolesPath fills a route's parameters: conversation routes get the own
// conversation's id, everything else ids that do not exist (so no request
// of the sweep changes anything).
func rolesPath(p, convID string) string {
	if strings.HasPrefix(p, "/v1/conversations/:id") {
		p = strings.Replace(p, ":id", convID, 1)
	}
	return strings.NewReplacer(":id", "nope-0000", ":name", "nope_conn", ":n", "1").Replace(p)
}

// rolesDo is e.do with extra headers, except for /openapi.yaml, whose
// YAML body kin-openapi cannot check against its {type: string} schema.
func (e *env) rolesDo(method, path, token string, hdr []string) resp {
	e.t.Helper()
	if path != "/openapi.yaml" {
		return e.do(method, path, token, nil, hdr...)
	}
	req := httptest.NewRequest(method, path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	return resp{Code: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

func TestRoles_RevokedKeyLosesAccess(t *testing.T) {
	e := newEnv(t)
	id, tok := e.createKey(map[string]any{"name": "temp", "role": "designer"})
	if r := e.do("GET", "/v1/bots", tok, nil); r.Code != 200 {
		t.Fatalf("before revoke: %d %s", r.Code, r.Body)
	}
	if r := e.do("DELETE", "/v1/api-keys/"+id, adminToken, nil); r.Code != 204 {
		t.Fatalf("revoke: %d %s", r.Code, r.Body)
	}
	r := e.do("GET", "/v1/bots", tok, nil)
	if r.Code != 401 || r.errCode(t) != "unauthorized" {
		t.Fatalf("after revoke: %d %s", r.Code, r.Body)
	}
}

func TestRoles_ExpiredKeyLosesAccess(t *testing.T) {
	clk := newTestClock()
	e := newEnv(t, withClock(clk))
	_, tok := e.createKey(map[string]any{"name": "temp", "role": "designer",
		"expires_at": clk.Now().Add(time.Minute).Format(time.RFC3339)})
	if r := e.do("GET", "/v1/bots", tok, nil); r.Code != 200 {
		t.Fatalf("before expiry: %d %s", r.Code, r.Body)
	}
	clk.Add(time.Minute - time.Second)
	if r := e.do("GET", "/v1/bots", tok, nil); r.Code != 200 {
		t.Fatalf("a second before expiry: %d %s", r.Code, r.Body)
	}
	clk.Add(time.Second)
	if r := e.do("GET", "/v1/bots", tok, nil); r.Code != 401 {
		t.Fatalf("at expiry: %d %s", r.Code, r.Body)
	}
}

func TestRoles_ConversationTokenOpensOnlyItsConversation(t *testing.T) {
	e := newEnv(t)
	bot := e.publishedBot(rolesFlow)
	id, tok := e.startConversation(bot)
	otherID, _ := e.startConversation(bot)

	t.Run("OKOwnConversation", func(t *testing.T) {
		e := e.with(t)
		r := e.do("GET", "/v1/conversations/"+id, tok, nil)
		if r.Code != 200 || r.m(t)["id"] != id {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
		if _, ok := r.m(t)["variables"]; ok {
			t.Fatalf("a widget sees the variables: %s", r.Body)
		}
		r = e.do("POST", "/v1/conversations/"+id+"/messages", tok, map[string]string{"text": "Ann"})
		if r.Code != 200 {
			t.Fatalf("message: %d %s", r.Code, r.Body)
		}
	})
	t.Run("OKDesignerSeesVariables", func(t *testing.T) {
		e := e.with(t)
		r := e.do("GET", "/v1/conversations/"+id, e.designerToken(), nil)
		if r.Code != 200 || r.m(t)["variables"].(map[string]any)["name"] != "Ann" {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
	})
	t.Run("ErrOtherConversation", func(t *testing.T) {
		e := e.with(t)
		if r := e.do("GET", "/v1/conversations/"+otherID, tok, nil); r.Code != 403 {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
		if r := e.do("POST", "/v1/conversations/"+otherID+"/messages", tok, map[string]string{"text": "x"}); r.Code != 403 {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
	})
	t.Run("ErrDesignerRoutes", func(t *testing.T) {
		e := e.with(t)
		for _, p := range []string{"/v1/bots", "/v1/bots/" + bot, "/v1/conversations/" + id + "/log", "/v1/connections", "/v1/me", "/v1/audit"} {
			if r := e.do("GET", p, tok, nil); r.Code != 403 {
				t.Fatalf("GET %s: %d %s", p, r.Code, r.Body)
			}
		}
	})
}

// Guard against a route silently registering outside the access levels.
func TestRoles_EveryRouteHasAKnownAccess(t *testing.T) {
	e := newEnv(t)
	for _, r := range e.srv.Routes() {
		switch r.Access {
		case web.Public, web.ConversationToken, web.ConversationHolder, web.Designer, web.Admin:
		default:
			t.Errorf("%s %s has access %d", r.Method, r.Path, r.Access)
		}
		if r.Access == web.Public && strings.HasPrefix(r.Path, "/v1/") && r.Path != "/v1/bots/:id/conversations" {
			t.Errorf("%s %s is public", r.Method, r.Path)
		}
	}
}
