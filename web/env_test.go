package web_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowbot/flowbot"
	"github.com/flowbot/flowbot/botstep"
	"github.com/flowbot/flowbot/connections"
	"github.com/flowbot/flowbot/flow"
	"github.com/flowbot/flowbot/store"
	"github.com/flowbot/flowbot/web"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

const adminToken = "test-admin-token-0123456789abcdef"

// env is a real server on a real bbolt file in a temp dir.
type env struct {
	t        testing.TB
	srv      *web.Server
	db       *store.DB
	dir      string
	conns    *connections.Service
	designer string
	// client is the outbound client of the executor and connections
	// (private networks allowed); trust adds a test upstream's CA to it.
	client *http.Client
}

// trust makes the outbound client trust a test TLS server's certificate.
func (e *env) trust(srv *httptest.Server) {
	tr := e.client.Transport.(*connections.Transport)
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{}
	}
	pool := tr.TLSClientConfig.RootCAs
	if pool == nil {
		pool = x509.NewCertPool()
	}
	pool.AddCert(srv.Certificate())
	tr.TLSClientConfig.RootCAs = pool
}

var (
	specOnce   sync.Once
	specRouter routers.Router
	specDoc    *openapi3.T
	specErr    error
)

func spec(t testing.TB) (*openapi3.T, routers.Router) {
	specOnce.Do(func() {
		loader := openapi3.NewLoader()
		specDoc, specErr = loader.LoadFromData(flowbot.OpenAPI)
		if specErr != nil {
			return
		}
		if specErr = specDoc.Validate(context.Background()); specErr != nil {
			return
		}
		// The spec's server is relative ("/"); requests in tests go to localhost.
		specDoc.Servers = openapi3.Servers{{URL: "http://localhost"}}
		specRouter, specErr = legacy.NewRouter(specDoc)
	})
	if specErr != nil {
		t.Fatalf("openapi.yaml: %v", specErr)
	}
	return specDoc, specRouter
}

type envOption func(*web.Deps, *env)

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "flowbot.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	kr, _, err := connections.LoadKey(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := connections.CheckKey(context.Background(), db, kr); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, db: db, dir: dir}
	client := connections.NewGuardedClient(true)
	e.client = client
	e.conns = &connections.Service{Store: db, Keyring: kr, Client: client, Now: time.Now}
	ex := &botstep.Executor{Client: client, Connections: e.conns}
	rt := &flow.Runtime{Bots: db, Store: db, Engine: &flow.Engine{Caller: ex}}
	d := web.Deps{Bots: db, Keys: db, Audit: db, Connections: e.conns, Conversations: db, Runtime: rt, Executor: ex,
		AdminToken: adminToken, OpenAPI: flowbot.OpenAPI, Ready: db.Ping,
		StoreStats: func() web.StoreStats { return web.StoreStats(db.Stats()) },
		Backup:     db.Snapshot}
	for _, o := range opts {
		o(&d, e)
	}
	e.srv = web.New(d)
	return e
}

// with returns a copy of e that reports to t (for subtests).
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// resp is a response already checked against openapi.yaml.
type resp struct {
	Code   int
	Header http.Header
	Body   []byte
}

func (r resp) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("response %d is not JSON: %v\n%s", r.Code, err, r.Body)
	}
}

func (r resp) m(t testing.TB) map[string]any {
	var m map[string]any
	r.json(t, &m)
	return m
}

// errCode returns the error code of an error response.
func (r resp) errCode(t testing.TB) string {
	var b web.ErrorBody
	r.json(t, &b)
	return b.Error.Code
}

// do sends a request through the real router and validates the response
// against openapi.yaml: an undocumented status or field fails the test.
func (e *env) do(method, path, token string, body any, hdr ...string) resp {
	e.t.Helper()
	return e.doFrom("", method, path, token, body, hdr...)
}

// doFrom is do with the request coming from remote ("203.0.113.7:5000",
// "[2001:db8::1]:5000"), the TCP peer; "" keeps httptest's 192.0.2.1:1234.
func (e *env) doFrom(remote, method, path, token string, body any, hdr ...string) resp {
	e.t.Helper()
	var rd io.Reader
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		raw, _ = json.Marshal(b)
	}
	if raw != nil {
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, rd)
	if remote != "" {
		req.RemoteAddr = remote
	}
	if raw != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	r := resp{Code: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	checkSpec(e.t, method, path, raw, req.Header, r)
	return r
}

func checkSpec(t testing.TB, method, path string, reqBody []byte, h http.Header, r resp) {
	t.Helper()
	_, router := spec(t)
	vreq := httptest.NewRequest(method, "http://localhost"+path, bytes.NewReader(reqBody))
	vreq.Header = h.Clone()
	if len(reqBody) > 0 && jsonBody(h.Get("Content-Type")) {
		// openapi.yaml names application/json; a body with no Content-Type
		// or another JSON type is read the same (UnsupportedMediaType says so).
		vreq.Header.Set("Content-Type", "application/json")
	}
	route, params, err := router.FindRoute(vreq)
	if err != nil {
		if r.Code == http.StatusNotFound || r.Code == http.StatusMethodNotAllowed {
			return // unknown routes are not in the spec by design
		}
		t.Fatalf("%s %s answered %d but is not in openapi.yaml: %v", method, path, r.Code, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
			// SPEC §5: read-only fields a client sends back are ignored.
			ExcludeReadOnlyValidations: true}}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: r.Code, Header: r.Header,
		Body: io.NopCloser(bytes.NewReader(r.Body)), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Fatalf("%s %s → %d does not match openapi.yaml: %v\nbody: %s", method, path, r.Code, err, truncate(r.Body))
	}
	// A request the server took must be one the document allows: a 2xx
	// to a request it calls invalid means the document is wrong (a schema
	// limit that validation only reports as a problem, say).
	if r.Code >= 200 && r.Code < 300 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			t.Fatalf("%s %s → %d, but openapi.yaml calls the request invalid: %v\nrequest body: %s", method, path, r.Code, err, truncate(reqBody))
		}
	}
	specSeen.add(route.Method, route.Path, r.Code)
}

// jsonBody reports whether the server reads a body with Content-Type ct
// as JSON: none, application/json or application/*+json.
func jsonBody(ct string) bool {
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// specSeen records each documented (operation, status) pair checkSpec
// validated in this run of the package's tests; TestMain then asks that
// every one openapi.yaml documents was seen (specCoverage).
var specSeen = &seenPairs{m: map[string]bool{}}

type seenPairs struct {
	mu sync.Mutex
	m  map[string]bool
}

func (s *seenPairs) add(method, path string, status int) {
	s.mu.Lock()
	s.m[specPair(method, path, strconv.Itoa(status))] = true
	s.mu.Unlock()
}

func specPair(method, path, status string) string { return method + " " + path + " " + status }

func truncate(b []byte) string {
	s := string(b)
	if len(s) > 2000 {
		return s[:2000] + "…"
	}
	return s
}

// designerToken creates (once) a designer API key through the API.
func (e *env) designerToken() string {
	if e.designer == "" {
		r := e.do("POST", "/v1/api-keys", adminToken, map[string]any{"name": "designer", "role": "designer"})
		if r.Code != 201 {
			e.t.Fatalf("create designer key: %d %s", r.Code, r.Body)
		}
		e.designer = r.m(e.t)["token"].(string)
	}
	return e.designer
}

// createBot makes a bot with the given flow JSON and returns its id and revision.
func (e *env) createBot(flowJSON string) (string, int64) {
	e.t.Helper()
	body := `{"name":"Test bot","description":"d"`
	if flowJSON != "" {
		body += `,"flow":` + flowJSON
	}
	body += "}"
	r := e.do("POST", "/v1/bots", adminToken, body)
	if r.Code != 201 {
		e.t.Fatalf("create bot: %d %s", r.Code, r.Body)
	}
	m := r.m(e.t)
	return m["id"].(string), int64(m["revision"].(float64))
}

func hasProblem(problems []any, pointer, code string) bool {
	for _, p := range problems {
		pm := p.(map[string]any)
		if pm["pointer"] == pointer && pm["code"] == code {
			return true
		}
	}
	return false
}

var _ = strings.TrimSpace
