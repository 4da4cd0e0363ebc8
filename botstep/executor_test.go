package botstep

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/flowbot/flowbot/connections"
	"github.com/flowbot/flowbot/flow"
	"github.com/flowbot/flowbot/store"
	"github.com/ohler55/ojg/oj"
)

// The upstream APIs of these tests are httptest TLS servers reached by host
// name: the executor's guarded client dials each name to its server and
// trusts httptest's certificate, which is valid for example.com and
// *.example.com. Private networks are allowed, as the servers listen on
// loopback, except where a test checks that they are not.
const (
	exAPIHost   = "api.example.com"
	exOtherHost = "other.example.com"
	exAuthHost  = "auth.example.com"
	exDownHost  = "down.example.com" // dials a closed port
	// exWrongCertHost dials the api.example.com upstream, whose
	// certificate is not valid for it.
	exWrongCertHost = "api.example.net"
)

// exToken is the bearer token of connection shop_api: 300 characters,
// longer than a designer's header value may be (256).
var exToken = strings.Repeat("tok3n-", 50)

// seen is one request as an upstream received it.
type seen struct {
	Proto       string
	Method      string
	Host        string
	Path        string // decoded
	RawPath     string
	EscapedPath string
	RawQuery    string
	Query       url.Values
	Header      http.Header
	Body        []byte
}

// upstream is a TLS test server that records each request it receives
// before its handler answers it.
type upstream struct {
	srv     *httptest.Server
	handler http.HandlerFunc
	mu      sync.Mutex
	reqs    []seen
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.reqs = append(u.reqs, seen{
		Proto: r.Proto, Method: r.Method, Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath,
		EscapedPath: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery, Query: r.URL.Query(),
		Header: r.Header.Clone(), Body: body,
	})
	u.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(body))
	u.handler(w, r)
}

func (u *upstream) hits() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.reqs)
}

// last returns the last request received; it fails the test when there
// was none.
func (u *upstream) last(t testing.TB) seen {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) == 0 {
		t.Fatal("the upstream received no request")
	}
	return u.reqs[len(u.reqs)-1]
}

// exOptions configure newExEnv.
type exOptions struct {
	// handlers answer for each host name.
	handlers map[string]http.HandlerFunc
	// blockPrivate builds the client with NewGuardedClient(false).
	blockPrivate bool
	// http2 makes the upstreams offer HTTP/2.
	http2 bool
}

// exEnv is an executor wired to test upstreams and to a connection
// service holding shop_api (bearer, api.example.com), key_api (api_key
// X-Shop-Key, example.com and its subdomains), partner_api (bearer,
// partner.example.org) and oauth_api (client credentials from
// auth.example.com, for api.example.com).
type exEnv struct {
	x      *Executor
	client *http.Client
	conns  *connections.Service
	up     map[string]*upstream
}

func newExEnv(t testing.TB, o exOptions) *exEnv {
	t.Helper()
	e := &exEnv{up: map[string]*upstream{}}
	addrs := map[string]string{}
	pool := x509.NewCertPool()
	for host, h := range o.handlers {
		u := &upstream{handler: h}
		u.srv = httptest.NewUnstartedServer(u)
		u.srv.EnableHTTP2 = o.http2
		u.srv.StartTLS()
		t.Cleanup(u.srv.Close)
		e.up[host] = u
		addrs[host] = u.srv.Listener.Addr().String()
		pool.AddCert(u.srv.Certificate())
	}
	// A port that was just closed: dialling it is refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addrs[exDownHost] = l.Addr().String()
	l.Close()
	if a, ok := addrs[exAPIHost]; ok {
		addrs[exWrongCertHost] = a
	}

	e.client = connections.NewGuardedClient(!o.blockPrivate)
	tr := e.client.Transport.(*connections.Transport)
	tr.TLSClientConfig.RootCAs = pool
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, _, err := net.SplitHostPort(addr); err == nil {
			if a, ok := addrs[host]; ok {
				addr = a
			}
		}
		return dial(ctx, network, addr)
	}
	t.Cleanup(tr.CloseIdleConnections)

	kr, err := connections.NewKeyring(1, bytes.Repeat([]byte{7}, connections.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(t.TempDir(), "flowbot.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e.conns = &connections.Service{Store: db, Keyring: kr, Client: e.client}
	for _, c := range []connections.NewConnection{
		{Name: "shop_api", Type: connections.TypeBearer, AllowedDomain: exAPIHost,
			Credentials: connections.Credentials{Token: exToken}},
		{Name: "key_api", Type: connections.TypeAPIKey, AllowedDomain: "example.com", AllowSubdomains: true,
			Credentials: connections.Credentials{Header: "X-Shop-Key", Value: "k-secret-value"}},
		{Name: "maps_api", Type: connections.TypeAPIKey, AllowedDomain: exAPIHost,
			Credentials: connections.Credentials{Query: "key", Value: exQueryKey}},
		{Name: "partner_api", Type: connections.TypeBearer, AllowedDomain: "partner.example.org",
			Credentials: connections.Credentials{Token: "partner-secret-token"}},
		{Name: "oauth_api", Type: connections.TypeOAuth2CC, AllowedDomain: exAPIHost,
			Credentials: connections.Credentials{TokenURL: "https://" + exAuthHost + "/token", ClientID: "bot", ClientSecret: "oauth-client-secret"}},
	} {
		if _, err := e.conns.Create(context.Background(), "admin", c); err != nil {
			t.Fatalf("create connection %s: %v", c.Name, err)
		}
	}
	e.x = &Executor{Client: e.client, Connections: e.conns}
	return e
}

// exQueryKey is maps_api's key, sent as the query parameter key.
const exQueryKey = "q-secret-value-123"

// run executes s with vals and fails the test if it takes over 10 s.
func (e *exEnv) run(t testing.TB, s *flow.Step, vals map[string]string) *Outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return e.x.Execute(ctx, s, exLookup(vals))
}

func exLookup(vals map[string]string) flow.Lookup {
	return func(name string) (string, bool) { v, ok := vals[name]; return v, ok }
}

// exStep is an api_call step; mods adjust it.
func exStep(method, rawURL string, mods ...func(*flow.Step)) *flow.Step {
	s := &flow.Step{ID: "call", Type: flow.TypeAPICall, APICall: flow.APICall{
		Method: method, URL: rawURL, TimeoutMS: 5000, OnSuccess: "ok", OnFailure: "sorry",
	}}
	for _, m := range mods {
		m(s)
	}
	return s
}

func withVars(pairs ...string) func(*flow.Step) {
	return func(s *flow.Step) {
		for i := 0; i+1 < len(pairs); i += 2 {
			s.Variables = append(s.Variables, flow.ResponseVariable{Name: pairs[i], Path: pairs[i+1]})
		}
	}
}

func withHeader(k, v string) func(*flow.Step) {
	return func(s *flow.Step) { s.Headers = append(s.Headers, flow.Header{Key: k, Value: v}) }
}

func withBody(typ, body, contentType string) func(*flow.Step) {
	return func(s *flow.Step) { s.Body, s.BodyType, s.ContentType = &body, typ, contentType }
}

func withConnection(name string) func(*flow.Step) {
	return func(s *flow.Step) { s.Connection = name }
}

func withRetry(attempts, backoffMS int) func(*flow.Step) {
	return func(s *flow.Step) { s.Retry = &flow.Retry{MaxAttempts: attempts, BackoffMS: backoffMS} }
}

// jsonAnswer answers status with a JSON body and an X-Request-Id header.
func jsonAnswer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", "req-"+strconv.Itoa(status))
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// wantOK fails the test unless o took the success branch.
func wantOK(t testing.TB, o *Outcome) {
	t.Helper()
	if !o.Success || o.ErrorCode != "" {
		t.Fatalf("outcome: success=%v error=%s (%s); want success", o.Success, o.ErrorCode, o.ErrorMessage)
	}
}

// wantFail fails the test unless o took the failure branch with code and
// a message.
func wantFail(t testing.TB, o *Outcome, code string) {
	t.Helper()
	if o.Success || o.ErrorCode != code {
		t.Fatalf("outcome: success=%v error=%q (%s); want failure %q", o.Success, o.ErrorCode, o.ErrorMessage, code)
	}
	if o.ErrorMessage == "" {
		t.Errorf("failure %s has no message", code)
	}
}

// wantNoRequest fails the test if the call got as far as the network.
func wantNoRequest(t testing.TB, o *Outcome, u *upstream) {
	t.Helper()
	if n := u.hits(); n != 0 {
		t.Errorf("upstream received %d requests; want none", n)
	}
	if o.Status != 0 || o.Header != nil || o.Body != nil {
		t.Errorf("outcome has a response (status %d) but no request was to be made", o.Status)
	}
}

func okAPI(t testing.TB) *exEnv {
	return newExEnv(t, exOptions{handlers: map[string]http.HandlerFunc{exAPIHost: jsonAnswer(200, `{"ok":true}`)}})
}

func TestExecuteURLValues(t *testing.T) {
	t.Parallel()
	e := okAPI(t)
	const pathURL = "https://" + exAPIHost + "/orders/{{id}}/items"
	const queryURL = "https://" + exAPIHost + "/search?q={{q}}&page=2"
	tests := []struct {
		name   string
		url    string
		vals   map[string]string
		code   string // failure code; "" for success
		check  func(t *testing.T, r seen)
		noSend bool
	}{
		{name: "OKPathValueSlashStaysOneSegment", url: pathURL, vals: map[string]string{"id": "a/b"},
			check: func(t *testing.T, r seen) {
				if r.EscapedPath != "/orders/a%2Fb/items" || r.RawPath != "/orders/a%2Fb/items" {
					t.Errorf("escaped path %q, raw path %q; want /orders/a%%2Fb/items", r.EscapedPath, r.RawPath)
				}
				if segs := strings.Split(r.EscapedPath, "/"); len(segs) != 4 || segs[2] != "a%2Fb" {
					t.Errorf("segments %q; want [\"\" orders a%%2Fb items]", segs)
				}
			}},
		{name: "OKPathValueEncodedTraversalStaysLiteral", url: pathURL, vals: map[string]string{"id": "%2E%2E%2Fadmin"},
			check: func(t *testing.T, r seen) {
				if r.Path != "/orders/%2E%2E%2Fadmin/items" || r.EscapedPath != "/orders/%252E%252E%252Fadmin/items" {
					t.Errorf("path %q (escaped %q); want the value as one literal segment", r.Path, r.EscapedPath)
				}
			}},
		{name: "OKPathValueSpacesAndUnicode", url: pathURL, vals: map[string]string{"id": "ünï cödé?#&"},
			check: func(t *testing.T, r seen) {
				if r.Path != "/orders/ünï cödé?#&/items" || r.RawQuery != "" {
					t.Errorf("path %q, query %q; want /orders/ünï cödé?#&/items and no query", r.Path, r.RawQuery)
				}
			}},
		{name: "ErrPeriodInPathValueDotDot", url: pathURL, vals: map[string]string{"id": "../admin"}, code: ErrCodePeriodInPath, noSend: true},
		{name: "ErrPeriodInPathValue", url: pathURL, vals: map[string]string{"id": "a.b"}, code: ErrCodePeriodInPath, noSend: true},
		{name: "ErrPeriodInPathValueMidSegment", url: "https://" + exAPIHost + "/orders/{{id}}.json", vals: map[string]string{"id": "x."}, code: ErrCodePeriodInPath, noSend: true},
		{name: "OKLiteralPeriodInPath", url: "https://" + exAPIHost + "/orders/{{id}}.json", vals: map[string]string{"id": "42"},
			check: func(t *testing.T, r seen) {
				if r.Path != "/orders/42.json" {
					t.Errorf("path %q; want /orders/42.json", r.Path)
				}
			}},
		{name: "OKQueryValueStaysOneValue", url: queryURL, vals: map[string]string{"q": "a&admin=true"},
			check: func(t *testing.T, r seen) {
				if got := r.Query["q"]; len(got) != 1 || got[0] != "a&admin=true" {
					t.Errorf("q = %q; want exactly [a&admin=true]", got)
				}
				if _, ok := r.Query["admin"]; ok || len(r.Query) != 2 || r.Query.Get("page") != "2" {
					t.Errorf("query %v; want only q and page", r.Query)
				}
			}},
		{name: "OKPeriodInQueryValue", url: queryURL, vals: map[string]string{"q": "a.b"},
			check: func(t *testing.T, r seen) {
				if r.Query.Get("q") != "a.b" {
					t.Errorf("q = %q; want a.b", r.Query.Get("q"))
				}
			}},
		{name: "OKQueryValueHashPlusEquals", url: queryURL, vals: map[string]string{"q": "1+1=2 #frag?&x"},
			check: func(t *testing.T, r seen) {
				if got := r.Query["q"]; len(got) != 1 || got[0] != "1+1=2 #frag?&x" || len(r.Query) != 2 {
					t.Errorf("query %v; want q=[1+1=2 #frag?&x] and page", r.Query)
				}
			}},
		{name: "OKUnsetVariableIsEmpty", url: queryURL, vals: nil,
			check: func(t *testing.T, r seen) {
				if r.RawQuery != "q=&page=2" {
					t.Errorf("query %q; want q=&page=2", r.RawQuery)
				}
			}},
		{name: "OKValuesNeverReExpanded", url: "https://" + exAPIHost + "/orders/{{id}}?q={{q}}",
			vals: map[string]string{"id": "{{other}}", "q": "{{other}}", "other": "EXPANDED"},
			check: func(t *testing.T, r seen) {
				if r.Path != "/orders/{{other}}" || r.Query.Get("q") != "{{other}}" {
					t.Errorf("path %q, q %q; want {{other}} sent literally", r.Path, r.Query.Get("q"))
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.up[exAPIHost].hits()
			o := e.run(t, exStep("GET", tc.url), tc.vals)
			if tc.code != "" {
				wantFail(t, o, tc.code)
				if tc.noSend {
					if n := e.up[exAPIHost].hits() - before; n != 0 {
						t.Errorf("upstream received %d requests; want none", n)
					}
					if o.Status != 0 || o.URL != "" {
						t.Errorf("status %d, URL %q; want no request", o.Status, o.URL)
					}
				}
				return
			}
			wantOK(t, o)
			if e.up[exAPIHost].hits() != before+1 {
				t.Fatalf("upstream hits %d; want %d", e.up[exAPIHost].hits(), before+1)
			}
			tc.check(t, e.up[exAPIHost].last(t))
		})
	}
}

func TestExecuteBody(t *testing.T) {
	t.Parallel()
	e := okAPI(t)
	url := "https://" + exAPIHost + "/orders"
	hard := "line\nbreak \"quoted\" back\\slash </script> \u2028 é 😀 \x01 \t"
	tests := []struct {
		name        string
		step        *flow.Step
		vals        map[string]string
		code        string
		contentType string
		body        string         // the exact body, when set
		fields      map[string]any // the decoded JSON object, when set
	}{
		{name: "OKJSONValueStaysInsideItsString",
			step:        exStep("POST", url, withBody(flow.BodyJSON, `{"name":"{{name}}","qty":2}`, "")),
			vals:        map[string]string{"name": `","admin":true,"x":"`},
			contentType: "application/json",
			fields:      map[string]any{"name": `","admin":true,"x":"`, "qty": 2.0}},
		{name: "OKJSONHardCharacters",
			step:        exStep("PUT", url, withBody(flow.BodyJSON, `{"note": "say: {{note}}!", "tags": ["{{note}}"]}`, "")),
			vals:        map[string]string{"note": hard},
			contentType: "application/json",
			fields:      map[string]any{"note": "say: " + hard + "!", "tags": []any{hard}}},
		{name: "OKJSONValueNeverReExpanded",
			step:        exStep("PATCH", url, withBody(flow.BodyJSON, `{"a":"{{a}}"}`, "")),
			vals:        map[string]string{"a": "{{other}}", "other": "EXPANDED"},
			contentType: "application/json",
			fields:      map[string]any{"a": "{{other}}"}},
		{name: "OKJSONDesignerContentTypeKept",
			step:        exStep("POST", url, withBody(flow.BodyJSON, `{"a":"{{a}}"}`, ""), withHeader("Content-Type", "application/vnd.api+json")),
			vals:        map[string]string{"a": "1"},
			contentType: "application/vnd.api+json",
			body:        `{"a":"1"}`},
		{name: "OKJSONSentAsTyped",
			step:        exStep("POST", url, withBody(flow.BodyJSON, "{\n  \"a\" : \"{{a}}\",\n  \"n\": 1.50\n}", "")),
			vals:        map[string]string{"a": "x"},
			contentType: "application/json",
			body:        "{\n  \"a\" : \"x\",\n  \"n\": 1.50\n}"},
		{name: "OKTextBodyByteForByte",
			step:        exStep("POST", url, withBody(flow.BodyText, `<order id="{{id}}">{{note}}</order>`, "application/xml; charset=utf-8")),
			vals:        map[string]string{"id": "42", "note": `a & b <c> "d" {{other}} ` + hard},
			contentType: "application/xml; charset=utf-8",
			body:        `<order id="42">a & b <c> "d" {{other}} ` + hard + `</order>`},
		{name: "OKNoBody",
			step: exStep("DELETE", url),
			body: ""},
		// SPEC §3 rule 6: 64 KiB, checked again once the variables are in.
		{name: "OKBodyAtLimitAfterSubstitution",
			step:        exStep("POST", url, withBody(flow.BodyText, "<{{v}}>", "text/plain")),
			vals:        map[string]string{"v": strings.Repeat("x", flow.MaxBodyBytes-2)},
			contentType: "text/plain",
			body:        "<" + strings.Repeat("x", flow.MaxBodyBytes-2) + ">"},
		{name: "ErrBodyOverLimitAfterSubstitution",
			step: exStep("POST", url, withBody(flow.BodyText, "<{{v}}>", "text/plain")),
			vals: map[string]string{"v": strings.Repeat("x", flow.MaxBodyBytes-1)},
			code: ErrCodeBody},
		{name: "ErrJSONBodyOverLimitAfterSubstitution",
			step: exStep("PUT", url, withBody(flow.BodyJSON, `{"v":"{{v}}"}`, "")),
			vals: map[string]string{"v": strings.Repeat("x", flow.MaxBodyBytes-7)},
			code: ErrCodeBody},
		{name: "ErrJSONInvalidAfterSubstitution",
			step: exStep("POST", url, withBody(flow.BodyJSON, `{"n": {{n}}}`, "")),
			vals: map[string]string{"n": "1}"},
			code: ErrCodeBody},
		// Typed values replace their whole string; the rest is as typed.
		{name: "OKTypedValues",
			step: exStep("POST", url, withBody(flow.BodyJSON,
				`{"qty": "{{qty:number}}", "gift": "{{gift:boolean}}", "items": "{{items:json}}", "note": "{{note}}", "none": "{{nothing:number}}", "neg": ["{{neg:number}}"]}`, "")),
			vals:        map[string]string{"qty": " 2 ", "gift": "true", "items": `[{"sku":"A-1","n":2}]`, "note": `"{{qty:number}}"`, "neg": "-1.5e3"},
			contentType: "application/json",
			body:        `{"qty": 2, "gift": true, "items": [{"sku":"A-1","n":2}], "note": "\"{{qty:number}}\"", "none": null, "neg": [-1.5e3]}`},
		{name: "ErrTypedNotANumber",
			step: exStep("POST", url, withBody(flow.BodyJSON, `{"qty": "{{qty:number}}"}`, "")),
			vals: map[string]string{"qty": "two"},
			code: ErrCodeBody},
		{name: "ErrTypedNumberWithTrailingJSON",
			step: exStep("POST", url, withBody(flow.BodyJSON, `{"qty": "{{qty:number}}"}`, "")),
			vals: map[string]string{"qty": `1, "admin": true`},
			code: ErrCodeBody},
		{name: "ErrTypedNotABoolean",
			step: exStep("POST", url, withBody(flow.BodyJSON, `{"gift": "{{gift:boolean}}"}`, "")),
			vals: map[string]string{"gift": "yes"},
			code: ErrCodeBody},
		{name: "ErrTypedNotJSON",
			step: exStep("POST", url, withBody(flow.BodyJSON, `{"items": "{{items:json}}"}`, "")),
			vals: map[string]string{"items": `[1, 2`},
			code: ErrCodeBody},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.up[exAPIHost].hits()
			o := e.run(t, tc.step, tc.vals)
			if tc.code != "" {
				wantFail(t, o, tc.code)
				if n := e.up[exAPIHost].hits() - before; n != 0 {
					t.Errorf("upstream received %d requests; want none", n)
				}
				return
			}
			wantOK(t, o)
			r := e.up[exAPIHost].last(t)
			if r.Method != tc.step.Method {
				t.Errorf("method %s; want %s", r.Method, tc.step.Method)
			}
			if got := r.Header.Get("Content-Type"); got != tc.contentType {
				t.Errorf("Content-Type %q; want %q", got, tc.contentType)
			}
			if !bytes.Equal(o.RequestBody, r.Body) && !(len(o.RequestBody) == 0 && len(r.Body) == 0) {
				t.Errorf("outcome shows body %q; upstream got %q", o.RequestBody, r.Body)
			}
			if tc.fields != nil {
				if len(r.Body) == 0 || r.Body[0] != '{' {
					t.Fatalf("body %q; want a JSON object, not a string wrapping one", r.Body)
				}
				var got map[string]any
				if err := json.Unmarshal(r.Body, &got); err != nil {
					t.Fatalf("body %q is not a JSON object: %v", r.Body, err)
				}
				if !reflect.DeepEqual(got, tc.fields) {
					t.Errorf("body decodes to %#v; want %#v", got, tc.fields)
				}
				return
			}
			if string(r.Body) != tc.body {
				t.Errorf("body %q; want %q", r.Body, tc.body)
			}
			if n := r.Header.Get("Content-Length"); tc.body == "" && n != "" && n != "0" {
				t.Errorf("Content-Length %q for no body", n)
			}
		})
	}
}

func TestExecuteHeaders(t *testing.T) {
	t.Parallel()
	e := okAPI(t)
	url := "https://" + exAPIHost + "/h"
	// "v-" + 254 two-byte characters: 256 characters, 510 bytes.
	at256 := strings.Repeat("é", 254)
	tests := []struct {
		name  string
		value string // of X-Tag's {{tag}}
		want  string // X-Tag as received; "" with code set
		code  string
	}{
		{name: "OK256CharactersAfterSubstitution", value: at256, want: "v-" + at256},
		{name: "ErrHeader257CharactersAfterSubstitution", value: at256 + "x", code: ErrCodeHeaderValue},
		{name: "ErrCRLFInjection", value: "a\r\nX-Injected: yes", code: ErrCodeHeaderValue},
		{name: "ErrLF", value: "a\nb", code: ErrCodeHeaderValue},
		{name: "ErrCR", value: "a\rb", code: ErrCodeHeaderValue},
		{name: "ErrNUL", value: "a\x00b", code: ErrCodeHeaderValue},
		{name: "ErrOtherControlCharacter", value: "a\x01b", code: ErrCodeHeaderValue},
		{name: "ErrDEL", value: "a\x7fb", code: ErrCodeHeaderValue},
		{name: "OKTab", value: "a\tb", want: "v-a\tb"},
		{name: "OKValueNeverReExpanded", value: "{{other}}", want: "v-{{other}}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.up[exAPIHost].hits()
			o := e.run(t, exStep("GET", url, withHeader("X-Tag", "v-{{tag}}")), map[string]string{"tag": tc.value, "other": "EXPANDED"})
			if tc.code != "" {
				wantFail(t, o, tc.code)
				if n := e.up[exAPIHost].hits() - before; n != 0 {
					t.Errorf("upstream received %d requests; want none", n)
				}
				return
			}
			wantOK(t, o)
			r := e.up[exAPIHost].last(t)
			if got := r.Header.Values("X-Tag"); len(got) != 1 || got[0] != tc.want {
				t.Errorf("X-Tag %q; want [%q]", got, tc.want)
			}
			if r.Header.Get("X-Injected") != "" {
				t.Error("a header was injected")
			}
		})
	}

	t.Run("OKDefaults", func(t *testing.T) {
		o := e.run(t, exStep("GET", url, withHeader("Accept", "application/vnd.shop+json"), withHeader("X-Static", "one")), nil)
		wantOK(t, o)
		r := e.up[exAPIHost].last(t)
		for k, want := range map[string]string{"Accept": "application/vnd.shop+json", "User-Agent": "flowbot/" + Version, "X-Static": "one", "Accept-Encoding": "gzip"} {
			if got := r.Header.Get(k); got != want {
				t.Errorf("%s: %q; want %q", k, got, want)
			}
		}
	})
}

func TestExecuteConnection(t *testing.T) {
	t.Parallel()
	tokens := atomic.Int32{}
	e := newExEnv(t, exOptions{handlers: map[string]http.HandlerFunc{
		exAPIHost: func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer oauth-") && r.Header.Get("Authorization") != "Bearer oauth-2" {
				http.Error(w, `{"error":"token revoked"}`, http.StatusUnauthorized)
				return
			}
			jsonAnswer(200, `{"ok":true}`)(w, r)
		},
		exAuthHost: func(w http.ResponseWriter, r *http.Request) {
			n := tokens.Add(1)
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"access_token":"oauth-%d","token_type":"Bearer","expires_in":3600}`, n)
		},
	}})
	api := e.up[exAPIHost]
	url := "https://" + exAPIHost + "/orders/{{id}}"

	t.Run("OKBearerTokenLongerThanHeaderLimit", func(t *testing.T) {
		s := exStep("GET", url, withConnection("shop_api"))
		o := e.run(t, s, map[string]string{"id": "1"})
		wantOK(t, o)
		if got := api.last(t).Header.Get("Authorization"); got != "Bearer "+exToken {
			t.Errorf("upstream Authorization %q (%d chars); want the 300-character token intact", got, len(got))
		}
		if got := o.RequestHeader.Get("Authorization"); got != connections.Redacted {
			t.Errorf("outcome Authorization %q; want %q", got, connections.Redacted)
		}
		tc := e.x.Test(context.Background(), s, map[string]string{"id": "1"})
		if got := tc.Request.Headers["Authorization"]; got != connections.Redacted {
			t.Errorf("test call Authorization %q; want %q", got, connections.Redacted)
		}
		res := e.x.Call(context.Background(), s, exLookup(map[string]string{"id": "1"}))
		if got := res.Log.Headers["Authorization"]; got != connections.Redacted {
			t.Errorf("log Authorization %q; want %q", got, connections.Redacted)
		}
		for what, v := range map[string]any{"test call": tc, "log": res.Log} {
			b, _ := json.Marshal(v)
			if bytes.Contains(b, []byte(exToken)) || bytes.Contains(b, []byte("tok3n-tok3n")) {
				t.Errorf("the %s shows the token: %s", what, b)
			}
		}
	})

	t.Run("OKAPIKeyOnSubdomain", func(t *testing.T) {
		o := e.run(t, exStep("GET", url, withConnection("key_api")), map[string]string{"id": "1"})
		wantOK(t, o)
		if got := api.last(t).Header.Get("X-Shop-Key"); got != "k-secret-value" {
			t.Errorf("upstream X-Shop-Key %q; want the key", got)
		}
		if got := o.RequestHeader.Get("X-Shop-Key"); got != connections.Redacted {
			t.Errorf("outcome X-Shop-Key %q; want %q", got, connections.Redacted)
		}
	})

	t.Run("ErrCredentialNotAllowedForHost", func(t *testing.T) {
		before := api.hits()
		o := e.run(t, exStep("GET", url, withConnection("partner_api")), map[string]string{"id": "1"})
		wantFail(t, o, ErrCodeCredentialRefused)
		if n := api.hits() - before; n != 0 {
			t.Errorf("upstream received %d requests; want none", n)
		}
		if o.RequestHeader.Get("Authorization") != "" || strings.Contains(fmt.Sprintf("%+v", *o), "partner-secret-token") {
			t.Errorf("the refused credential shows in the outcome: %v", o.RequestHeader)
		}
		if !strings.Contains(o.ErrorMessage, "partner.example.org") || !strings.Contains(o.ErrorMessage, exAPIHost) {
			t.Errorf("message %q; want it to name the allowed domain and the host", o.ErrorMessage)
		}
	})

	t.Run("ErrUnknownConnection", func(t *testing.T) {
		before := api.hits()
		o := e.run(t, exStep("GET", url, withConnection("gone_api")), map[string]string{"id": "1"})
		wantFail(t, o, ErrCodeConnection)
		if n := api.hits() - before; n != 0 {
			t.Errorf("upstream received %d requests; want none", n)
		}
	})

	t.Run("ErrNoConnectionService", func(t *testing.T) {
		x := &Executor{Client: e.client}
		o := x.Execute(context.Background(), exStep("GET", url, withConnection("shop_api")), exLookup(map[string]string{"id": "1"}))
		wantFail(t, o, ErrCodeConnection)
	})

	t.Run("OKOAuthTokenRefreshedOnceAfter401", func(t *testing.T) {
		before := api.hits()
		o := e.run(t, exStep("GET", url, withConnection("oauth_api")), map[string]string{"id": "1"})
		wantOK(t, o)
		if n := tokens.Load(); n != 2 {
			t.Errorf("token endpoint hit %d times; want 2 (first token revoked)", n)
		}
		if n := api.hits() - before; n != 2 {
			t.Errorf("upstream received %d requests; want 2", n)
		}
		if got := api.last(t).Header.Get("Authorization"); got != "Bearer oauth-2" {
			t.Errorf("Authorization %q; want the refreshed token", got)
		}
		if got := o.RequestHeader.Get("Authorization"); got != connections.Redacted {
			t.Errorf("outcome Authorization %q; want %q", got, connections.Redacted)
		}
	})
}

func TestExecuteResponseVariables(t *testing.T) {
	t.Parallel()
	const order = `{"order":{"status":"shipped","count":42,"total":1.5,"neg":-0.5,"paid":false,` +
		`"big":12345678901234567890,"lines":[{"name":"Mug","qty":2},{"name":"Tea"}],` +
		`"meta":{"z":1,"a":[1,2],"m":{"y":"<b>","b":null}},"gift":null,"empty":""}}`
	e := newExEnv(t, exOptions{handlers: map[string]http.HandlerFunc{
		exAPIHost: func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/order":
				jsonAnswer(200, order)(w, r)
			case "/missing":
				jsonAnswer(404, `{"error":"no such order"}`)(w, r)
			case "/empty":
				w.Header().Set("X-Request-Id", "req-empty")
			case "/nocontent":
				w.WriteHeader(http.StatusNoContent)
			case "/html":
				w.Header().Set("Content-Type", "text/html")
				io.WriteString(w, `<html><body>{"order":{"status":"shipped"}}</body></html>`)
			case "/text":
				w.Header().Set("Content-Type", "text/plain")
				io.WriteString(w, `"just a string"`)
			}
		},
	}})
	base := "https://" + exAPIHost

	scalar := []struct {
		name, path string
		want       string
		set        bool
	}{
		{"OKString", "$.order.status", "shipped", true},
		{"OKInteger", "$.order.count", "42", true},
		{"OKFloat", "$.order.total", "1.5", true},
		{"OKNegativeFloat", "$.order.neg", "-0.5", true},
		{"OKBool", "$.order.paid", "false", true},
		{"OKBigInteger", "$.order.big", "12345678901234567890", true},
		{"OKEmptyString", "$.order.empty", "", true},
		{"OKArrayAsCompactJSON", "$.order.lines", `[{"name":"Mug","qty":2},{"name":"Tea"}]`, true},
		{"OKObjectAsCompactJSONKeysSorted", "$.order.meta", `{"a":[1,2],"m":{"b":null,"y":"\u003cb\u003e"},"z":1}`, true},
		{"OKArrayElementField", "$.order.lines[1].name", "Tea", true},
		{"OKWildcardFirstMatch", "$.order.lines[*].name", "Mug", true},
		{"OKUnmatchedPathUnset", "$.order.nope", "", false},
		{"OKUnmatchedIndexUnset", "$.order.lines[5].name", "", false},
		{"OKNullUnset", "$.order.gift", "", false},
		{"OKStatus", "$status", "200", true},
		{"OKHeader", "$headers.x-request-id", "req-200", true},
		{"OKHeaderAnyCase", "$headers.X-REQUEST-ID", "req-200", true},
		{"OKMissingHeaderUnset", "$headers.x-nope", "", false},
	}
	for _, tc := range scalar {
		t.Run(tc.name, func(t *testing.T) {
			o := e.run(t, exStep("GET", base+"/order", withVars("v", tc.path)), nil)
			wantOK(t, o)
			got, ok := o.Saved["v"]
			if ok != tc.set || got != tc.want {
				t.Errorf("v = %q (set %v); want %q (set %v)", got, ok, tc.want, tc.set)
			}
		})
	}
	t.Run("OKObjectTextStable", func(t *testing.T) {
		first := ""
		for i := range 20 {
			o := e.run(t, exStep("GET", base+"/order", withVars("v", "$.order.meta")), nil)
			if i == 0 {
				first = o.Saved["v"]
			} else if o.Saved["v"] != first {
				t.Fatalf("call %d saved %q; call 0 saved %q", i, o.Saved["v"], first)
			}
		}
	})

	vars := withVars("code", "$status", "req", "$headers.x-request-id", "err", "$.error", "status", "$.order.status")
	tests := []struct {
		name    string
		path    string
		success bool
		code    string
		saved   map[string]string
	}{
		// An error answer's JSON fills what it has, for the failure branch.
		{name: "ErrStatus404SavesWhatItsJSONHas", path: "/missing", code: ErrCodeHTTPStatus,
			saved: map[string]string{"code": "404", "req": "req-404", "err": "no such order"}},
		{name: "OKEmptyBodySavesNoBodyVariables", path: "/empty", success: true,
			saved: map[string]string{"code": "200", "req": "req-empty"}},
		{name: "OKNoContent", path: "/nocontent", success: true,
			saved: map[string]string{"code": "204"}},
		{name: "OKHTMLBodySavesNothing", path: "/html", success: true,
			saved: map[string]string{"code": "200"}},
	}
	// $body saves the whole body as text, JSON or not; an empty body
	// leaves it unset.
	for path, want := range map[string]string{"/text": `"just a string"`, "/html": `<html><body>{"order":{"status":"shipped"}}</body></html>`, "/missing": `{"error":"no such order"}`, "/empty": ""} {
		o := e.run(t, exStep("GET", base+path, withVars("raw", "$body")), nil)
		if got, ok := o.Saved["raw"]; got != want || ok != (want != "") {
			t.Errorf("$body of %s = %q (set %v); want %q", path, got, ok, want)
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := e.run(t, exStep("GET", base+tc.path, vars), nil)
			if tc.success {
				wantOK(t, o)
			} else {
				wantFail(t, o, tc.code)
			}
			if !reflect.DeepEqual(o.Saved, tc.saved) {
				t.Errorf("saved %v; want %v", o.Saved, tc.saved)
			}
		})
	}
	t.Run("OKNoVariablesConfigured", func(t *testing.T) {
		o := e.run(t, exStep("GET", base+"/empty"), nil)
		wantOK(t, o)
		if len(o.Saved) != 0 {
			t.Errorf("saved %v; want nothing", o.Saved)
		}
	})
}

func TestExecuteFailures(t *testing.T) {
	t.Parallel()
	e := newExEnv(t, exOptions{handlers: map[string]http.HandlerFunc{
		exAPIHost: func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.URL.Path == "/404":
				jsonAnswer(404, `{"error":"not found"}`)(w, r)
			case r.URL.Path == "/500":
				jsonAnswer(500, `{"error":"boom"}`)(w, r)
			case r.URL.Path == "/slow":
				select {
				case <-r.Context().Done():
				case <-time.After(10 * time.Second):
				}
			case r.URL.Path == "/away":
				http.Redirect(w, r, "https://"+exOtherHost+"/steal", http.StatusFound)
			case r.URL.Path == "/plain":
				http.Redirect(w, r, "http://"+exAPIHost+"/r/0", http.StatusFound)
			case strings.HasPrefix(r.URL.Path, "/r/"):
				n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/r/"))
				if n > 0 {
					http.Redirect(w, r, "/r/"+strconv.Itoa(n-1), http.StatusFound)
					return
				}
				jsonAnswer(200, `{"done":true}`)(w, r)
			}
		},
		exOtherHost: jsonAnswer(200, `{"stolen":true}`),
	}})
	api, other := e.up[exAPIHost], e.up[exOtherHost]
	base := "https://" + exAPIHost

	t.Run("ErrStatus404", func(t *testing.T) {
		o := e.run(t, exStep("GET", base+"/404"), nil)
		wantFail(t, o, ErrCodeHTTPStatus)
		if o.Status != 404 || !strings.Contains(o.ErrorMessage, "404") || string(o.Body) != `{"error":"not found"}` {
			t.Errorf("status %d, message %q, body %q", o.Status, o.ErrorMessage, o.Body)
		}
	})
	t.Run("ErrStatus500", func(t *testing.T) {
		before := api.hits()
		o := e.run(t, exStep("GET", base+"/500"), nil)
		wantFail(t, o, ErrCodeHTTPStatus)
		if o.Status != 500 || o.Attempts != 1 || api.hits()-before != 1 {
			t.Errorf("status %d, attempts %d, hits %d; want 500, 1, 1", o.Status, o.Attempts, api.hits()-before)
		}
	})
	t.Run("ErrTimeout", func(t *testing.T) {
		t0 := time.Now()
		o := e.run(t, exStep("GET", base+"/slow", func(s *flow.Step) { s.TimeoutMS = 1000 }), nil)
		d := time.Since(t0)
		wantFail(t, o, ErrCodeTimeout)
		if d < 900*time.Millisecond || d > 3*time.Second {
			t.Errorf("returned after %v; want about 1 s", d)
		}
		if o.Attempts != 1 {
			t.Errorf("attempts %d; want 1", o.Attempts)
		}
	})
	t.Run("ErrTimeoutFromCaller", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		o := e.x.Execute(ctx, exStep("GET", base+"/slow"), nil)
		wantFail(t, o, ErrCodeTimeout)
	})
	t.Run("ErrNetwork", func(t *testing.T) {
		o := e.run(t, exStep("GET", "https://"+exDownHost+"/x"), nil)
		wantFail(t, o, ErrCodeNetwork)
		if o.Status != 0 || o.ErrorMessage != "the API refused the connection" {
			t.Errorf("status %d, message %q; want none and a refused connection", o.Status, o.ErrorMessage)
		}
	})
	t.Run("ErrHostNotFound", func(t *testing.T) {
		// .invalid never resolves (RFC 2606); a missing host is not retried.
		o := e.run(t, exStep("GET", "https://nohost.invalid/x", withRetry(3, 10)), nil)
		wantFail(t, o, ErrCodeNetwork)
		switch o.ErrorMessage {
		case "the host nohost.invalid was not found (DNS)":
			if o.Attempts != 1 {
				t.Errorf("attempts %d; want 1", o.Attempts)
			}
		case "the host nohost.invalid could not be looked up (DNS)": // no resolver reachable
		default:
			t.Errorf("message %q; want it to name the host and DNS", o.ErrorMessage)
		}
	})
	t.Run("ErrNetworkRetriedForGET", func(t *testing.T) {
		o := e.run(t, exStep("GET", "https://"+exDownHost+"/x", withRetry(3, 10)), nil)
		wantFail(t, o, ErrCodeNetwork)
		if o.Attempts != 3 {
			t.Errorf("attempts %d; want 3", o.Attempts)
		}
	})
	t.Run("ErrNetworkNotRetriedForPOST", func(t *testing.T) {
		o := e.run(t, exStep("POST", "https://"+exDownHost+"/x", withRetry(3, 10)), nil)
		wantFail(t, o, ErrCodeNetwork)
		if o.Attempts != 1 {
			t.Errorf("attempts %d; want 1", o.Attempts)
		}
	})
	t.Run("ErrTLSCertificateNotForHost", func(t *testing.T) {
		before := api.hits()
		o := e.run(t, exStep("GET", "https://"+exWrongCertHost+"/x"), nil)
		wantFail(t, o, ErrCodeTLS)
		if n := api.hits() - before; n != 0 {
			t.Errorf("upstream received %d requests; want none", n)
		}
	})
	t.Run("ErrRedirectToOtherHost", func(t *testing.T) {
		o := e.run(t, exStep("GET", base+"/away", withConnection("shop_api")), nil)
		wantFail(t, o, ErrCodeRedirect)
		if n := other.hits(); n != 0 {
			t.Errorf("the other host received %d requests; want none", n)
		}
	})
	t.Run("ErrRedirectToHTTP", func(t *testing.T) {
		o := e.run(t, exStep("GET", base+"/plain"), nil)
		wantFail(t, o, ErrCodeRedirect)
	})
	t.Run("OKThreeSameHostRedirects", func(t *testing.T) {
		before := api.hits()
		o := e.run(t, exStep("GET", base+"/r/3", withConnection("shop_api"), withVars("done", "$.done")), nil)
		wantOK(t, o)
		if n := api.hits() - before; n != 4 {
			t.Errorf("upstream received %d requests; want 4", n)
		}
		r := api.last(t)
		if r.Path != "/r/0" || r.Header.Get("Authorization") != "Bearer "+exToken {
			t.Errorf("last request %s with Authorization %q; want /r/0 with the credential", r.Path, r.Header.Get("Authorization"))
		}
		if o.Saved["done"] != "true" {
			t.Errorf("saved %v", o.Saved)
		}
	})
	t.Run("ErrFourthRedirect", func(t *testing.T) {
		before := api.hits()
		o := e.run(t, exStep("GET", base+"/r/4"), nil)
		wantFail(t, o, ErrCodeRedirect)
		if n := api.hits() - before; n != 4 {
			t.Errorf("upstream received %d requests; want 4 (the first and three redirects)", n)
		}
		if api.last(t).Path != "/r/1" {
			t.Errorf("last request %s; want /r/1", api.last(t).Path)
		}
	})
	t.Run("ErrNotHTTPS", func(t *testing.T) {
		o := e.run(t, exStep("GET", "http://"+exAPIHost+"/x"), nil)
		wantFail(t, o, ErrCodeInvalidStep)
	})
}

func TestExecuteBlockedAddress(t *testing.T) {
	t.Parallel()
	e := newExEnv(t, exOptions{blockPrivate: true, handlers: map[string]http.HandlerFunc{exAPIHost: jsonAnswer(200, `{}`)}})
	api := e.up[exAPIHost]
	_, port, _ := net.SplitHostPort(api.srv.Listener.Addr().String())
	for _, tc := range []struct{ name, url, message string }{
		{"ErrLoopbackIP", "https://127.0.0.1:" + port + "/x", "the address 127.0.0.1 is not reachable from flowbot (loopback)"},
		// The designer learns the kind of address a name resolves to,
		// never the address.
		{"ErrHostResolvingToLoopback", "https://" + exAPIHost + "/x", "the host " + exAPIHost + " is not reachable from flowbot: it resolves to a loopback address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := e.run(t, exStep("GET", tc.url), nil)
			wantFail(t, o, ErrCodeBlocked)
			wantNoRequest(t, o, api)
			if o.ErrorMessage != tc.message {
				t.Errorf("message %q; want %q", o.ErrorMessage, tc.message)
			}
		})
	}
}

func TestExecuteRetry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		method   string
		retry    bool
		statuses []int // answered in turn; then 200
		success  bool
		attempts int
	}{
		{name: "OKGETRetriedOn5xx", method: "GET", retry: true, statuses: []int{500, 500}, success: true, attempts: 3},
		{name: "OKPUTRetriedOn503", method: "PUT", retry: true, statuses: []int{503}, success: true, attempts: 2},
		{name: "ErrGETRetriesExhausted", method: "GET", retry: true, statuses: []int{500, 502, 503}, attempts: 3},
		{name: "ErrPOSTNeverRetried", method: "POST", retry: true, statuses: []int{500}, attempts: 1},
		{name: "ErrPATCHNeverRetried", method: "PATCH", retry: true, statuses: []int{500}, attempts: 1},
		{name: "Err404NotRetried", method: "GET", retry: true, statuses: []int{404}, attempts: 1},
		{name: "OKGETRetriedOn429", method: "GET", retry: true, statuses: []int{429}, success: true, attempts: 2},
		{name: "ErrNoRetryByDefault", method: "GET", statuses: []int{500}, attempts: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var n atomic.Int32
			e := newExEnv(t, exOptions{handlers: map[string]http.HandlerFunc{exAPIHost: func(w http.ResponseWriter, r *http.Request) {
				i := int(n.Add(1)) - 1
				status := 200
				if i < len(tc.statuses) {
					status = tc.statuses[i]
				}
				jsonAnswer(status, `{"attempt":`+strconv.Itoa(i+1)+`}`)(w, r)
			}}})
			mods := []func(*flow.Step){withVars("attempt", "$.attempt")}
			if tc.retry {
				mods = append(mods, withRetry(3, 10))
			}
			if tc.method != "GET" {
				mods = append(mods, withBody(flow.BodyJSON, `{"a":"b"}`, ""))
			}
			o := e.run(t, exStep(tc.method, "https://"+exAPIHost+"/x", mods...), nil)
			if tc.success {
				wantOK(t, o)
				if o.Saved["attempt"] != strconv.Itoa(tc.attempts) {
					t.Errorf("saved from attempt %q; want %d", o.Saved["attempt"], tc.attempts)
				}
			} else {
				wantFail(t, o, ErrCodeHTTPStatus)
			}
			if o.Attempts != tc.attempts || e.up[exAPIHost].hits() != tc.attempts {
				t.Errorf("attempts %d, upstream hits %d; want %d", o.Attempts, e.up[exAPIHost].hits(), tc.attempts)
			}
			if tc.method != "GET" && string(e.up[exAPIHost].last(t).Body) != `{"a":"b"}` {
				t.Errorf("body %q", e.up[exAPIHost].last(t).Body)
			}
		})
	}
}

// TestExecuteRetryAfter: a 429 (or 503) with Retry-After is tried again
// no sooner than it says, and not at all when that is past the call's
// timeout.
func TestExecuteRetryAfter(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	e := newExEnv(t, exOptions{handlers: map[string]http.HandlerFunc{exAPIHost: func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 1 {
			w.Header().Set("Retry-After", strings.TrimPrefix(r.URL.Path, "/"))
			jsonAnswer(429, `{"error":"slow down"}`)(w, r)
			return
		}
		jsonAnswer(200, `{"ok":"yes"}`)(w, r)
	}}})
	t.Run("OKWaitsOneSecond", func(t *testing.T) {
		t0 := time.Now()
		o := e.run(t, exStep("GET", "https://"+exAPIHost+"/1", withRetry(3, 10)), nil)
		if wantOK(t, o); o.Attempts != 2 || time.Since(t0) < time.Second {
			t.Errorf("attempts %d after %v; want 2 after at least 1 s", o.Attempts, time.Since(t0))
		}
	})
	t.Run("ErrWaitPastTheTimeout", func(t *testing.T) {
		t0 := time.Now()
		o := e.run(t, exStep("GET", "https://"+exAPIHost+"/20", withRetry(3, 10), func(s *flow.Step) { s.TimeoutMS = 2000 }), nil)
		if wantFail(t, o, ErrCodeHTTPStatus); o.Attempts != 1 || o.Status != 429 || time.Since(t0) > time.Second {
			t.Errorf("attempts %d, status %d after %v; want one 429 at once", o.Attempts, o.Status, time.Since(t0))
		}
	})
	now := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"": 0, "0": 0, "-1": 0, "2": 2 * time.Second, "86400": 24 * time.Hour, "86401": 0, "soon": 0,
		"Tue, 24 Nov 2026 00:00:05 GMT": 5 * time.Second, "Mon, 23 Nov 2026 23:59:00 GMT": 0,
	} {
		if got := parseRetryAfter(v, now); got != want {
			t.Errorf("Retry-After %q: %v; want %v", v, got, want)
		}
	}
}

// TestExecuteTimeoutBoundsWholeCall: timeout_ms bounds every attempt and
// wait of a retried call together (SPEC §3 rule 11), and
// retry.attempt_timeout_ms bounds each attempt within it.
func TestExecuteTimeoutBoundsWholeCall(t *testing.T) {
	t.Parallel()
	// /slow/N answers 503 after N ms; /first-slow sleeps 1.5 s on its
	// first request and answers 200 at once after that.
	var firstDone atomic.Bool
	e := newExEnv(t, exOptions{handlers: map[string]http.HandlerFunc{exAPIHost: func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/first-slow" {
			if firstDone.CompareAndSwap(false, true) {
				select {
				case <-time.After(1500 * time.Millisecond):
				case <-r.Context().Done():
					return
				}
			}
			jsonAnswer(200, `{"ok":"yes"}`)(w, r)
			return
		}
		ms, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/slow/"))
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
			jsonAnswer(503, `{}`)(w, r)
		case <-r.Context().Done():
		}
	}}})
	base := "https://" + exAPIHost
	timed := func(s *flow.Step) (*Outcome, time.Duration) {
		t0 := time.Now()
		o := e.run(t, s, nil)
		return o, time.Since(t0)
	}
	t.Run("ErrRetriesStopAtTheCallTimeout", func(t *testing.T) {
		// Three 400 ms attempts do not fit in 1000 ms: the third is cut.
		o, d := timed(exStep("GET", base+"/slow/400", withRetry(5, 0), func(s *flow.Step) { s.TimeoutMS = 1000 }))
		wantFail(t, o, ErrCodeTimeout)
		if d < 900*time.Millisecond || d > 1500*time.Millisecond {
			t.Errorf("returned after %v; want about 1 s (the whole call), not 5 × 1 s", d)
		}
		if o.Attempts != 3 {
			t.Errorf("attempts %d; want 3 (400 + 400 ms, then cut at 1000 ms)", o.Attempts)
		}
		if o.ErrorMessage != "the API did not answer within the step's timeout" {
			t.Errorf("message %q", o.ErrorMessage)
		}
	})
	t.Run("ErrNoWaitPastTheCallTimeout", func(t *testing.T) {
		// A 503 at once, then a backoff of at least 1.5 s that would end
		// past the 1 s budget: no wait, no second attempt.
		o, d := timed(exStep("GET", base+"/slow/0", withRetry(3, 2000), func(s *flow.Step) { s.TimeoutMS = 1000 }))
		wantFail(t, o, ErrCodeHTTPStatus)
		if o.Attempts != 1 || d > 500*time.Millisecond {
			t.Errorf("attempts %d after %v; want 1, at once", o.Attempts, d)
		}
	})
	t.Run("OKAttemptTimeoutLeavesTimeForARetry", func(t *testing.T) {
		o, d := timed(exStep("GET", base+"/first-slow", withVars("ok", "$.ok"), func(s *flow.Step) {
			s.TimeoutMS = 3000
			s.Retry = &flow.Retry{MaxAttempts: 2, AttemptTimeoutMS: 1000}
		}))
		wantOK(t, o)
		if o.Attempts != 2 || o.Saved["ok"] != "yes" {
			t.Errorf("attempts %d, saved %v; want 2 and ok=yes", o.Attempts, o.Saved)
		}
		if d < 900*time.Millisecond || d > 2500*time.Millisecond {
			t.Errorf("returned after %v; want about 1 s (one cut attempt, one quick one)", d)
		}
	})
	t.Run("ErrAttemptTimeoutNamed", func(t *testing.T) {
		// 1000 ms attempts in a 2500 ms call: cut at 1 s, 2 s, then at
		// 2.5 s by the call's own timeout.
		o, d := timed(exStep("GET", base+"/slow/5000", func(s *flow.Step) {
			s.TimeoutMS = 2500
			s.Retry = &flow.Retry{MaxAttempts: 5, AttemptTimeoutMS: 1000}
		}))
		wantFail(t, o, ErrCodeTimeout)
		if o.Attempts != 3 || d < 2400*time.Millisecond || d > 3500*time.Millisecond {
			t.Errorf("attempts %d after %v; want 3 after about 2.5 s", o.Attempts, d)
		}
		if o.ErrorMessage != "the API did not answer within the step's timeout" {
			t.Errorf("message %q; the last attempt was cut by the call's timeout", o.ErrorMessage)
		}
	})
	t.Run("ErrDefaultTimeoutIsTenSeconds", func(t *testing.T) {
		// timeout_ms 0 means the default, 10000 (SPEC §3 rule 11): an API
		// that takes 12 s is cut at 10 s.
		t.Parallel()
		if flow.DefaultTimeoutMS != 10000 {
			t.Fatalf("DefaultTimeoutMS %d; SPEC says 10000", flow.DefaultTimeoutMS)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		t0 := time.Now()
		o := e.x.Execute(ctx, exStep("GET", base+"/slow/12000", func(s *flow.Step) { s.TimeoutMS = 0 }), exLookup(nil))
		d := time.Since(t0)
		wantFail(t, o, ErrCodeTimeout)
		if d < 9900*time.Millisecond || d > 11*time.Second {
			t.Errorf("returned after %v; want 10 s", d)
		}
	})
	t.Run("ErrOneSlowAttemptNamesTheAttemptTimeout", func(t *testing.T) {
		o, _ := timed(exStep("GET", base+"/slow/5000", func(s *flow.Step) {
			s.TimeoutMS = 5000
			s.Retry = &flow.Retry{MaxAttempts: 1, AttemptTimeoutMS: 1000}
		}))
		wantFail(t, o, ErrCodeTimeout)
		if o.ErrorMessage != "the API did not answer within the attempt timeout (1000 ms)" {
			t.Errorf("message %q", o.ErrorMessage)
		}
	})
}

// zeros is a buffer of zero bytes the streaming handlers write from.
var zeros = make([]byte, 32<<10)

// stream is a handler that would send 1 GiB: raw, or gzip-compressed on
// the fly. It stops at the first failed write and counts what it made.
type stream struct {
	gzip          bool
	contentLength bool
	produced      atomic.Int64 // uncompressed bytes handed to the writer
	done          chan struct{}
}

const oneGiB = 1 << 30

func (s *stream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer close(s.done)
	w.Header().Set("Content-Type", "application/json")
	var out io.Writer = w
	if s.gzip {
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		defer zw.Close()
		out = zw
	} else if s.contentLength {
		w.Header().Set("Content-Length", strconv.Itoa(oneGiB))
	}
	for s.produced.Load() < oneGiB && r.Context().Err() == nil {
		n, err := out.Write(zeros)
		s.produced.Add(int64(n))
		if err != nil {
			return
		}
	}
}

// allocDuring reports the bytes allocated while f ran and how much the
// live heap grew.
func allocDuring(f func()) (total uint64, growth int64) {
	runtime.GC()
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc, int64(b.HeapAlloc) - int64(a.HeapAlloc)
}

// TestExecuteResponseTooLarge is not parallel: it measures the process's
// allocations.
func TestExecuteResponseTooLarge(t *testing.T) {
	const memLimit = 16 << 20
	for _, proto := range []string{"HTTP1", "HTTP2"} {
		for _, tc := range []struct {
			name string
			s    *stream
		}{
			{"ErrStreamOf1GiB", &stream{}},
			{"ErrContentLength1GiB", &stream{contentLength: true}},
			{"ErrGzipBomb", &stream{gzip: true}},
		} {
			t.Run(proto+"/"+tc.name, func(t *testing.T) {
				tc.s.done = make(chan struct{})
				e := newExEnv(t, exOptions{http2: proto == "HTTP2", handlers: map[string]http.HandlerFunc{exAPIHost: tc.s.ServeHTTP}})
				var o *Outcome
				t0 := time.Now()
				total, growth := allocDuring(func() {
					o = e.run(t, exStep("GET", "https://"+exAPIHost+"/big", withVars("x", "$.x")), nil)
				})
				d := time.Since(t0)
				wantFail(t, o, ErrCodeTooLarge)
				// An upstream that offers HTTP/2 is still spoken to in
				// HTTP/1.1 (connections.Transport).
				if r := e.up[exAPIHost].last(t); r.Proto != "HTTP/1.1" {
					t.Errorf("protocol %s; want HTTP/1.1", r.Proto)
				}
				wantRead := int64(flow.MaxResponseBytes + 1)
				if tc.s.contentLength {
					wantRead = 0 // refused on its declared length, unread
				}
				if o.Bytes != wantRead {
					t.Errorf("read %d bytes; want %d", o.Bytes, wantRead)
				}
				if len(o.Saved) != 0 || o.Body != nil {
					t.Errorf("saved %v, body of %d bytes; want neither", o.Saved, len(o.Body))
				}
				t.Logf("%v, allocated %d KiB, heap grew %d KiB, read %d bytes", d, total>>10, growth>>10, o.Bytes)
				// The count includes the server in this process; over
				// HTTP/1.1 it stays near 3 MiB.
				if total > memLimit || growth > memLimit {
					t.Errorf("allocated %d bytes (heap grew %d) for one call; want under %d", total, growth, memLimit)
				}
				if d > 5*time.Second {
					t.Errorf("took %v; want the body cut off at 1 MiB", d)
				}
				select {
				case <-tc.s.done:
				case <-time.After(10 * time.Second):
					t.Fatal("the handler was still sending 10 s after the call")
				}
				p := tc.s.produced.Load()
				t.Logf("the handler produced %d MiB", p>>20)
				if p >= oneGiB {
					t.Errorf("the handler produced all %d bytes; want it stopped early", p)
				}
			})
		}
	}
}

func TestExecuteResponseLimits(t *testing.T) {
	t.Parallel()
	max := flow.MaxResponseBytes
	body := func(n int) []byte { // a JSON string of n bytes in all
		b := bytes.Repeat([]byte("a"), n)
		b[0], b[n-1] = '"', '"'
		return b
	}
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
		return buf.Bytes()
	}
	e := newExEnv(t, exOptions{handlers: map[string]http.HandlerFunc{exAPIHost: func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		b := body(n)
		if r.URL.Query().Get("gzip") != "" {
			if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
				http.Error(w, "no gzip", 400)
				return
			}
			w.Header().Set("Content-Encoding", "gzip")
			b = gz(b)
		}
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("chunked") == "" {
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		}
		w.Write(b)
	}}})
	for _, tc := range []struct {
		name  string
		query string
		code  string
	}{
		{"OKExactly1MiB", "n=" + strconv.Itoa(max), ""},
		{"OKExactly1MiBChunked", "chunked=1&n=" + strconv.Itoa(max), ""},
		{"OKExactly1MiBGzip", "gzip=1&n=" + strconv.Itoa(max), ""},
		{"Err1MiBPlusOne", "n=" + strconv.Itoa(max+1), ErrCodeTooLarge},
		{"Err1MiBPlusOneChunked", "chunked=1&n=" + strconv.Itoa(max+1), ErrCodeTooLarge},
		{"Err1MiBPlusOneGzip", "gzip=1&n=" + strconv.Itoa(max+1), ErrCodeTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := e.run(t, exStep("GET", "https://"+exAPIHost+"/x?"+tc.query, withVars("v", "$")), nil)
			if tc.code != "" {
				wantFail(t, o, tc.code)
				return
			}
			wantOK(t, o)
			if len(o.Body) != max || len(o.Saved["v"]) != max-2 {
				t.Errorf("body %d bytes, saved %d; want %d and %d", len(o.Body), len(o.Saved["v"]), max, max-2)
			}
		})
	}
	t.Run("OKGzipDecodedEvenWhenDesignerAsksForIt", func(t *testing.T) {
		o := e.run(t, exStep("GET", "https://"+exAPIHost+"/x?gzip=1&n=10", withHeader("Accept-Encoding", "gzip"), withVars("v", "$")), nil)
		wantOK(t, o)
		if o.Saved["v"] != "aaaaaaaa" {
			t.Errorf("saved %q; want the decompressed string", o.Saved["v"])
		}
	})
}

// TestExecuteResponseDepth: an answer whose JSON nests more than 64
// levels is not parsed: a 2xx takes the failure branch as
// response_too_deep, still saving $status; a 4xx/5xx stays http_status
// with no body variables. Brackets inside strings do not count.
func TestExecuteResponseDepth(t *testing.T) {
	t.Parallel()
	nested := func(levels int) string { // levels-1 arrays around {"a":1}
		return strings.Repeat("[", levels-1) + `{"a":1}` + strings.Repeat("]", levels-1)
	}
	e := newExEnv(t, exOptions{handlers: map[string]http.HandlerFunc{exAPIHost: func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("levels"))
		status, _ := strconv.Atoi(r.URL.Query().Get("status"))
		body := `{"a":1,"s":"` + strings.Repeat("[{", 100) + `\"[["}`
		if n > 0 {
			body = nested(n)
		}
		jsonAnswer(status, body)(w, r)
	}}})
	vars := withVars("a", "$..a", "code", "$status")
	for _, tc := range []struct {
		name, query, code, a string
	}{
		{"OK64Levels", "status=200&levels=64", "", "1"},
		{"OKBracketsInAString", "status=200", "", "1"},
		{"Err65Levels", "status=200&levels=65", ErrCodeTooDeep, ""},
		{"ErrStatusOf65Levels", "status=502&levels=65", ErrCodeHTTPStatus, ""},
		{"ErrStatusOf64Levels", "status=502&levels=64", ErrCodeHTTPStatus, "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := e.run(t, exStep("GET", "https://"+exAPIHost+"/x?"+tc.query, vars), nil)
			if tc.code == "" {
				wantOK(t, o)
			} else {
				wantFail(t, o, tc.code)
			}
			if o.Saved["a"] != tc.a || o.Saved["code"] == "" {
				t.Errorf("saved %v; want a=%q and the status", o.Saved, tc.a)
			}
			if tc.code == ErrCodeTooDeep && o.ErrorMessage != "the answer's JSON is nested more than 64 levels deep; it was not read" {
				t.Errorf("message %q", o.ErrorMessage)
			}
		})
	}
	// A step that reads nothing of the answer is not failed by its depth,
	// and a body that is not an array or object is not JSON to measure.
	t.Run("OK65LevelsReadByNoOne", func(t *testing.T) {
		wantOK(t, e.run(t, exStep("GET", "https://"+exAPIHost+"/x?status=200&levels=65"), nil))
	})
	t.Run("OKTextOfBrackets", func(t *testing.T) {
		text := newExEnv(t, exOptions{handlers: map[string]http.HandlerFunc{exAPIHost: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprint(w, "a"+strings.Repeat("[", 200))
		}}})
		o := text.run(t, exStep("GET", "https://"+exAPIHost+"/x", withVars("code", "$status", "all", "$body")), nil)
		if wantOK(t, o); o.Saved["all"] != "a"+strings.Repeat("[", 200) {
			t.Errorf("saved %v", o.Saved)
		}
	})
}

// A path of a flow stored before the accepted subset was narrowed
// ($..*..[?(@.z == 1)] took seconds on a 24 KB answer) fails the call
// before it is made.
func TestExecuteRefusedPathNotEvaluated(t *testing.T) {
	t.Parallel()
	body := strings.Repeat(`{"b":`, 60) + "1" + strings.Repeat("}", 60)
	e := newExEnv(t, exOptions{handlers: map[string]http.HandlerFunc{exAPIHost: jsonAnswer(200, body)}})
	o := e.run(t, exStep("GET", "https://"+exAPIHost+"/x", withVars("v", "$..*..[?(@.z == 1)]")), nil)
	wantFail(t, o, ErrCodeInvalidStep)
	if !strings.Contains(o.ErrorMessage, "recursive descent (..) may be used once") || e.up[exAPIHost].hits() != 0 {
		t.Errorf("message %q, %d calls made; want the path refused and no call", o.ErrorMessage, e.up[exAPIHost].hits())
	}
}

func TestExecutorTestCall(t *testing.T) {
	t.Parallel()
	const order = `{"order":{"status":"shipped","items":[{"name":"Mug","qty":2},{"name":"Tea","qty":1}],"total":1.5,"gift":null},"a b":{"c":true},"it's":"x"}`
	big := `{"items":[` + strings.Repeat(`{"name":"item"},`, 8000) + `{"name":"last"}]}`
	e := newExEnv(t, exOptions{handlers: map[string]http.HandlerFunc{exAPIHost: func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/orders/42":
			jsonAnswer(201, order)(w, r)
		case "/big":
			jsonAnswer(200, big)(w, r)
		default:
			jsonAnswer(404, `{"error":"nope"}`)(w, r)
		}
	}}})
	body := `{"note":"{{note}}"}`
	step := exStep("POST", "https://"+exAPIHost+"/orders/{{id}}?src={{src}}", withConnection("shop_api"),
		withHeader("X-Tag", "t-{{id}}"), withBody(flow.BodyJSON, body, ""),
		withVars("status", "$.order.status", "first", "$.order.items[0].name", "code", "$status", "none", "$.nope"))

	t.Run("OK", func(t *testing.T) {
		tc := e.x.Test(context.Background(), step, map[string]string{"id": "42", "src": "a b", "note": `hi "there"`})
		wantReq := TestRequest{
			Method: "POST",
			URL:    "https://" + exAPIHost + "/orders/42?src=a+b",
			Headers: map[string]string{
				"Authorization": connections.Redacted, "X-Tag": "t-42", "Content-Type": "application/json",
				"Accept": "application/json", "User-Agent": "flowbot/" + Version,
			},
			Body: strp(`{"note":"hi \"there\""}`),
		}
		if !reflect.DeepEqual(tc.Request, wantReq) {
			t.Errorf("request\n %+v (body %q)\nwant\n %+v (body %q)", tc.Request, deref(tc.Request.Body), wantReq, *wantReq.Body)
		}
		if tc.Response == nil {
			t.Fatal("no response")
		}
		if tc.Response.Status != 201 || tc.Response.Body != order || tc.Response.Truncated ||
			tc.Response.Headers["X-Request-Id"] != "req-201" || tc.Response.Headers["Content-Type"] != "application/json" {
			t.Errorf("response %+v", tc.Response)
		}
		if tc.Branch != "success" || tc.Error != nil || tc.DurationMS <= 0 {
			t.Errorf("branch %q, error %+v, duration %v", tc.Branch, tc.Error, tc.DurationMS)
		}
		if want := map[string]string{"status": "shipped", "first": "Mug", "code": "201"}; !reflect.DeepEqual(tc.Variables, want) {
			t.Errorf("variables %v; want %v", tc.Variables, want)
		}
		ps := func(path, sample, typ, filter string) PathSample {
			return PathSample{Path: path, Sample: sample, Type: typ, FilterPath: filter}
		}
		wantPaths := []PathSample{
			ps(`$['a b']`, `{"c":true}`, "object", ""),
			ps(`$['a b'].c`, "true", "boolean", ""),
			ps(`$['it\'s']`, "x", "string", ""),
			ps(`$.order`, `{"gift":null,"items":[{"name":"Mug","qty":2},{"name":"Tea","qty":1}],"status":"shipped","total":1.5}`, "object", ""),
			ps(`$.order.gift`, "null", "null", ""),
			ps(`$.order.items`, `[{"name":"Mug","qty":2},{"name":"Tea","qty":1}]`, "array", ""),
			ps(`$.order.items[0]`, `{"name":"Mug","qty":2}`, "object", `$.order.items[?(@.name == 'Mug')]`),
			ps(`$.order.items[0].name`, "Mug", "string", `$.order.items[?(@.name == 'Mug')].name`),
			ps(`$.order.items[0].qty`, "2", "number", `$.order.items[?(@.name == 'Mug')].qty`),
			ps(`$.order.items[1]`, `{"name":"Tea","qty":1}`, "object", `$.order.items[?(@.name == 'Tea')]`),
			ps(`$.order.items[1].name`, "Tea", "string", `$.order.items[?(@.name == 'Tea')].name`),
			ps(`$.order.items[1].qty`, "1", "number", `$.order.items[?(@.name == 'Tea')].qty`),
			ps(`$.order.status`, "shipped", "string", ""),
			ps(`$.order.total`, "1.5", "number", ""),
		}
		if !reflect.DeepEqual(tc.Paths, wantPaths) {
			t.Errorf("paths\n %v\nwant\n %v", tc.Paths, wantPaths)
		}
		// Every path listed, and every filter path, can be picked as a
		// variable and gives its sample.
		for _, p := range tc.Paths {
			for _, path := range []string{p.Path, p.FilterPath} {
				if path == "" {
					continue
				}
				s := exStep("POST", step.URL, withBody(flow.BodyJSON, body, ""), withVars("v", path))
				o := e.run(t, s, map[string]string{"id": "42"})
				if got, ok := o.Saved["v"]; p.Type != "null" && (!ok || got != p.Sample) {
					t.Errorf("variable of %s = %q (set %v); want %q", path, got, ok, p.Sample)
				}
			}
		}
		b, _ := json.Marshal(tc)
		if bytes.Contains(b, []byte(exToken)) {
			t.Error("the test call shows the token")
		}
	})

	t.Run("OKTruncatedBody", func(t *testing.T) {
		tc := e.x.Test(context.Background(), exStep("GET", "https://"+exAPIHost+"/big", withVars("last", "$.items[8000].name")), nil)
		if tc.Response == nil || !tc.Response.Truncated || len(tc.Response.Body) != maxShownBody {
			t.Fatalf("response %d bytes, truncated %v; want %d bytes, truncated", len(tc.Response.Body), tc.Response.Truncated, maxShownBody)
		}
		if tc.Variables["last"] != "last" {
			t.Errorf("variables %v; want the whole body mapped", tc.Variables)
		}
		if len(tc.Paths) == 0 || tc.Paths[0].Path != "$.items" || tc.Paths[len(tc.Paths)-1].Path != "$.items[2].name" {
			t.Errorf("paths %v; want $.items and its first elements", tc.Paths)
		}
	})

	t.Run("ErrStatusShown", func(t *testing.T) {
		tc := e.x.Test(context.Background(), exStep("GET", "https://"+exAPIHost+"/gone"), nil)
		if tc.Branch != "failure" || tc.Error == nil || tc.Error.Code != ErrCodeHTTPStatus || tc.Error.Message == "" {
			t.Errorf("branch %q, error %+v", tc.Branch, tc.Error)
		}
		if tc.Response == nil || tc.Response.Status != 404 || tc.Response.Body != `{"error":"nope"}` {
			t.Errorf("response %+v", tc.Response)
		}
		// An error answer's JSON is listed too, so a designer can save
		// its message for the failure branch's reply.
		if want := []PathSample{{Path: "$.error", Sample: "nope", Type: "string"}}; !reflect.DeepEqual(tc.Paths, want) {
			t.Errorf("paths %v; want %v", tc.Paths, want)
		}
	})

	t.Run("ErrRefusedBeforeSending", func(t *testing.T) {
		before := e.up[exAPIHost].hits()
		tc := e.x.Test(context.Background(), step, map[string]string{"id": "4.2"})
		if tc.Branch != "failure" || tc.Error == nil || tc.Error.Code != ErrCodePeriodInPath || tc.Response != nil {
			t.Errorf("branch %q, error %+v, response %+v", tc.Branch, tc.Error, tc.Response)
		}
		if e.up[exAPIHost].hits() != before {
			t.Error("a request was made")
		}
		if tc.Variables == nil || tc.Paths == nil {
			t.Error("variables and paths must be empty, not null, in JSON")
		}
	})
}

// TestExecutorTestCallPathsCost: listing the paths of a large nested
// answer costs about what reading it does, not its size once per level
// (a 200 KB answer nested 60 deep allocated 77 MiB: each level's sample
// wrote its whole subtree and turned it into runes). Paths stop at 32
// levels. Not parallel: it measures the process's allocations.
func TestExecutorTestCallPathsCost(t *testing.T) {
	const levels, size = 60, 200 << 10
	inner := "[" + strings.Repeat(`"abcdefgh",`, size/11) + `"last"]`
	nested := strings.Repeat(`{"k":[`, levels/2-1) + inner + strings.Repeat("]}", levels/2-1)
	e := newExEnv(t, exOptions{handlers: map[string]http.HandlerFunc{exAPIHost: jsonAnswer(200, nested)}})
	s := exStep("GET", "https://"+exAPIHost+"/x")
	e.x.Test(context.Background(), s, nil) // open the connection
	var tc *TestCall
	total, _ := allocDuring(func() { tc = e.x.Test(context.Background(), s, nil) })
	t.Logf("%d-byte answer: %d paths, %d KiB allocated", len(nested), len(tc.Paths), total>>10)
	if tc.Branch != "success" || len(tc.Paths) == 0 {
		t.Fatalf("branch %s, %d paths", tc.Branch, len(tc.Paths))
	}
	if total > 12<<20 {
		t.Errorf("allocated %d KiB for the test call of a %d KiB answer; want under 12 MiB", total>>10, len(nested)>>10)
	}
	last := tc.Paths[len(tc.Paths)-1]
	if depth := strings.Count(last.Path, "."); depth > maxPathDepth/2 || len(tc.Paths) != maxPathDepth {
		t.Errorf("%d paths, the last %s; want paths down to level %d", len(tc.Paths), last.Path, maxPathDepth)
	}
	for _, p := range tc.Paths {
		if n := utf8.RuneCountInString(p.Sample); n > maxSampleLen+1 || !strings.HasSuffix(p.Sample, "…") {
			t.Fatalf("sample of %s is %d characters: %q", p.Path, n, p.Sample)
		}
	}
}

// TestSampleIsStartOfText: a sample is the start of what a variable
// saves (textOf), cut at 120 characters with "…", whatever the value.
func TestSampleIsStartOfText(t *testing.T) {
	long := strings.Repeat(`é<&>\"x`, 100)
	values := []string{
		`"short"`, `""`, `1.5`, `1e300`, `-0.000001`, `12345678901234`, `true`, `null`,
		`{}`, `[]`, `{"b":1,"a":[1,2.5,"x"],"c":{"z":null,"y":false}}`,
		`"` + long + `"`, `["` + long + `"]`, `{"` + long + `":1}`,
		`[` + strings.Repeat(`{"é":"<tag>","n":1.25e-7},`, 30) + `0]`,
		`"` + strings.Repeat("𝄞", 200) + `"`, `["` + strings.Repeat(`\u0001`, 50) + `"]`,
		strings.Repeat("[", 60) + strings.Repeat("]", 60),
	}
	w := sampler{keys: map[uintptr][]string{}}
	for _, doc := range values {
		v, err := oj.ParseString(doc)
		if err != nil {
			t.Fatalf("%.40s: %v", doc, err)
		}
		want := textOf(v)
		if r := []rune(want); len(r) > maxSampleLen {
			want = string(r[:maxSampleLen]) + "…"
		}
		if got := w.sample(v); got != want {
			t.Errorf("sample of %.40s:\n got %q\nwant %q", doc, got, want)
		}
	}
}

func TestExecutorCall(t *testing.T) {
	t.Parallel()
	e := newExEnv(t, exOptions{handlers: map[string]http.HandlerFunc{exAPIHost: func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			jsonAnswer(404, `{"error":{"message":"no such order"}}`)(w, r)
			return
		}
		jsonAnswer(200, `{"order":{"status":"shipped"}}`)(w, r)
	}}})
	vars := withVars("status", "$.order.status", "code", "$status", "none", "$.none", "why", "$.error.message")
	var caller flow.APICaller = e.x

	ok := caller.Call(context.Background(), exStep("GET", "https://"+exAPIHost+"/orders/{{id}}", withConnection("shop_api"), withHeader("X-Tag", "a"), vars),
		exLookup(map[string]string{"id": "7"}))
	want := flow.APICallLog{
		Method: "GET", URL: "https://" + exAPIHost + "/orders/7",
		Headers: map[string]string{"Authorization": connections.Redacted, "X-Tag": "a", "Accept": "application/json", "User-Agent": "flowbot/" + Version},
		Status:  200, Bytes: int64(len(`{"order":{"status":"shipped"}}`)), Attempts: 1,
		Saved: []string{"code", "status"}, Branch: "success",
		ResponseBody: `{"order":{"status":"shipped"}}`,
	}
	got := ok.Log
	if got.DurationMS <= 0 {
		t.Errorf("duration %v", got.DurationMS)
	}
	got.DurationMS = 0
	if !ok.Success || !reflect.DeepEqual(got, want) {
		t.Errorf("success %v, log\n %+v\nwant\n %+v", ok.Success, got, want)
	}
	if wantSaved := map[string]string{"status": "shipped", "code": "200"}; !reflect.DeepEqual(ok.Saved, wantSaved) {
		t.Errorf("saved %v; want %v", ok.Saved, wantSaved)
	}

	bad := caller.Call(context.Background(), exStep("GET", "https://"+exAPIHost+"/missing", vars), nil)
	if bad.Success || bad.Log.Branch != "failure" || bad.Log.Error != ErrCodeHTTPStatus || bad.Log.ErrorMsg == "" || bad.Log.Status != 404 {
		t.Errorf("failure result %+v", bad)
	}
	// The error answer's JSON fills the variables it has, for the
	// failure branch; the others stay unset.
	if !reflect.DeepEqual(bad.Saved, map[string]string{"code": "404", "why": "no such order"}) {
		t.Errorf("saved on 404: %v; want code and why", bad.Saved)
	}

	refused := caller.Call(context.Background(), exStep("GET", "https://"+exAPIHost+"/orders/{{id}}"), exLookup(map[string]string{"id": "a.b"}))
	if refused.Success || refused.Log.Branch != "failure" || refused.Log.Error != ErrCodePeriodInPath || refused.Log.Status != 0 {
		t.Errorf("refused result %+v", refused)
	}
}

// TestExecuteConcurrent runs calls in parallel through one executor, so
// the race detector sees its caches and the connection service shared.
func TestExecuteConcurrent(t *testing.T) {
	t.Parallel()
	e := newExEnv(t, exOptions{handlers: map[string]http.HandlerFunc{exAPIHost: func(w http.ResponseWriter, r *http.Request) {
		jsonAnswer(200, `{"id":"`+strings.TrimPrefix(r.URL.Path, "/orders/")+`"}`)(w, r)
	}}})
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 6 {
				id := strconv.Itoa(g*100 + i)
				url := "https://" + exAPIHost + "/orders/{{id}}"
				if i%2 == 1 {
					url += "?v=" + strconv.Itoa(i) // a few distinct prepared steps
				}
				o := e.x.Execute(context.Background(), exStep("GET", url, withConnection("shop_api"), withVars("id", "$.id")), exLookup(map[string]string{"id": id}))
				if !o.Success || o.Saved["id"] != id {
					errs <- fmt.Sprintf("id %s: success %v, saved %v, error %s", id, o.Success, o.Saved, o.ErrorMessage)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
}

func parseJSONForTest(doc string) (any, error) { return oj.Parse([]byte(doc)) }

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// TestFirstOfMatchesJP checks the walk of plain paths against jp's own
// search, which it stands in for.
func TestFirstOfMatchesJP(t *testing.T) {
	docs := []string{
		`{"order":{"status":"shipped","items":[{"name":"Mug"},{"name":"Tea","tags":["a","b"]}],"gift":null,"n":0,"a b":{"it's":1}}}`,
		`[{"name":"first"},[1,2,[3]],"s",null]`,
		`"just a string"`,
		`{"0":"zero","items":{"0":"key not index"}}`,
	}
	paths := []string{
		"$", "$.order", "$.order.status", "$.order.items", "$.order.items[0].name", "$.order.items[1].tags[1]",
		"$.order.items[-1].name", "$.order.items[-3].name", "$.order.items[2].name", "$.order.items[0].tags[0]",
		"$.order.gift", "$.order.gift.x", "$.order.n", "$.order.status.x", "$.order.status[0]", "$['order']['a b']['it\\'s']",
		"$.nope", "$[0].name", "$[1][2][0]", "$[1][5]", "$[3]", "$[3].x", "$.0", "$['0']", "$.items.0", "$.items[0]",
		"$.order.items[*].name", "$..name", "$.order.items[0,1].name", "$.order.items[1:].name",
		"$[0,-1]", "$.order.items[-1,0].name", "$.order.items[::-1].name", "$.order.items[-1:].name", "$[3,0]", "$[-1:]",
		"$[*]", "$[1][::2]", "$.order.items[0:5:2].name", // ($..[2] differs on purpose: RFC 9535 order, see TestFilterSelects)
	}
	for _, doc := range docs {
		data, err := parseJSONForTest(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range paths {
			rp, err := ParseResponsePath(p)
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			got, _ := firstOf(rp.Expr, data)
			want := rp.Expr.First(data)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s in %s: %#v; jp says %#v", p, doc, got, want)
			}
		}
	}
}

// TestExecuteResponseHeadersTooLarge: headers over
// connections.MaxResponseHeaderBytes take the failure branch as
// response_too_large, with the limit in the message.
func TestExecuteResponseHeadersTooLarge(t *testing.T) {
	t.Parallel()
	e := newExEnv(t, exOptions{handlers: map[string]http.HandlerFunc{exAPIHost: func(w http.ResponseWriter, r *http.Request) {
		n := 15 << 10
		if r.URL.Path == "/big" {
			n = 17 << 10
		}
		w.Header().Set("X-Pad", strings.Repeat("p", n))
		jsonAnswer(200, `{"ok":"yes"}`)(w, r)
	}}})
	o := e.run(t, exStep("GET", "https://"+exAPIHost+"/big", withVars("ok", "$.ok")), nil)
	wantFail(t, o, ErrCodeTooLarge)
	if !strings.Contains(o.ErrorMessage, "response headers are over 16 KiB") {
		t.Errorf("message %q", o.ErrorMessage)
	}
	wantOK(t, e.run(t, exStep("GET", "https://"+exAPIHost+"/fits", withVars("ok", "$.ok")), nil))
}

// An API that sends the credential back (an echo endpoint, an error page
// quoting the request) does not hand it to the outcome: the body, the
// headers and the variables saved from them show Redacted instead. The
// rest of the answer is untouched.
func TestExecuteEchoedCredentialRedacted(t *testing.T) {
	t.Parallel()
	echo := func(w http.ResponseWriter, r *http.Request) {
		auth, key := r.Header.Get("Authorization"), r.Header.Get("X-Shop-Key")
		tok, _ := strings.CutPrefix(auth, "Bearer ")
		w.Header().Set("X-Echo", auth+key)
		w.Header().Set("Content-Type", "application/json")
		b, _ := json.Marshal(map[string]string{"auth": auth, "token": tok, "key": key, "note": "order 42 shipped"})
		if r.URL.Path == "/fail" {
			w.WriteHeader(500)
		}
		w.Write(b)
	}
	e := newExEnv(t, exOptions{handlers: map[string]http.HandlerFunc{exAPIHost: echo}})
	vars := withVars("auth", "$.auth", "token", "$.token", "key", "$.key", "note", "$.note", "hdr", "$headers.x-echo")
	for _, tc := range []struct{ name, conn, path, secret string }{
		{"Bearer", "shop_api", "/echo", exToken},
		{"APIKey", "key_api", "/echo", "k-secret-value"},
		{"BearerOnFailure", "shop_api", "/fail", exToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := e.run(t, exStep("GET", "https://"+exAPIHost+tc.path, withConnection(tc.conn), vars), nil)
			if tc.path == "/fail" {
				wantFail(t, o, ErrCodeHTTPStatus)
			} else {
				wantOK(t, o)
				if o.Saved["note"] != "order 42 shipped" {
					t.Errorf("note %q: the rest of the answer changed", o.Saved["note"])
				}
			}
			b, _ := json.Marshal(o)
			all := string(b) + string(o.Body) + fmt.Sprint(o.Header, o.Saved)
			if strings.Contains(all, tc.secret) || strings.Contains(all, "tok3n-tok3n") {
				t.Fatalf("the outcome shows the credential: body %s, headers %v, saved %v", o.Body, o.Header, o.Saved)
			}
			if !strings.Contains(string(o.Body), connections.Redacted) {
				t.Fatalf("body %s; want the credential replaced by %s", o.Body, connections.Redacted)
			}
			tc2 := e.x.Test(context.Background(), exStep("GET", "https://"+exAPIHost+tc.path, withConnection(tc.conn), vars), nil)
			if b, _ := json.Marshal(tc2); strings.Contains(string(b), tc.secret) {
				t.Fatalf("the test call shows the credential: %s", b)
			}
		})
	}
}

// An API that echoes the credential escaped (System.Text.Json writes "+"
// as \u002B; an HTML error page writes &#43;) does not hand it to the
// saved variables, the test call's variables, path samples and body, or
// the execution log: each shows Redacted where the echo was.
func TestExecuteEscapedEchoRedacted(t *testing.T) {
	t.Parallel()
	const secret = "sk+live/0123456789&abcdef"
	e := newExEnv(t, exOptions{handlers: map[string]http.HandlerFunc{
		exAPIHost: func(w http.ResponseWriter, r *http.Request) {
			key := r.Header.Get("X-Token")
			switch r.URL.Path {
			case "/dotnet":
				esc := strings.NewReplacer("+", `\u002B`, "&", `\u0026`).Replace(key)
				jsonAnswer(200, `{"received":{"token":"`+esc+`"},"keys":{"`+esc+`":1},"list":["`+esc+`"]}`)(w, r)
			case "/all":
				var b strings.Builder
				for _, c := range key {
					fmt.Fprintf(&b, `\u%04x`, c)
				}
				jsonAnswer(200, `{"received":{"token":"`+b.String()+`"}}`)(w, r)
			case "/page":
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(401)
				fmt.Fprintf(w, "<p>Unknown key %s</p>", strings.NewReplacer("+", "&#43;", "/", "&#x2F;", "&", "&amp;").Replace(key))
			}
		},
	}})
	if _, err := e.conns.Create(context.Background(), "admin", connections.NewConnection{
		Name: "net_api", Type: connections.TypeAPIKey, AllowedDomain: exAPIHost,
		Credentials: connections.Credentials{Header: "X-Token", Value: secret}}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/dotnet", "/all", "/page"} {
		t.Run(path[1:], func(t *testing.T) {
			s := exStep("GET", "https://"+exAPIHost+path, withConnection("net_api"),
				withVars("got", "$.received.token", "keys", "$.keys", "list", "$.list[0]", "body", "$body"))
			tc := e.x.Test(context.Background(), s, nil)
			res := e.x.Call(context.Background(), s, exLookup(nil))
			if tc.Response == nil || !strings.Contains(tc.Response.Body, connections.Redacted) {
				t.Fatalf("test call response %+v; want the echo redacted", tc.Response)
			}
			if path == "/dotnet" && (tc.Variables["got"] != connections.Redacted || tc.Variables["list"] != connections.Redacted ||
				tc.Variables["keys"] != `{"`+connections.Redacted+`":1}`) {
				t.Errorf("variables %v", tc.Variables)
			}
			all, _ := json.Marshal([]any{tc, res})
			for _, form := range []string{"0123456789", `\u0030\u0031\u0032`} { // in clear, or as /all escapes it
				if strings.Contains(string(all), form) {
					t.Fatalf("the test call or the log holds %q: %s", form, all)
				}
			}
		})
	}
}

// TestRedactAnswer: the parsed answer's strings and keys are redacted
// wherever they are, whatever reached them; other values are kept.
func TestRedactAnswer(t *testing.T) {
	secrets := []string{"sk+live/0123456789"}
	data, err := oj.ParseString(`{"a":{"b":["x","sk+live/0123456789"],"sk+live/0123456789":"k"},"c":"id sk+live/0123456789 end","n":1}`)
	if err != nil {
		t.Fatal(err)
	}
	redacted, _ := redactAnswer(data, secrets)
	got := textOf(redacted)
	if want := `{"*****":"k","b":["x","*****"]}`; !strings.Contains(got, want) || !strings.Contains(got, `"c":"id ***** end","n":1`) {
		t.Errorf("got %s", got)
	}
	if got, changed := redactAnswer("sk+live/0123456789", secrets); got != connections.Redacted || !changed {
		t.Errorf("a string answer came out as %v (changed %v)", got, changed)
	}
}

// An API's reason phrase is free text that may quote what it was sent
// ("401 Unknown key <key>"): the error shows the code with its standard
// phrase instead, in the test call and in the execution log.
func TestExecuteStatusReasonNotShown(t *testing.T) {
	t.Parallel()
	e := newExEnv(t, exOptions{handlers: map[string]http.HandlerFunc{
		exAPIHost: func(w http.ResponseWriter, r *http.Request) {
			c, buf, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			code := "401"
			if r.URL.Path == "/odd" {
				code = "599" // no standard phrase
			}
			fmt.Fprintf(buf, "HTTP/1.1 %s Unknown key %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", code, r.Header.Get("X-Shop-Key"))
			buf.Flush()
		},
	}})
	for _, tc := range []struct{ path, want string }{
		{"/key", "the API answered 401 Unauthorized"},
		{"/odd", "the API answered 599"},
	} {
		s := exStep("GET", "https://"+exAPIHost+tc.path, withConnection("key_api"))
		tcall := e.x.Test(context.Background(), s, nil)
		res := e.x.Call(context.Background(), s, exLookup(nil))
		if tcall.Error == nil || tcall.Error.Message != tc.want || res.Log.ErrorMsg != tc.want {
			t.Errorf("%s: test call error %+v, log error %q; want %q", tc.path, tcall.Error, res.Log.ErrorMsg, tc.want)
		}
	}
}

// TestClipBody: the execution log keeps 2,048 bytes of a body, cut before
// a character, as valid UTF-8.
func TestClipBody(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want string
		cut  bool
	}{
		{"OKEmpty", "", "", false},
		{"OKAtTheLimit", strings.Repeat("a", 2048), strings.Repeat("a", 2048), false},
		{"CutOneOver", strings.Repeat("a", 2049), strings.Repeat("a", 2048), true},
		{"CutBeforeACharacter", strings.Repeat("a", 2047) + "é", strings.Repeat("a", 2047), true},
		{"OKInvalidUTF8Replaced", "a\xffb", "a\uFFFDb", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, cut := clipBody([]byte(tc.in))
			if got != tc.want || cut != tc.cut {
				t.Errorf("got %d bytes, cut %v; want %d, %v", len(got), cut, len(tc.want), tc.cut)
			}
		})
	}
}

// TestExecuteQueryKeyConnection: an api_key connection sent as a query
// parameter reaches the API in the URL, while the test call, the
// execution log and the echoed answer show key=***** and never the key;
// a URL that already has the parameter is refused before sending.
func TestExecuteQueryKeyConnection(t *testing.T) {
	t.Parallel()
	e := newExEnv(t, exOptions{handlers: map[string]http.HandlerFunc{exAPIHost: func(w http.ResponseWriter, r *http.Request) {
		b, _ := json.Marshal(map[string]string{"you_sent": r.URL.Query().Get("key"), "q": r.URL.Query().Get("q"), "url": r.URL.String()})
		jsonAnswer(200, string(b))(w, r)
	}}})
	step := exStep("GET", "https://"+exAPIHost+"/geo?q={{q}}", withConnection("maps_api"), withVars("q_back", "$.q", "echo", "$.you_sent"))
	tc := e.x.Test(context.Background(), step, map[string]string{"q": "a b"})
	if tc.Branch != "success" || tc.Request.URL != "https://"+exAPIHost+"/geo?q=a+b&key=*****" {
		t.Fatalf("test call: branch %s, request URL %q", tc.Branch, tc.Request.URL)
	}
	if got := e.up[exAPIHost].last(t).RawQuery; got != "q=a+b&key="+exQueryKey {
		t.Errorf("the API got query %q", got)
	}
	res := e.x.Call(context.Background(), step, exLookup(map[string]string{"q": "a b"}))
	all, _ := json.Marshal([]any{tc, res.Log})
	if strings.Contains(string(all), exQueryKey) {
		t.Fatalf("the key is in the test call or the log: %s", all)
	}
	if res.Log.URL != tc.Request.URL || !strings.Contains(res.Log.ResponseBody, `"you_sent":"*****"`) || res.Saved["q_back"] != "a b" {
		t.Errorf("log URL %q, response body %q, saved %v", res.Log.URL, res.Log.ResponseBody, res.Saved)
	}

	n := e.up[exAPIHost].hits()
	typed := exStep("GET", "https://"+exAPIHost+"/geo?key={{k}}", withConnection("maps_api"))
	o := e.run(t, typed, map[string]string{"k": "typed"})
	if wantFail(t, o, ErrCodeCredentialRefused); !strings.Contains(o.ErrorMessage, `query parameter "key"`) || e.up[exAPIHost].hits() != n {
		t.Errorf("message %q, hits %d; want a refusal before sending", o.ErrorMessage, e.up[exAPIHost].hits()-n)
	}
}
