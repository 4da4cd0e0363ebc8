package connections_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowbot/flowbot/connections"
	"github.com/flowbot/flowbot/flow"
)

// recorder is a handler that records the requests it gets.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, r.Clone(context.Background()))
	rec.mu.Unlock()
	io.WriteString(w, `{"ok":true}`)
}

func (rec *recorder) last(t *testing.T) *http.Request {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.reqs) == 0 {
		t.Fatal("the server got no request")
	}
	return rec.reqs[len(rec.reqs)-1]
}

func (rec *recorder) count() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.reqs)
}

// send authorizes a GET of rawURL with the named connection and sends it.
func send(t *testing.T, s *connections.Service, client *http.Client, rawURL, conn string) error {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Authorize(req.Context(), req, conn); err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nil
}

func TestAuthorizeTypes(t *testing.T) {
	api := &recorder{}
	client := tlsHosts(t, map[string]http.Handler{"api.example.com": api})
	s, _, _ := newTestService(t)
	jwt := "eyJhbGciOiJIUzI1NiJ9." + strings.Repeat("x", 300) + ".sig"
	tests := []struct {
		name   string
		typ    string
		creds  connections.Credentials
		header string
		want   string
	}{
		{"APIKey", connections.TypeAPIKey, connections.Credentials{Header: "x-shop-key", Value: "k-" + strings.Repeat("v", 400)}, "X-Shop-Key", "k-" + strings.Repeat("v", 400)},
		{"Bearer300", connections.TypeBearer, connections.Credentials{Token: jwt}, "Authorization", "Bearer " + jwt},
		{"Basic", connections.TypeBasic, connections.Credentials{Username: "bob", Password: "p:ä ss"}, "Authorization",
			"Basic " + base64.StdEncoding.EncodeToString([]byte("bob:p:ä ss"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := strings.ToLower(tc.name)
			mustCreate(t, s, connections.NewConnection{Name: name, Type: tc.typ, AllowedDomain: "api.example.com", Credentials: tc.creds})
			if err := send(t, s, client, "https://api.example.com/orders/1", name); err != nil {
				t.Fatal(err)
			}
			if got := api.last(t).Header.Get(tc.header); got != tc.want {
				t.Fatalf("%s = %q (%d bytes), want %d bytes", tc.header, got, len(got), len(tc.want))
			}
		})
	}
}

// TestAuthorizeQueryKey: an api_key sent as a query parameter is added to
// the URL's query, value query-encoded and the rest of the query exactly
// as it was; a URL that already has the parameter is refused, unsent.
func TestAuthorizeQueryKey(t *testing.T) {
	api := &recorder{}
	client := tlsHosts(t, map[string]http.Handler{"api.example.com": api})
	s, _, _ := newTestService(t)
	mustCreate(t, s, connections.NewConnection{Name: "maps", Type: connections.TypeAPIKey, AllowedDomain: "api.example.com",
		Credentials: connections.Credentials{Query: "key", Value: "s3cret&x=1 +/"}})
	for _, tc := range []struct{ url, want string }{
		{"https://api.example.com/geo", "key=s3cret%26x%3D1+%2B%2F"},
		{"https://api.example.com/geo?", "key=s3cret%26x%3D1+%2B%2F"},
		{"https://api.example.com/geo?q=a%20b&flag", "q=a%20b&flag&key=s3cret%26x%3D1+%2B%2F"},
		{"https://api.example.com/geo?q=1&", "q=1&key=s3cret%26x%3D1+%2B%2F"},
	} {
		if err := send(t, s, client, tc.url, "maps"); err != nil {
			t.Fatal(err)
		}
		got := api.last(t)
		if got.URL.RawQuery != tc.want || got.URL.Query().Get("key") != "s3cret&x=1 +/" || got.Header.Get("Authorization") != "" {
			t.Errorf("%s: sent query %q; want %q", tc.url, got.URL.RawQuery, tc.want)
		}
	}
	n := api.count()
	for _, u := range []string{"https://api.example.com/geo?key=typed", "https://api.example.com/geo?a=1&k%65y=typed",
		"https://api.example.com/geo?Key=typed", "https://api.example.com/geo?a=1;key=typed"} {
		var conflict *connections.QueryKeyConflictError
		if err := send(t, s, client, u, "maps"); !errors.As(err, &conflict) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: %v; want a QueryKeyConflictError without the key", u, err)
		}
	}
	if api.count() != n {
		t.Error("a refused request was sent")
	}
	for _, tc := range []struct{ in, want string }{
		{"https://a.example/x", "https://a.example/x?key=*****"},
		{"https://a.example/x?", "https://a.example/x?key=*****"},
		{"https://a.example/x?q=1", "https://a.example/x?q=1&key=*****"},
		{"https://a.example/x?q=1&", "https://a.example/x?q=1&key=*****"},
	} {
		if got := connections.MaskQueryKey(tc.in, "key"); got != tc.want {
			t.Errorf("MaskQueryKey(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

func TestAuthorizeHosts(t *testing.T) {
	api, other, sub := &recorder{}, &recorder{}, &recorder{}
	client := tlsHosts(t, map[string]http.Handler{"api.example.com": api, "other.example.com": other, "example.com": sub})
	s, _, _ := newTestService(t)
	mustCreate(t, s, connections.NewConnection{Name: "exact", Type: connections.TypeBearer, AllowedDomain: "API.Example.COM.", Credentials: connections.Credentials{Token: "t-exact"}})
	mustCreate(t, s, connections.NewConnection{Name: "subs", Type: connections.TypeBearer, AllowedDomain: "example.com", AllowSubdomains: true, Credentials: connections.Credentials{Token: "t-subs"}})
	mustCreate(t, s, connections.NewConnection{Name: "idn", Type: connections.TypeBearer, AllowedDomain: "Bücher.Example.", Credentials: connections.Credentials{Token: "t-idn"}})

	t.Run("OKAllowedHost", func(t *testing.T) {
		if err := send(t, s, client, "https://api.example.com/x", "exact"); err != nil {
			t.Fatal(err)
		}
		if got := api.last(t).Header.Get("Authorization"); got != "Bearer t-exact" {
			t.Fatalf("Authorization = %q", got)
		}
	})
	t.Run("ErrOtherHost", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, "https://other.example.com/x", nil)
		err := s.Authorize(context.Background(), req, "exact")
		var he *connections.HostNotAllowedError
		if !errors.As(err, &he) || he.Host != "other.example.com" {
			t.Fatalf("err = %v, want *HostNotAllowedError", err)
		}
		if len(req.Header) != 0 {
			t.Fatalf("headers were added: %v", req.Header)
		}
		// Sent anyway, it carries no credential.
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := other.last(t).Header.Get("Authorization"); got != "" {
			t.Fatalf("other host got Authorization %q", got)
		}
	})
	t.Run("ErrSubdomainNotAllowed", func(t *testing.T) {
		for _, u := range []string{"https://v2.api.example.com/", "https://example.com/", "https://api.example.com.evil.test/", "https://xapi.example.com/"} {
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			var he *connections.HostNotAllowedError
			if err := s.Authorize(context.Background(), req, "exact"); !errors.As(err, &he) {
				t.Errorf("%s: err = %v", u, err)
			}
		}
	})
	t.Run("OKSubdomains", func(t *testing.T) {
		for _, u := range []string{"https://example.com/", "https://api.example.com/", "https://a.b.example.com/", "https://EXAMPLE.com./"} {
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			if err := s.Authorize(context.Background(), req, "subs"); err != nil || req.Header.Get("Authorization") != "Bearer t-subs" {
				t.Errorf("%s: err = %v, header %q", u, err, req.Header.Get("Authorization"))
			}
		}
		for _, u := range []string{"https://notexample.com/", "https://example.com.evil.test/"} {
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			if err := s.Authorize(context.Background(), req, "subs"); err == nil {
				t.Errorf("%s: allowed", u)
			}
		}
		if err := send(t, s, client, "https://other.example.com/y", "subs"); err != nil {
			t.Fatal(err)
		}
		if got := other.last(t).Header.Get("Authorization"); got != "Bearer t-subs" {
			t.Fatalf("subdomain got %q", got)
		}
	})
	t.Run("OKCanonicalForms", func(t *testing.T) {
		for _, u := range []string{"https://xn--bcher-kva.example/", "https://XN--BCHER-KVA.example./", "https://bücher.example/", "https://BÜCHER.example:8443/"} {
			req, err := http.NewRequest(http.MethodGet, u, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Authorize(context.Background(), req, "idn"); err != nil || req.Header.Get("Authorization") != "Bearer t-idn" {
				t.Errorf("%s: err = %v", u, err)
			}
		}
	})
	t.Run("ErrHostHeaderOverride", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/", nil)
		req.Host = "evil.test"
		var he *connections.HostNotAllowedError
		if err := s.Authorize(context.Background(), req, "exact"); !errors.As(err, &he) || he.Host != "evil.test" || len(req.Header) != 0 {
			t.Fatalf("err = %v, header %v", err, req.Header)
		}
	})
	t.Run("ErrNotHTTPS", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, "http://api.example.com/", nil)
		var se *connections.SchemeError
		if err := s.Authorize(context.Background(), req, "exact"); !errors.As(err, &se) || len(req.Header) != 0 {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/", nil)
		if err := s.Authorize(context.Background(), req, "nope"); flow.ErrorCode(err) != flow.ENOTFOUND {
			t.Fatalf("err = %v", err)
		}
	})
}

// tokenServer is an OAuth token endpoint that counts fetches and hands out
// tok-1, tok-2, ...
type tokenServer struct {
	fetches atomic.Int64
	delay   time.Duration
	status  int
	mu      sync.Mutex
	forms   []url.Values
	auths   [][2]string
}

func (ts *tokenServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := ts.fetches.Add(1)
	r.ParseForm()
	id, secret, _ := r.BasicAuth()
	id, _ = url.QueryUnescape(id)
	secret, _ = url.QueryUnescape(secret)
	ts.mu.Lock()
	ts.forms = append(ts.forms, r.PostForm)
	ts.auths = append(ts.auths, [2]string{id, secret})
	ts.mu.Unlock()
	time.Sleep(ts.delay)
	w.Header().Set("Content-Type", "application/json")
	if ts.status != 0 {
		w.WriteHeader(ts.status)
		io.WriteString(w, `{"error":"invalid_client","error_description":"bad secret `+secret+`"}`)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"access_token": "tok-" + strconv.Itoa(int(n)), "token_type": "Bearer", "expires_in": 3600})
}

func oauthSetup(t *testing.T) (*connections.Service, *clock, *tokenServer, *recorder, *http.Client) {
	t.Helper()
	ts := &tokenServer{delay: 50 * time.Millisecond}
	api := &recorder{}
	client := tlsHosts(t, map[string]http.Handler{"auth.example.com": ts, "api.example.com": api})
	s, _, clk := newTestService(t)
	s.Client = client
	mustCreate(t, s, connections.NewConnection{Name: "crm", Type: connections.TypeOAuth2CC, AllowedDomain: "api.example.com", Credentials: connections.Credentials{
		TokenURL: "https://auth.example.com/oauth/token", ClientID: "my id", ClientSecret: "s3cr&t=", Scopes: []string{"read", "write"}}})
	return s, clk, ts, api, client
}

// TestHostAllowed: subdomains of a public suffix never get the
// credential, even from a connection stored before validation refused
// one; the port is not compared (RedirectPolicy keeps it).
func TestHostAllowed(t *testing.T) {
	for _, tc := range []struct {
		host, domain string
		subdomains   bool
		want         bool
	}{
		{"api.example.co.uk", "example.co.uk", true, true},
		{"attacker.co.uk", "co.uk", true, false},
		{"co.uk", "co.uk", true, true},
		{"attacker.github.io", "github.io", true, false},
		{"a.team.github.io", "team.github.io", true, true},
		{"attacker.herokuapp.com", "herokuapp.com", true, false},
		{"api.example.com:8443", "example.com", true, true},
		{"api.example.com:8443", "api.example.com", false, true},
	} {
		if got := connections.HostAllowed(tc.host, tc.domain, tc.subdomains); got != tc.want {
			t.Errorf("HostAllowed(%q, %q, %v) = %v; want %v", tc.host, tc.domain, tc.subdomains, got, tc.want)
		}
	}
}

func TestAuthorizeOAuth(t *testing.T) {
	s, clk, ts, api, client := oauthSetup(t)
	authorize := func(t *testing.T) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/v1", nil)
		if err := s.Authorize(context.Background(), req, "crm"); err != nil {
			t.Fatal(err)
		}
		return req.Header.Get("Authorization")
	}

	t.Run("OKOneFetchForParallelCalls", func(t *testing.T) {
		var wg sync.WaitGroup
		got := make([]string, 20)
		for i := range got {
			wg.Go(func() {
				req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/v1", nil)
				if err := s.Authorize(context.Background(), req, "crm"); err != nil {
					t.Error(err)
				}
				got[i] = req.Header.Get("Authorization")
			})
		}
		wg.Wait()
		if n := ts.fetches.Load(); n != 1 {
			t.Fatalf("token fetched %d times, want 1", n)
		}
		for _, g := range got {
			if g != "Bearer tok-1" {
				t.Fatalf("Authorization = %q", g)
			}
		}
		ts.mu.Lock()
		form, auth := ts.forms[0], ts.auths[0]
		ts.mu.Unlock()
		if form.Get("grant_type") != "client_credentials" || form.Get("scope") != "read write" {
			t.Fatalf("token form = %v", form)
		}
		if auth != [2]string{"my id", "s3cr&t="} {
			t.Fatalf("token basic auth = %q", auth)
		}
	})
	t.Run("OKCached", func(t *testing.T) {
		for range 3 {
			if got := authorize(t); got != "Bearer tok-1" {
				t.Fatalf("Authorization = %q", got)
			}
		}
		if err := send(t, s, client, "https://api.example.com/v1", "crm"); err != nil {
			t.Fatal(err)
		}
		if got := api.last(t).Header.Get("Authorization"); got != "Bearer tok-1" {
			t.Fatalf("API got %q", got)
		}
		if n := ts.fetches.Load(); n != 1 {
			t.Fatalf("token fetched %d times", n)
		}
	})
	t.Run("OKRefreshAfterInvalidate", func(t *testing.T) {
		s.Invalidate("crm")
		if got := authorize(t); got != "Bearer tok-2" {
			t.Fatalf("Authorization = %q", got)
		}
		if got := authorize(t); got != "Bearer tok-2" {
			t.Fatalf("Authorization = %q", got)
		}
	})
	t.Run("OKRefreshBeforeExpiry", func(t *testing.T) {
		clk.Add(3600*time.Second - connections.TokenMargin - time.Second)
		if got := authorize(t); got != "Bearer tok-2" {
			t.Fatalf("just before the margin: %q", got)
		}
		clk.Add(2 * time.Second)
		if got := authorize(t); got != "Bearer tok-3" {
			t.Fatalf("inside the margin: %q", got)
		}
	})
	t.Run("OKRefreshAfterRotate", func(t *testing.T) {
		if _, err := s.Rotate(context.Background(), "crm", connections.Credentials{TokenURL: "https://auth.example.com/oauth/token", ClientID: "id2", ClientSecret: "x"}); err != nil {
			t.Fatal(err)
		}
		if got := authorize(t); got != "Bearer tok-4" {
			t.Fatalf("Authorization = %q", got)
		}
	})
}

func TestAuthorizeOAuthErrors(t *testing.T) {
	t.Run("ErrTokenEndpointRefuses", func(t *testing.T) {
		s, _, ts, _, _ := oauthSetup(t)
		ts.status = http.StatusUnauthorized
		req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/v1", nil)
		err := s.Authorize(context.Background(), req, "crm")
		var te *connections.TokenError
		if !errors.As(err, &te) || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "invalid_client") {
			t.Fatalf("err = %v", err)
		}
		if strings.Contains(err.Error(), "s3cr") || req.Header.Get("Authorization") != "" {
			t.Fatalf("error or request leaks: %v", err)
		}
		// Failures are not cached.
		s.Authorize(context.Background(), req, "crm")
		if n := ts.fetches.Load(); n != 2 {
			t.Fatalf("fetches = %d, want 2", n)
		}
	})
	t.Run("ErrTokenURLBlocked", func(t *testing.T) {
		ln, n := countingListener(t, "tcp4", "127.0.0.1:0")
		s, _, _ := newTestService(t)
		s.Client = connections.NewGuardedClient(false)
		mustCreate(t, s, connections.NewConnection{Name: "crm", Type: connections.TypeOAuth2CC, AllowedDomain: "api.example.com", Credentials: connections.Credentials{
			TokenURL: "https://" + ln.Addr().String() + "/token", ClientID: "id", ClientSecret: "secret"}})
		req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/v1", nil)
		err := s.Authorize(context.Background(), req, "crm")
		var be *connections.BlockedAddressError
		if !errors.As(err, &be) {
			t.Fatalf("err = %v, want a *BlockedAddressError", err)
		}
		assertNoConnection(t, ln, n)
	})
	t.Run("ErrCallerGivesUp", func(t *testing.T) {
		s, _, ts, _, _ := oauthSetup(t)
		ts.delay = 300 * time.Millisecond
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://api.example.com/v1", nil)
		if err := s.Authorize(ctx, req, "crm"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
		// The fetch went on for the others.
		req, _ = http.NewRequest(http.MethodGet, "https://api.example.com/v1", nil)
		if err := s.Authorize(context.Background(), req, "crm"); err != nil || req.Header.Get("Authorization") != "Bearer tok-1" {
			t.Fatalf("err = %v, header %q", err, req.Header.Get("Authorization"))
		}
		if n := ts.fetches.Load(); n != 1 {
			t.Fatalf("fetches = %d", n)
		}
	})
}

func TestRedactHeaders(t *testing.T) {
	h := http.Header{}
	h.Set("Authorization", "Bearer abc")
	h.Set("X-Shop-Key", "k")
	h.Set("X-Api-Key", "k2")
	h.Set("Cookie", "c=1")
	h.Set("Accept", "application/json")
	conn := &connections.Connection{Type: connections.TypeAPIKey, Public: map[string]string{"header": "x-shop-key"}}
	got := connections.RedactHeaders(h, conn)
	for _, k := range []string{"Authorization", "X-Shop-Key", "X-Api-Key", "Cookie"} {
		if got.Get(k) != connections.Redacted {
			t.Errorf("%s = %q", k, got.Get(k))
		}
	}
	if got.Get("Accept") != "application/json" || h.Get("Authorization") != "Bearer abc" || h.Get("X-Shop-Key") != "k" {
		t.Fatalf("redacted %v, original %v", got, h)
	}
	if connections.RedactHeaders(nil, nil) == nil {
		t.Fatal("nil header gave nil")
	}
}
