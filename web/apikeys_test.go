package web_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowbot/flowbot/web"
)

// details returns the pointers and codes of an error response's details.
func details(t *testing.T, r resp) map[string]string {
	t.Helper()
	var b web.ErrorBody
	r.json(t, &b)
	m := map[string]string{}
	for _, d := range b.Error.Details {
		m[d.Pointer] = d.Code
	}
	return m
}

func TestAPIKeys_CreateRules(t *testing.T) {
	clk := newTestClock()
	e := newEnv(t, withClock(clk))
	future := clk.Now().Add(24 * time.Hour)
	for _, tc := range []struct {
		name    string
		body    string
		code    int
		pointer string // the field a 400/422 names
	}{
		{"OKName100", `{"name":"` + strings.Repeat("n", 100) + `","role":"designer"}`, 201, ""},
		{"OKAdmin", `{"name":"ops","role":"admin"}`, 201, ""},
		{"OKExpiresRFC3339", `{"name":"ci","role":"designer","expires_at":"` + future.Format(time.RFC3339) + `"}`, 201, ""},
		{"OKExpiresWithOffset", `{"name":"ci","role":"designer","expires_at":"` + future.In(time.FixedZone("", 2*3600)).Format(time.RFC3339Nano) + `"}`, 201, ""},
		{"OKExpiresNull", `{"name":"ci","role":"designer","expires_at":null}`, 201, ""},
		{"ErrNameTooLong", `{"name":"` + strings.Repeat("n", 101) + `","role":"designer"}`, 422, "/name"},
		{"ErrNameMissing", `{"role":"designer"}`, 422, "/name"},
		{"ErrNameEmpty", `{"name":"","role":"designer"}`, 422, "/name"},
		{"ErrRoleMissing", `{"name":"x"}`, 422, "/role"},
		{"ErrRoleUnknown", `{"name":"x","role":"owner"}`, 422, "/role"},
		{"ErrRoleCase", `{"name":"x","role":"Admin"}`, 422, "/role"},
		{"ErrExpiresInPast", `{"name":"x","role":"designer","expires_at":"` + clk.Now().Add(-time.Minute).Format(time.RFC3339) + `"}`, 422, "/expires_at"},
		{"ErrExpiresNow", `{"name":"x","role":"designer","expires_at":"` + clk.Now().Format(time.RFC3339) + `"}`, 422, "/expires_at"},
		// Not RFC 3339: a 422 naming the field; not a string: a 400 naming it.
		{"ErrExpiresDateOnly", `{"name":"x","role":"designer","expires_at":"2099-01-01"}`, 422, "/expires_at"},
		{"ErrExpiresNumber", `{"name":"x","role":"designer","expires_at":4102444800}`, 400, "/expires_at"},
		{"ErrUnknownField", `{"name":"x","role":"designer","scope":"all"}`, 400, "/scope"},
		{"ErrNameWrongType", `{"name":7,"role":"designer"}`, 400, "/name"},
		{"ErrMalformed", `{"name":"x",`, 400, ""},
		{"ErrEmpty", ``, 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			r := e.do("POST", "/v1/api-keys", adminToken, tc.body)
			if r.Code != tc.code {
				t.Fatalf("got %d, want %d: %s", r.Code, tc.code, r.Body)
			}
			if tc.code == 201 {
				m := r.m(t)
				tok, _ := m["token"].(string)
				if !strings.HasPrefix(tok, "fbk_") || len(tok) < 40 || !strings.HasPrefix(tok, m["prefix"].(string)) {
					t.Fatalf("token %q, prefix %v", tok, m["prefix"])
				}
				if r := e.do("GET", "/v1/me", tok, nil); r.Code != 200 {
					t.Fatalf("the new key does not work: %d %s", r.Code, r.Body)
				}
				return
			}
			if tc.pointer != "" {
				if _, ok := details(t, r)[tc.pointer]; !ok {
					t.Fatalf("error does not name %s: %s", tc.pointer, r.Body)
				}
			}
		})
	}
	t.Run("OKExpiresAtRoundTrips", func(t *testing.T) {
		e := e.with(t)
		at := future.Add(90 * time.Minute).In(time.FixedZone("", -5*3600))
		r := e.do("POST", "/v1/api-keys", adminToken, map[string]any{"name": "x", "role": "designer", "expires_at": at.Format(time.RFC3339)})
		got, err := time.Parse(time.RFC3339, r.m(t)["expires_at"].(string))
		if r.Code != 201 || err != nil || !got.Equal(at) {
			t.Fatalf("%d expires_at %v (%v), want %v", r.Code, got, err, at)
		}
	})
	t.Run("OKReadOnlyFieldsIgnored", func(t *testing.T) {
		e := e.with(t)
		r := e.do("POST", "/v1/api-keys", adminToken, map[string]any{"name": "x", "role": "designer",
			"id": "mine", "prefix": "fbk_mine", "created_by": "me", "created_at": "2001-01-01T00:00:00Z",
			"last_used_at": "2001-01-01T00:00:00Z", "token": "fbk_chosen"})
		if r.Code != 201 {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
		m := r.m(t)
		if m["id"] == "mine" || m["created_by"] != "bootstrap" || m["token"] == "fbk_chosen" || m["last_used_at"] != nil ||
			!strings.HasPrefix(m["token"].(string), m["prefix"].(string)) {
			t.Fatalf("read-only fields taken from the request: %s", r.Body)
		}
	})
	t.Run("ErrDesignerCannotCreate", func(t *testing.T) {
		e := e.with(t)
		r := e.do("POST", "/v1/api-keys", e.designerToken(), `{"name":"x","role":"admin"}`)
		if r.Code != 403 {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
	})
}

func TestAPIKeys_TokenShownOnceStoredHashed(t *testing.T) {
	e := newEnv(t)
	id, tok := e.createKey(map[string]any{"name": "ci", "role": "designer"})

	r := e.do("GET", "/v1/api-keys", adminToken, nil)
	if r.Code != 200 {
		t.Fatalf("list: %d %s", r.Code, r.Body)
	}
	if bytes.Contains(r.Body, []byte(tok)) || bytes.Contains(r.Body, []byte(tok[len("fbk_")+6:])) {
		t.Fatalf("the list shows the token: %s", r.Body)
	}
	var list struct {
		Items []map[string]any `json:"items"`
	}
	r.json(t, &list)
	if len(list.Items) != 1 || list.Items[0]["id"] != id || list.Items[0]["name"] != "ci" || list.Items[0]["role"] != "designer" {
		t.Fatalf("list: %s", r.Body)
	}
	if _, ok := list.Items[0]["token"]; ok {
		t.Fatalf("the list has a token field: %s", r.Body)
	}
	if p := list.Items[0]["prefix"].(string); !strings.HasPrefix(tok, p) || len(p) >= len(tok)/2 {
		t.Fatalf("prefix %q gives away too much of the token", p)
	}

	keys, err := e.db.APIKeys(context.Background())
	if err != nil || len(keys) != 1 {
		t.Fatalf("stored keys: %v %v", keys, err)
	}
	if bytes.Contains(keys[0].Hash, []byte(tok)) || !bytes.Equal(keys[0].Hash, web.HashToken(tok)) {
		t.Fatalf("stored hash %x is not the hash of the token", keys[0].Hash)
	}
	raw, err := os.ReadFile(filepath.Join(e.dir, "flowbot.db"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(tok)) || bytes.Contains(raw, []byte(tok[len("fbk_")+6:])) {
		t.Fatal("the token is in the database file")
	}
	if bytes.Contains(raw, []byte(adminToken)) {
		t.Fatal("the bootstrap admin token is in the database file")
	}
}

func TestAPIKeys_LastUsedAt(t *testing.T) {
	clk := newTestClock()
	e := newEnv(t, withClock(clk))
	id, tok := e.createKey(map[string]any{"name": "ci", "role": "designer"})
	lastUsed := func(t *testing.T) string {
		t.Helper()
		var list struct {
			Items []map[string]any `json:"items"`
		}
		e.with(t).do("GET", "/v1/api-keys", adminToken, nil).json(t, &list)
		for _, k := range list.Items {
			if k["id"] == id {
				s, _ := k["last_used_at"].(string)
				return s
			}
		}
		t.Fatalf("key %s not listed", id)
		return ""
	}
	parse := func(t *testing.T, s string) time.Time {
		t.Helper()
		at, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatalf("last_used_at %q: %v", s, err)
		}
		return at
	}

	if got := lastUsed(t); got != "" {
		t.Fatalf("unused key has last_used_at %q", got)
	}
	used := clk.Now()
	e.do("GET", "/v1/bots", tok, nil)
	if got := parse(t, lastUsed(t)); !got.Equal(used) {
		t.Fatalf("last_used_at %v, want %v", got, used)
	}
	// Uses within a minute are not written (no fsync per request).
	clk.Add(30 * time.Second)
	e.do("GET", "/v1/bots", tok, nil)
	if got := parse(t, lastUsed(t)); !got.Equal(used) {
		t.Fatalf("last_used_at moved within the interval: %v", got)
	}
	clk.Add(2 * time.Minute)
	e.do("GET", "/v1/bots", tok, nil)
	if got := parse(t, lastUsed(t)); !got.Equal(clk.Now()) {
		t.Fatalf("last_used_at %v, want %v", got, clk.Now())
	}
}

func TestAPIKeys_Revoke(t *testing.T) {
	e := newEnv(t)
	id, tok := e.createKey(map[string]any{"name": "ci", "role": "admin"})
	keep, keepTok := e.createKey(map[string]any{"name": "keep", "role": "designer"})

	t.Run("OK", func(t *testing.T) {
		e := e.with(t)
		if r := e.do("DELETE", "/v1/api-keys/"+id, adminToken, nil); r.Code != 204 || len(r.Body) != 0 {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
		if r := e.do("GET", "/v1/me", tok, nil); r.Code != 401 {
			t.Fatalf("revoked key: %d", r.Code)
		}
		r := e.do("GET", "/v1/api-keys", adminToken, nil)
		if bytes.Contains(r.Body, []byte(id)) || !bytes.Contains(r.Body, []byte(keep)) {
			t.Fatalf("list after revoke: %s", r.Body)
		}
		if r := e.do("GET", "/v1/me", keepTok, nil); r.Code != 200 {
			t.Fatalf("other key: %d", r.Code)
		}
	})
	t.Run("ErrNotFoundTwice", func(t *testing.T) {
		e := e.with(t)
		r := e.do("DELETE", "/v1/api-keys/"+id, adminToken, nil)
		if r.Code != 404 || r.errCode(t) != "not_found" {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
	})
	t.Run("ErrNotFoundUnknown", func(t *testing.T) {
		e := e.with(t)
		if r := e.do("DELETE", "/v1/api-keys/nope", adminToken, nil); r.Code != 404 {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
	})
	t.Run("ErrDesignerCannotRevoke", func(t *testing.T) {
		e := e.with(t)
		if r := e.do("DELETE", "/v1/api-keys/"+keep, keepTok, nil); r.Code != 403 {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
	})
	t.Run("OKKeyRevokesItself", func(t *testing.T) {
		e := e.with(t)
		selfID, selfTok := e.createKey(map[string]any{"name": "self", "role": "admin"})
		if r := e.do("DELETE", "/v1/api-keys/"+selfID, selfTok, nil); r.Code != 204 {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
		if r := e.do("GET", "/v1/api-keys", selfTok, nil); r.Code != 401 {
			t.Fatalf("after revoking itself: %d", r.Code)
		}
	})
}

// auditEvent is one event of GET /v1/audit.
type auditEvent struct {
	ID     string            `json:"id"`
	At     string            `json:"at"`
	Actor  string            `json:"actor"`
	Action string            `json:"action"`
	Target string            `json:"target"`
	Detail map[string]string `json:"detail"`
}

// auditLog returns every audit event, newest first, and the raw bodies.
func (e *env) auditLog() ([]auditEvent, []byte) {
	e.t.Helper()
	r := e.do("GET", "/v1/audit?limit=200", adminToken, nil)
	if r.Code != 200 {
		e.t.Fatalf("audit: %d %s", r.Code, r.Body)
	}
	var b struct {
		Items []auditEvent `json:"items"`
	}
	r.json(e.t, &b)
	return b.Items, r.Body
}

// findAudit returns the newest event with the action and target.
func findAudit(events []auditEvent, action, target string) *auditEvent {
	for i := range events {
		if events[i].Action == action && events[i].Target == target {
			return &events[i]
		}
	}
	return nil
}

func TestAPIKeys_Audit(t *testing.T) {
	e := newEnv(t)
	adminID, adminTok := e.createKey(map[string]any{"name": "second admin", "role": "admin"})
	r := e.do("POST", "/v1/api-keys", adminTok, map[string]any{"name": "ci", "role": "designer"})
	if r.Code != 201 {
		t.Fatalf("%d %s", r.Code, r.Body)
	}
	ciID, ciTok := r.m(t)["id"].(string), r.m(t)["token"].(string)
	if r := e.do("DELETE", "/v1/api-keys/"+ciID, adminToken, nil); r.Code != 204 {
		t.Fatalf("%d %s", r.Code, r.Body)
	}
	// Refused attempts write nothing.
	e.do("POST", "/v1/api-keys", adminToken, `{"name":"x","role":"owner"}`)
	e.do("DELETE", "/v1/api-keys/"+ciID, adminToken, nil)

	events, raw := e.auditLog()
	t.Run("OKCreatedByBootstrap", func(t *testing.T) {
		ev := findAudit(events, "api_key.created", adminID)
		if ev == nil || ev.Actor != "bootstrap" || ev.Detail["name"] != "second admin" || ev.Detail["role"] != "admin" {
			t.Fatalf("event %+v in %s", ev, raw)
		}
		if _, err := time.Parse(time.RFC3339Nano, ev.At); err != nil {
			t.Fatalf("at %q: %v", ev.At, err)
		}
	})
	t.Run("OKCreatedByAPIKey", func(t *testing.T) {
		ev := findAudit(events, "api_key.created", ciID)
		if ev == nil || !strings.Contains(ev.Actor, adminID) || !strings.Contains(ev.Actor, "second admin") {
			t.Fatalf("event %+v in %s", ev, raw)
		}
	})
	t.Run("OKRevoked", func(t *testing.T) {
		ev := findAudit(events, "api_key.revoked", ciID)
		if ev == nil || ev.Actor != "bootstrap" {
			t.Fatalf("event %+v in %s", ev, raw)
		}
	})
	t.Run("OKOnlyActionsThatHappened", func(t *testing.T) {
		if len(events) != 3 {
			t.Fatalf("%d events, want 3: %s", len(events), raw)
		}
	})
	t.Run("OKNoToken", func(t *testing.T) {
		for _, tok := range []string{adminTok, ciTok, adminToken} {
			if bytes.Contains(raw, []byte(tok)) || bytes.Contains(raw, []byte(tok[8:])) {
				t.Fatalf("the audit log shows a token: %s", raw)
			}
		}
	})
}
