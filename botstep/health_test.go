package botstep

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flowbot/flowbot/connections"
	"github.com/flowbot/flowbot/flow"
)

// TestExecuteNotesRefusals: an API refusing a connection's credentials
// (401, 403, or the token endpoint's 4xx) is recorded on the connection
// by the real call path; other failures are not; a 2xx clears it.
func TestExecuteNotesRefusals(t *testing.T) {
	e := newExEnv(t, exOptions{handlers: map[string]http.HandlerFunc{
		exAPIHost: func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/denied":
				jsonAnswer(401, `{"error":"bad key"}`)(w, r)
			case "/forbidden":
				jsonAnswer(403, `{"error":"not yours"}`)(w, r)
			case "/broken":
				jsonAnswer(500, `{}`)(w, r)
			default:
				jsonAnswer(200, `{"ok":true}`)(w, r)
			}
		},
		exAuthHost: func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/refuse":
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(401)
				w.Write([]byte(`{"error":"invalid_client"}`))
			case "/down":
				w.WriteHeader(503)
			case "/busy":
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(429)
				w.Write([]byte(`{"error":"slow_down"}`))
			default:
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(`{"access_token":"fine","token_type":"Bearer","expires_in":3600}`))
			}
		},
	}})
	ctx := context.Background()
	// A refusal is written at most once a minute per connection: the
	// clock moves a minute after each call.
	now := time.Now()
	e.conns.Now = func() time.Time { return now }
	refusal := func(name string) *connections.Refusal {
		t.Helper()
		c, err := e.conns.Get(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return c.Refusal
	}
	call := func(conn, path string) *Outcome {
		t.Helper()
		defer func() { now = now.Add(time.Minute) }()
		return e.run(t, exStep("GET", "https://"+exAPIHost+path, withConnection(conn)), nil)
	}

	wantFail(t, call("shop_api", "/broken"), ErrCodeHTTPStatus)
	if r := refusal("shop_api"); r != nil {
		t.Fatalf("a 500 was recorded as a refusal: %+v", r)
	}
	wantFail(t, call("shop_api", "/denied"), ErrCodeHTTPStatus)
	r := refusal("shop_api")
	if r == nil || r.Status != 401 || r.Host != exAPIHost {
		t.Fatalf("refusal after a 401 = %+v", r)
	}
	wantOK(t, call("shop_api", "/ok"))
	if r := refusal("shop_api"); r != nil {
		t.Fatalf("a 2xx left the refusal: %+v", r)
	}
	wantFail(t, call("key_api", "/forbidden"), ErrCodeHTTPStatus)
	if r := refusal("key_api"); r == nil || r.Status != 403 {
		t.Fatalf("refusal after a 403 = %+v", r)
	}

	// The token endpoint refusing the client credentials is a refusal; it
	// being down is not.
	for _, c := range []connections.NewConnection{
		{Name: "refused_oauth", Type: connections.TypeOAuth2CC, AllowedDomain: exAPIHost,
			Credentials: connections.Credentials{TokenURL: "https://" + exAuthHost + "/refuse", ClientID: "bot", ClientSecret: "s3cret-client"}},
		{Name: "down_oauth", Type: connections.TypeOAuth2CC, AllowedDomain: exAPIHost,
			Credentials: connections.Credentials{TokenURL: "https://" + exAuthHost + "/down", ClientID: "bot", ClientSecret: "s3cret-client"}},
		{Name: "busy_oauth", Type: connections.TypeOAuth2CC, AllowedDomain: exAPIHost,
			Credentials: connections.Credentials{TokenURL: "https://" + exAuthHost + "/busy", ClientID: "bot", ClientSecret: "s3cret-client"}},
	} {
		if _, err := e.conns.Create(ctx, "admin", c); err != nil {
			t.Fatal(err)
		}
	}
	wantFail(t, call("refused_oauth", "/ok"), ErrCodeConnection)
	r = refusal("refused_oauth")
	if r == nil || r.Status != 401 || r.Host != exAuthHost || !strings.Contains(r.Message, "invalid_client") || strings.Contains(r.Message, "s3cret") {
		t.Fatalf("refusal by the token endpoint = %+v", r)
	}
	wantFail(t, call("down_oauth", "/ok"), ErrCodeConnection)
	if r := refusal("down_oauth"); r != nil {
		t.Fatalf("a token endpoint's 503 was recorded as a refusal: %+v", r)
	}
	wantFail(t, call("busy_oauth", "/ok"), ErrCodeConnection)
	if r := refusal("busy_oauth"); r != nil {
		t.Fatalf("a token endpoint's 429 was recorded as a refusal: %+v", r)
	}
}

// TestExecuteExpiredConnectionMessage: a 401 through a connection past its
// expiry date says so in the failure; before the date it does not.
func TestExecuteExpiredConnectionMessage(t *testing.T) {
	e := newExEnv(t, exOptions{handlers: map[string]http.HandlerFunc{exAPIHost: jsonAnswer(401, `{}`)}})
	now := time.Now()
	e.conns.Now = func() time.Time { return now }
	expires := now.Add(time.Hour).Format(time.RFC3339)
	if _, err := e.conns.Update(context.Background(), "shop_api", connections.Update{ExpiresAt: &expires}); err != nil {
		t.Fatal(err)
	}
	s := exStep("GET", "https://"+exAPIHost+"/orders", withConnection("shop_api"))
	o := e.run(t, s, nil)
	wantFail(t, o, ErrCodeHTTPStatus)
	if strings.Contains(o.ErrorMessage, "expire") {
		t.Fatalf("message before the expiry date: %q", o.ErrorMessage)
	}
	now = now.Add(2 * time.Hour)
	o = e.run(t, s, nil)
	wantFail(t, o, ErrCodeHTTPStatus)
	if !strings.Contains(o.ErrorMessage, "401") || !strings.Contains(o.ErrorMessage, "connection shop_api: its credentials expired on") {
		t.Fatalf("message after the expiry date: %q", o.ErrorMessage)
	}
}

// TestValidateConnectionHealth: a step using a connection that is not ok
// gets a warning at its connection field; publishing is not blocked.
func TestValidateConnectionHealth(t *testing.T) {
	f := &flow.Flow{Start: "call", Steps: []flow.Step{
		{ID: "call", Type: flow.TypeAPICall, APICall: flow.APICall{Method: "GET", URL: "https://api.example.com/x", Connection: "crm", OnSuccess: "end", OnFailure: "end"}},
		{ID: "end", Type: flow.TypeEnd},
	}}
	for status, code := range map[string]string{
		connections.StatusOK:       "",
		"":                         "",
		connections.StatusExpiring: CodeConnectionExpiring,
		connections.StatusExpired:  CodeConnectionExpired,
		connections.StatusRefused:  CodeConnectionRefused,
	} {
		p := Validate(f, map[string]ConnectionInfo{"crm": {AllowedDomain: "api.example.com", Status: status, StatusMessage: "why it is so"}})
		if p.HasErrors() {
			t.Fatalf("status %q: errors %+v", status, p)
		}
		var got []string
		for _, pr := range p {
			if pr.Pointer == "/steps/0/connection" {
				got = append(got, pr.Code)
				if !strings.Contains(pr.Message, `connection "crm": why it is so`) {
					t.Errorf("status %q: message %q", status, pr.Message)
				}
			}
		}
		if (code == "" && len(got) != 0) || (code != "" && (len(got) != 1 || got[0] != code)) {
			t.Errorf("status %q: problems at /steps/0/connection %v, want %q", status, got, code)
		}
	}
}
