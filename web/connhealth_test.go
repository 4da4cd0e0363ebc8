package web_test

import (
	"context"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowbot/flowbot/connections"
)

// TestConnections_ExpiryAndHealth: an expiry date is set at creation and
// changed or cleared on its own; the view, validation, the audit log and
// /metrics show how each connection stands.
func TestConnections_ExpiryAndHealth(t *testing.T) {
	e := newEnv(t)
	rfc := func(d time.Duration) string { return time.Now().Add(d).UTC().Format(time.RFC3339) }

	b := connBody("shop_api", "bearer", map[string]any{"token": "t-1"})
	b["expires_at"] = "yesterday"
	if r := e.do("POST", "/v1/connections", adminToken, b); r.Code != 422 || details(t, r)["/expires_at"] != "invalid_time" {
		t.Fatalf("create with a bad date: %d %s", r.Code, r.Body)
	}
	b["expires_at"] = rfc(-time.Minute)
	if r := e.do("POST", "/v1/connections", adminToken, b); r.Code != 422 || details(t, r)["/expires_at"] != "expired" {
		t.Fatalf("create with a past date: %d %s", r.Code, r.Body)
	}
	b["expires_at"] = rfc(3 * 24 * time.Hour)
	c := e.mustConnection(b)
	if c["expires_at"] != b["expires_at"] || c["status"] != "expiring" || !strings.Contains(c["status_message"].(string), "in 3 days") {
		t.Fatalf("created: %v", c)
	}

	id, _ := e.createBot(botUsing("shop_api"))
	if got := e.do("GET", "/v1/connections/shop_api", adminToken, nil).m(t)["used_by"]; !reflect.DeepEqual(got, []any{}) {
		t.Fatalf("used_by before any publish: %v", got)
	}
	r := e.do("POST", "/v1/bots/"+id+"/validate", adminToken, nil)
	if r.Code != 200 || !hasProblem(r.m(t)["problems"].([]any), "/steps/1/connection", "connection_expiring") {
		t.Fatalf("validate: %d %s", r.Code, r.Body)
	}
	if r := e.do("POST", "/v1/bots/"+id+"/publish", adminToken, nil); r.Code != 201 {
		t.Fatalf("a warning blocked the publish: %d %s", r.Code, r.Body)
	}
	// The connection now names the bot it affects, in the list too.
	want := []any{map[string]any{"id": id, "name": "Test bot"}}
	if got := e.do("GET", "/v1/connections/shop_api", e.designerToken(), nil).m(t)["used_by"]; !reflect.DeepEqual(got, want) {
		t.Fatalf("used_by after the publish: %v, want %v", got, want)
	}
	var list struct {
		Items []map[string]any `json:"items"`
	}
	e.do("GET", "/v1/connections", adminToken, nil).json(t, &list)
	if len(list.Items) != 1 || !reflect.DeepEqual(list.Items[0]["used_by"], want) {
		t.Fatalf("list: %+v", list.Items)
	}

	// The date alone: moved, then cleared.
	later := rfc(90 * 24 * time.Hour)
	r = e.do("PATCH", "/v1/connections/shop_api", adminToken, map[string]any{"expires_at": later})
	if r.Code != 200 || r.m(t)["expires_at"] != later || r.m(t)["status"] != "ok" {
		t.Fatalf("move the date: %d %s", r.Code, r.Body)
	}
	r = e.do("PATCH", "/v1/connections/shop_api", adminToken, map[string]any{"expires_at": nil})
	if _, has := r.m(t)["expires_at"]; r.Code != 200 || has {
		t.Fatalf("clear the date: %d %s", r.Code, r.Body)
	}
	for name, body := range map[string]map[string]any{
		"number":  {"expires_at": 5},
		"empty":   {"expires_at": ""},
		"past":    {"expires_at": rfc(-time.Hour)},
		"nothing": {},
	} {
		r := e.do("PATCH", "/v1/connections/shop_api", adminToken, body)
		want := map[string]string{"number": "invalid_time", "empty": "invalid_time", "past": "expired", "nothing": "required"}[name]
		ptr := "/expires_at"
		if name == "nothing" {
			ptr = "/credentials"
		}
		if r.Code != 422 || details(t, r)[ptr] != want {
			t.Errorf("PATCH %s: %d %s, want 422 %s at %s", name, r.Code, r.Body, want, ptr)
		}
	}
	if r := e.do("PATCH", "/v1/connections/shop_api", e.designerToken(), map[string]any{"expires_at": later}); r.Code != 403 {
		t.Fatalf("a designer changed the date: %d %s", r.Code, r.Body)
	}
	events, raw := e.auditLog()
	var changes int
	for _, ev := range events {
		if ev.Action == "connection.expiry_changed" && ev.Target == "shop_api" {
			changes++
		}
	}
	if changes != 2 || !strings.Contains(string(raw), later) {
		t.Fatalf("audit log: %d expiry changes, want 2: %s", changes, raw)
	}

	// An API refused the credentials (as the executor records it).
	conn, err := e.conns.Get(context.Background(), "shop_api")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Truncate(time.Second)
	if err := e.db.SetConnectionRefusal(context.Background(), "shop_api", conn.UpdatedAt,
		&connections.Refusal{At: at, Status: 401, Host: "shop.example.com", Message: "shop.example.com answered 401 Unauthorized"}); err != nil {
		t.Fatal(err)
	}
	r = e.do("GET", "/v1/connections/shop_api", e.designerToken(), nil)
	got := r.m(t)
	last, _ := got["last_refusal"].(map[string]any)
	if got["status"] != "refused" || last["status"] != float64(401) || last["host"] != "shop.example.com" || last["at"] != at.Format(time.RFC3339) {
		t.Fatalf("after a refusal: %s", r.Body)
	}
	r = e.do("POST", "/v1/bots/"+id+"/validate", adminToken, nil)
	if !hasProblem(r.m(t)["problems"].([]any), "/steps/1/connection", "connection_refused") {
		t.Fatalf("validate after a refusal: %s", r.Body)
	}

	// /metrics: the refusal, and the expiry date of a dated connection.
	b = connBody("dated_api", "bearer", map[string]any{"token": "t-2"})
	b["expires_at"] = later
	e.mustConnection(b)
	exp, _ := time.Parse(time.RFC3339, later)
	body := string(e.do("GET", "/metrics", "", nil).Body)
	for _, want := range []string{
		`flowbot_connection_refused{connection="shop_api"} 1`,
		`flowbot_connection_refused{connection="dated_api"} 0`,
		// The text format writes a float64: 1.803261235e+09.
		`flowbot_connection_expires_timestamp_seconds{connection="dated_api"} ` + strconv.FormatFloat(float64(exp.Unix()), 'g', -1, 64),
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, `flowbot_connection_expires_timestamp_seconds{connection="shop_api"}`) {
		t.Error("/metrics shows an expiry date for a connection without one")
	}

	// New credentials with a date keep the date; with null, none.
	r = e.do("PATCH", "/v1/connections/dated_api", adminToken, map[string]any{"credentials": map[string]any{"token": "t-2b"}, "expires_at": later})
	if r.Code != 200 || r.m(t)["expires_at"] != later {
		t.Fatalf("rotate with a date: %d %s", r.Code, r.Body)
	}
	r = e.do("PATCH", "/v1/connections/dated_api", adminToken, map[string]any{"credentials": map[string]any{"token": "t-2c"}, "expires_at": nil})
	if _, has := r.m(t)["expires_at"]; r.Code != 200 || has {
		t.Fatalf("rotate with null: %d %s", r.Code, r.Body)
	}
	// New credentials clear the refusal.
	r = e.do("PATCH", "/v1/connections/shop_api", adminToken, map[string]any{"credentials": map[string]any{"token": "t-3"}})
	if _, has := r.m(t)["last_refusal"]; r.Code != 200 || has || r.m(t)["status"] != "ok" {
		t.Fatalf("rotate: %d %s", r.Code, r.Body)
	}
}
