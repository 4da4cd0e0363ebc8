package web_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/flowbot/flowbot/web"
)

// syncBuffer is a bytes.Buffer safe for the server's concurrent log writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// withLogs sends the server's logs, at every level, as JSON into buf.
func withLogs(buf io.Writer) envOption {
	return func(d *web.Deps, _ *env) {
		d.Logger = slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
}

// canaryUpstream is the external API and OAuth token endpoint the
// connections authenticate to. It records the credentials it gets and never
// echoes them, so anything the canary shows up in came from flowbot.
type canaryUpstream struct {
	srv         *httptest.Server
	accessToken string

	mu     sync.Mutex
	auth   []string // Authorization headers of API calls
	keys   []string // X-Key headers of API calls
	client []string // client_id:client_secret sent to the token endpoint
}

func newCanaryUpstream(t *testing.T, accessToken string) *canaryUpstream {
	u := &canaryUpstream{accessToken: accessToken}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, r *http.Request) {
		id, secret, _ := r.BasicAuth()
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
		u.mu.Lock()
		u.client = append(u.client, id+":"+secret)
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": u.accessToken, "token_type": "Bearer", "expires_in": 3600})
	})
	// A token endpoint that refuses, quoting the secret back: flowbot must
	// not pass that on.
	mux.HandleFunc("POST /oauth/refuse", func(w http.ResponseWriter, r *http.Request) {
		_, secret, _ := r.BasicAuth()
		secret, _ = url.QueryUnescape(secret)
		u.mu.Lock()
		u.client = append(u.client, "refused:"+secret)
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"error":"invalid_client","error_description":"bad client_secret %s"}`, secret)
	})
	mux.HandleFunc("GET /api/orders/{n}", func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.auth = append(u.auth, r.Header.Get("Authorization"))
		u.keys = append(u.keys, r.Header.Get("X-Key"))
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"order":{"status":"shipped","number":%q}}`, r.PathValue("n"))
	})
	u.srv = httptest.NewTLSServer(mux)
	t.Cleanup(u.srv.Close)
	return u
}

// got reports whether the upstream received want as an Authorization
// header, an X-Key header or OAuth client credentials.
func (u *canaryUpstream) got(want string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, l := range [][]string{u.auth, u.keys, u.client} {
		for _, v := range l {
			if v == want {
				return true
			}
		}
	}
	return false
}

// canaryCheck sends requests and fails the test as soon as a response
// shows one of the secrets.
type canaryCheck struct {
	e         *env
	forbidden []string
	checked   int
}

func (c *canaryCheck) leaks(b []byte) string {
	for _, f := range c.forbidden {
		if bytes.Contains(b, []byte(f)) {
			return f
		}
	}
	return ""
}

func (c *canaryCheck) do(method, path, token string, body any, hdr ...string) resp {
	c.e.t.Helper()
	r := c.e.do(method, path, token, body, hdr...)
	c.checked++
	if f := c.leaks(r.Body); f != "" {
		c.e.t.Fatalf("%s %s → %d shows the secret %q in its body: %s", method, path, r.Code, f, truncate(r.Body))
	}
	var hb bytes.Buffer
	r.Header.Write(&hb)
	if f := c.leaks(hb.Bytes()); f != "" {
		c.e.t.Fatalf("%s %s → %d shows the secret %q in a header: %s", method, path, r.Code, f, hb.String())
	}
	return r
}

// want sends a request and checks its status.
func (c *canaryCheck) want(code int, method, path, token string, body any, hdr ...string) resp {
	c.e.t.Helper()
	r := c.do(method, path, token, body, hdr...)
	if r.Code != code {
		c.e.t.Fatalf("%s %s: %d, want %d: %s", method, path, r.Code, code, truncate(r.Body))
	}
	return r
}

// TestSecrets_Canary puts a unique canary into every kind of connection
// secret through the API, uses them on every route that touches them, and
// then looks for the canary in every response, every log line and the raw
// database file. It must be nowhere, while the upstream got it.
func TestSecrets_Canary(t *testing.T) {
	rnd := make([]byte, 16)
	rand.Read(rnd)
	canary := "CANARY-" + hex.EncodeToString(rnd)
	upstream := newCanaryUpstream(t, "AT-"+canary)
	logs := &syncBuffer{}
	e := newEnv(t, withLogs(logs))
	e.trust(upstream.srv)
	designer := e.designerToken()
	base := upstream.srv.URL
	bu, _ := url.Parse(base)
	host := bu.Hostname()

	secret := func(kind, round string) string { return canary + "-" + kind + round }
	basicHeader := func(round string) string {
		return base64.StdEncoding.EncodeToString([]byte("u:" + secret("basic", round)))
	}
	creds := func(round string) map[string]map[string]any {
		return map[string]map[string]any{
			"s_key":    {"header": "X-Key", "value": secret("key", round)},
			"s_bearer": {"token": secret("bearer", round)},
			"s_basic":  {"username": "u", "password": secret("basic", round)},
			"s_oauth":  {"token_url": base + "/oauth/token", "client_id": "cid", "client_secret": secret("oauth", round)},
		}
	}
	types := map[string]string{"s_key": "api_key", "s_bearer": "bearer", "s_basic": "basic", "s_oauth": "oauth2_client_credentials"}
	names := []string{"s_key", "s_bearer", "s_basic", "s_oauth"}
	c := &canaryCheck{e: e, forbidden: []string{
		canary, basicHeader("1"), basicHeader("2"),
		base64.StdEncoding.EncodeToString([]byte(canary)),
		base64.StdEncoding.EncodeToString([]byte("cid:" + secret("oauth", "2"))),
	}}

	// Create, list, read.
	for _, n := range names {
		c.want(201, "POST", "/v1/connections", adminToken, map[string]any{"name": n, "type": types[n], "allowed_domain": host, "credentials": creds("1")[n]})
		c.want(200, "GET", "/v1/connections/"+n, designer, nil)
	}
	c.want(200, "GET", "/v1/connections", designer, nil)
	c.want(200, "GET", "/v1/connections", adminToken, nil)

	// Refused writes that carry the canary must not quote it back.
	bad := []struct {
		code int
		body any
	}{
		{409, map[string]any{"name": "s_bearer", "type": "bearer", "allowed_domain": host, "credentials": map[string]any{"token": canary}}},
		{422, map[string]any{"name": "s_crlf", "type": "bearer", "allowed_domain": host, "credentials": map[string]any{"token": canary + "\r\nX-Evil: 1"}}},
		{422, map[string]any{"name": "s_long", "type": "bearer", "allowed_domain": host, "credentials": map[string]any{"token": strings.Repeat(canary, 400)}}},
		{422, map[string]any{"name": "s_other", "type": "bearer", "allowed_domain": host, "credentials": map[string]any{"token": "t", "password": canary}}},
		{422, map[string]any{"name": "Bad-Name", "type": "basic", "allowed_domain": "https://" + host, "credentials": map[string]any{"username": "u", "password": canary}}},
		{422, map[string]any{"name": "s_key2", "type": "api_key", "allowed_domain": host, "credentials": map[string]any{"header": "Bad Header", "value": canary}}},
		{400, map[string]any{"name": "s_typo", "type": "bearer", "allowed_domain": host, "credentials": map[string]any{"tokn": canary}}},
		{400, map[string]any{"name": "s_type", "type": "bearer", "allowed_domain": host, "credentials": map[string]any{"token": []string{canary}}}},
		{400, `{"name":"s_cut","type":"bearer","allowed_domain":"` + host + `","credentials":{"token":"` + canary},
		{400, `{"name":"s_bad","type":"bearer","credentials":{"token":"` + canary + `\x"}}`},
	}
	for _, b := range bad {
		c.want(b.code, "POST", "/v1/connections", adminToken, b.body)
	}
	c.want(403, "POST", "/v1/connections", designer, map[string]any{"name": "s_des", "type": "bearer", "allowed_domain": host, "credentials": map[string]any{"token": canary}})
	c.want(422, "PATCH", "/v1/connections/s_bearer", adminToken, map[string]any{"type": "basic", "credentials": map[string]any{"token": canary}})
	c.want(422, "PATCH", "/v1/connections/s_bearer", adminToken, map[string]any{"credentials": map[string]any{"token": canary + "\n"}})
	c.want(404, "PATCH", "/v1/connections/s_none", adminToken, map[string]any{"credentials": map[string]any{"token": canary}})
	// A secret used as a bearer token on the API itself is not echoed either.
	c.want(401, "GET", "/v1/bots", canary, nil)
	c.want(401, "GET", "/v1/bots", "fbc_"+canary, nil)

	// Rotate every connection to its round-2 secret.
	for _, n := range names {
		c.want(200, "PATCH", "/v1/connections/"+n, adminToken, map[string]any{"credentials": creds("2")[n]})
	}

	// Test calls: one per connection, through the runtime's code path.
	for _, n := range names {
		r := c.want(200, "POST", "/v1/test-call", designer, map[string]any{
			"step": map[string]any{"id": "t", "type": "api_call", "method": "GET", "url": base + "/api/orders/{{n}}",
				"connection": n, "variables": []map[string]string{{"name": "status", "path": "$.order.status"}},
				"on_success": "a", "on_failure": "b"},
			"test_values": map[string]string{"n": "1001"},
		})
		var tc struct {
			Request struct {
				Headers map[string]string `json:"headers"`
			} `json:"request"`
			Branch    string            `json:"branch"`
			Variables map[string]string `json:"variables"`
		}
		r.json(t, &tc)
		header := "Authorization"
		if n == "s_key" {
			header = "X-Key"
		}
		if tc.Branch != "success" || tc.Variables["status"] != "shipped" {
			t.Fatalf("test call with %s: %s", n, r.Body)
		}
		if got := tc.Request.Headers[header]; got != "*****" {
			t.Fatalf("test call with %s shows %s as %q: %s", n, header, got, r.Body)
		}
	}
	// A refusing token endpoint quotes the secret; the test call fails
	// without showing it.
	c.want(201, "POST", "/v1/connections", adminToken, map[string]any{"name": "s_refused", "type": "oauth2_client_credentials", "allowed_domain": host,
		"credentials": map[string]any{"token_url": base + "/oauth/refuse", "client_id": "cid", "client_secret": secret("refused", "1")}})
	r := c.want(200, "POST", "/v1/test-call", designer, map[string]any{
		"step": map[string]any{"id": "t", "type": "api_call", "method": "GET", "url": base + "/api/orders/1",
			"connection": "s_refused", "on_success": "a", "on_failure": "b"},
	})
	if r.m(t)["branch"] != "failure" || !upstream.got("refused:"+secret("refused", "1")) {
		t.Fatalf("refused token: %s", r.Body)
	}
	// A test call whose host the connection does not allow is refused.
	c.want(422, "POST", "/v1/test-call", designer, map[string]any{
		"step": map[string]any{"id": "t", "type": "api_call", "method": "GET", "url": strings.Replace(base, host, "localhost", 1) + "/api/orders/1",
			"connection": "s_bearer", "on_success": "a", "on_failure": "b"},
	})

	// A bot that uses all four: save, validate, publish, export, import.
	steps := []string{`{"id":"ask","type":"ask","text":"Order?","variable":"n","input":"text","next":"call_0"}`}
	for i, n := range names {
		next := fmt.Sprintf("call_%d", i+1)
		if i == len(names)-1 {
			next = "tell"
		}
		steps = append(steps, fmt.Sprintf(`{"id":"call_%d","type":"api_call","method":"GET","url":"%s/api/orders/{{n}}","connection":"%s",
 "variables":[{"name":"status","path":"$.order.status"}],"on_success":"%s","on_failure":"sorry"}`, i, base, n, next))
	}
	steps = append(steps, `{"id":"tell","type":"message","text":"Order {{n}} is {{status}}.","next":""}`,
		`{"id":"sorry","type":"transfer","text":"Sorry.","reason":"lookup failed"}`)
	flowJSON := `{"start":"ask","steps":[` + strings.Join(steps, ",") + `]}`
	r = c.want(201, "POST", "/v1/bots", designer, `{"name":"Canary bot","flow":`+flowJSON+`}`)
	bot := r.m(t)["id"].(string)
	if p := r.m(t)["problems"].([]any); len(p) != 0 {
		t.Fatalf("the canary bot has problems: %v", p)
	}
	c.want(200, "PUT", "/v1/bots/"+bot+"/flow", designer, flowJSON, "If-Match", "1")
	c.want(200, "POST", "/v1/bots/"+bot+"/validate", designer, nil)
	c.want(201, "POST", "/v1/bots/"+bot+"/publish", designer, nil)
	c.want(200, "GET", "/v1/bots/"+bot, designer, nil)
	c.want(200, "GET", "/v1/bots/"+bot+"/versions", designer, nil)
	c.want(200, "GET", "/v1/bots/"+bot+"/versions/1", designer, nil)
	export := c.want(200, "GET", "/v1/bots/"+bot+"/export", designer, nil)
	c.want(201, "POST", "/v1/bots/import", designer, export.Body)

	// A live conversation runs the four calls.
	r = c.want(201, "POST", "/v1/bots/"+bot+"/conversations", "", nil)
	conv, convTok := r.m(t)["id"].(string), r.m(t)["token"].(string)
	r = c.want(200, "POST", "/v1/conversations/"+conv+"/messages", convTok, map[string]string{"text": "1001"})
	if !strings.Contains(string(r.Body), "Order 1001 is shipped.") {
		t.Fatalf("the conversation did not get through the four calls: %s", r.Body)
	}
	c.want(200, "GET", "/v1/conversations/"+conv, convTok, nil)
	c.want(200, "GET", "/v1/conversations/"+conv, designer, nil)
	r = c.want(200, "GET", "/v1/conversations/"+conv+"/log", designer, nil)
	if !strings.Contains(string(r.Body), "*****") {
		t.Fatalf("the execution log shows no redacted header: %s", truncate(r.Body))
	}

	// In use, so not deleted; the bot goes, then the connections can.
	c.want(409, "DELETE", "/v1/connections/s_bearer", adminToken, nil)
	c.want(200, "GET", "/v1/audit", adminToken, nil)
	c.want(200, "GET", "/metrics", "", nil)

	// The upstream got every secret, rotated, exactly as configured.
	for _, want := range []string{
		"Bearer " + secret("bearer", "2"), secret("key", "2"), "Basic " + basicHeader("2"),
		"cid:" + secret("oauth", "2"), "Bearer AT-" + canary,
	} {
		if !upstream.got(want) {
			t.Errorf("the upstream never got %q", want)
		}
	}
	for _, old := range []string{"Bearer " + secret("bearer", "1"), secret("key", "1"), "Basic " + basicHeader("1"), "cid:" + secret("oauth", "1")} {
		if upstream.got(old) {
			t.Errorf("the upstream got the secret from before the rotation, %q", old)
		}
	}
	if c.checked < 50 {
		t.Fatalf("only %d responses checked", c.checked)
	}

	t.Run("OKNotInLogs", func(t *testing.T) {
		out := logs.Bytes()
		if n := bytes.Count(out, []byte("\n")); n < c.checked {
			t.Fatalf("only %d log lines for %d requests", n, c.checked)
		}
		// The search would find what is there: the routes used are logged.
		if !bytes.Contains(out, []byte(`"route":"/v1/connections/:name"`)) || !bytes.Contains(out, []byte(`"route":"/v1/test-call"`)) {
			t.Fatalf("the logs do not show the routes used: %s", truncate(out))
		}
		for _, line := range bytes.Split(out, []byte("\n")) {
			if f := c.leaks(line); f != "" {
				t.Fatalf("a log line shows %q: %s", f, line)
			}
			for _, tok := range []string{adminToken, designer, convTok} {
				if bytes.Contains(line, []byte(tok)) {
					t.Fatalf("a log line shows a bearer token: %s", line)
				}
			}
		}
	})
	t.Run("OKNotInDataFiles", func(t *testing.T) {
		files, err := os.ReadDir(e.dir)
		if err != nil {
			t.Fatal(err)
		}
		read := 0
		for _, f := range files {
			if f.IsDir() {
				continue
			}
			raw, err := os.ReadFile(filepath.Join(e.dir, f.Name()))
			if err != nil {
				t.Fatal(err)
			}
			read += len(raw)
			for _, s := range append([]string{convTok, designer}, c.forbidden...) {
				if bytes.Contains(raw, []byte(s)) {
					t.Fatalf("%s holds %q in clear", f.Name(), s)
				}
			}
			// Not even a part of it (a truncated copy).
			if bytes.Contains(raw, []byte(canary[:20])) {
				t.Fatalf("%s holds part of the canary in clear", f.Name())
			}
		}
		if read == 0 {
			t.Fatal("no data file read")
		}
		// The search would find what is there: names are stored in clear.
		raw, err := os.ReadFile(filepath.Join(e.dir, "flowbot.db"))
		if err != nil || !bytes.Contains(raw, []byte("s_bearer")) || !bytes.Contains(raw, []byte("Canary bot")) {
			t.Fatalf("flowbot.db does not hold the names in clear (%v): the search is blind", err)
		}
	})
}
