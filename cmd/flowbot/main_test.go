package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowbot/flowbot/flow"
	"github.com/flowbot/flowbot/store"
	"github.com/flowbot/flowbot/web"
)

// syncBuffer is an io.Writer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type running struct {
	out, errOut *syncBuffer
	url         string
	stop        context.CancelFunc
	done        chan int
}

var listenRE = regexp.MustCompile(`flowbot listening on (http://\S+)`)

// start runs the service as main does, on a random port, with any more
// flags in args.
func start(t *testing.T, dir string, env map[string]string, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{out: &syncBuffer{}, errOut: &syncBuffer{}, stop: cancel, done: make(chan int, 1)}
	getenv := func(k string) string { return env[k] }
	args = append([]string{"--addr", "127.0.0.1:0", "--data", dir}, args...)
	go func() { r.done <- run(ctx, args, getenv, r.out, r.errOut) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := listenRE.FindStringSubmatch(r.out.String()); m != nil {
			r.url = m[1]
			t.Cleanup(func() { r.shutdown(t) })
			return r
		}
		select {
		case code := <-r.done:
			r.done <- code
			return r
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	t.Fatalf("did not start: %s %s", r.out.String(), r.errOut.String())
	return nil
}

func (r *running) shutdown(t *testing.T) int {
	r.stop()
	select {
	case code := <-r.done:
		r.done <- code
		return code
	case <-time.After(20 * time.Second):
		t.Fatal("did not shut down")
		return -1
	}
}

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, body := send(t, req)
	return resp.StatusCode, body
}

func post(t *testing.T, url, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, out := send(t, req)
	return resp.StatusCode, out
}

// send makes req and returns the response with its body read.
func send(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var tokenRE = regexp.MustCompile(`admin token \(shown once, keep it\): (fbk_\S+)`)

func TestRun_ZeroConfigFirstStartPrintsTokenOnce(t *testing.T) {
	dir := t.TempDir()
	r := start(t, dir, nil)
	if !strings.Contains(r.out.String(), "flowbot data folder: "+dir) {
		t.Fatalf("banner: %s", r.out.String())
	}
	m := tokenRE.FindStringSubmatch(r.out.String())
	if m == nil {
		t.Fatalf("no admin token printed: %s", r.out.String())
	}
	tok := m[1]
	if code, _ := get(t, r.url+"/healthz", ""); code != 200 {
		t.Fatal(code)
	}
	if code, _ := get(t, r.url+"/readyz", ""); code != 200 {
		t.Fatal(code)
	}
	if code, body := get(t, r.url+"/openapi.yaml", ""); code != 200 || !strings.HasPrefix(body, "openapi: 3") {
		t.Fatal(code)
	}
	if code, _ := get(t, r.url+"/v1/bots", tok); code != 200 {
		t.Fatalf("admin token refused: %d", code)
	}
	if code, _ := get(t, r.url+"/v1/bots", "wrong"); code != 401 {
		t.Fatal(code)
	}
	// Logs are JSON lines with a request id, written in batches at most
	// 100ms late.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if strings.Contains(r.out.String(), `"request_id":"`) && strings.Contains(r.out.String(), `"msg":"request"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no JSON request log: %s", r.out.String())
		}
	}
	if code := r.shutdown(t); code != 0 {
		t.Fatalf("exit %d: %s", code, r.errOut.String())
	}
	// Second start: same data, the token still works and is not printed again.
	r2 := start(t, dir, nil)
	if tokenRE.MatchString(r2.out.String()) {
		t.Fatal("token printed again")
	}
	if code, _ := get(t, r2.url+"/v1/bots", tok); code != 200 {
		t.Fatalf("token lost after restart: %d", code)
	}
}

func TestRun_WrongSecretKeyRefusesToStartAndKeepsData(t *testing.T) {
	dir := t.TempDir()
	keyA := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	keyB := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))
	admin := "admin-token-for-tests-0123456789"
	r := start(t, dir, map[string]string{"FLOWBOT_SECRET_KEY": keyA, "FLOWBOT_ADMIN_TOKEN": admin})
	code, body := post(t, r.url+"/v1/connections", admin, `{"name":"shop_api","type":"bearer","allowed_domain":"shop.example.com","credentials":{"token":"s3cret-token-value"}}`)
	if code != 201 {
		t.Fatalf("create connection: %d %s", code, body)
	}
	r.shutdown(t)

	bad := start(t, dir, map[string]string{"FLOWBOT_SECRET_KEY": keyB, "FLOWBOT_ADMIN_TOKEN": admin})
	select {
	case code := <-bad.done:
		if code != 1 || !strings.Contains(bad.errOut.String(), "key") {
			t.Fatalf("exit %d: %s", code, bad.errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("started with the wrong key")
	}

	ok := start(t, dir, map[string]string{"FLOWBOT_SECRET_KEY": keyA, "FLOWBOT_ADMIN_TOKEN": admin})
	if code, body := get(t, ok.url+"/v1/connections/shop_api", admin); code != 200 || !strings.Contains(body, `"*****"`) {
		t.Fatalf("connection after refused start: %d %s", code, body)
	}
}

func TestParseConfig(t *testing.T) {
	env := map[string]string{"FLOWBOT_ADDR": ":9000", "FLOWBOT_DATA_DIR": "/tmp/x", "FLOWBOT_ALLOW_PRIVATE_NETWORKS": "true"}
	cfg, err := parseConfig([]string{"--addr", "127.0.0.1:7000"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:7000" || cfg.DataDir != "/tmp/x" || !cfg.AllowPrivateNetworks || cfg.Retention != 30*24*time.Hour {
		t.Fatalf("%+v", cfg)
	}
	if cfg.CommitDelay != time.Millisecond {
		t.Fatalf("default commit delay %s, want 1ms", cfg.CommitDelay)
	}
	handoff := map[string]string{"FLOWBOT_HANDOFF_URL": "https://desk.example.com:65535/flowbot?team=2", "FLOWBOT_HANDOFF_SECRET": strings.Repeat("h", 32)}
	if cfg, err := parseConfig(nil, func(k string) string { return handoff[k] }, io.Discard); err != nil || cfg.HandoffURL != handoff["FLOWBOT_HANDOFF_URL"] {
		t.Fatalf("hand-off settings with a 32-character secret: %+v, %v", cfg, err)
	}
	secret := strings.Repeat("s", 32) // the shortest user token secret accepted
	if cfg, err := parseConfig(nil, func(k string) string { return map[string]string{"FLOWBOT_USER_TOKEN_SECRET": secret}[k] }, io.Discard); err != nil || cfg.UserTokenSecret != secret {
		t.Fatalf("FLOWBOT_USER_TOKEN_SECRET of 32: %q, %v", cfg.UserTokenSecret, err)
	}
	for _, edge := range []string{"0s", "50ms"} {
		cfg, err := parseConfig(nil, func(k string) string { return map[string]string{"FLOWBOT_COMMIT_DELAY": edge}[k] }, io.Discard)
		if err != nil || cfg.CommitDelay.String() != edge {
			t.Fatalf("FLOWBOT_COMMIT_DELAY=%s: %v, %v", edge, cfg.CommitDelay, err)
		}
	}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"ErrBadAddr", []string{"--addr", "nope"}, nil, "--addr"},
		{"ErrBadBool", nil, map[string]string{"FLOWBOT_ALLOW_PRIVATE_NETWORKS": "maybe"}, "FLOWBOT_ALLOW_PRIVATE_NETWORKS"},
		{"ErrBadLogBodies", nil, map[string]string{"FLOWBOT_LOG_BODIES": "sometimes"}, "FLOWBOT_LOG_BODIES must be true or false"},
		{"ErrBadBoolFlag", []string{"--allow-private-networks=maybe"}, nil, "allow-private-networks"},
		{"ErrShortAdminToken", nil, map[string]string{"FLOWBOT_ADMIN_TOKEN": "short"}, "FLOWBOT_ADMIN_TOKEN"},
		{"ErrHandoffURLHTTP", nil, map[string]string{"FLOWBOT_HANDOFF_URL": "http://desk.example.com/hook", "FLOWBOT_HANDOFF_SECRET": strings.Repeat("s", 32)}, "FLOWBOT_HANDOFF_URL must be an https URL"},
		{"ErrHandoffURLUserInfo", nil, map[string]string{"FLOWBOT_HANDOFF_URL": "https://u:p@desk.example.com/hook", "FLOWBOT_HANDOFF_SECRET": strings.Repeat("s", 32)}, "FLOWBOT_HANDOFF_URL must be an https URL"},
		{"ErrHandoffURLNoHostName", nil, map[string]string{"FLOWBOT_HANDOFF_URL": "https://:443/hook", "FLOWBOT_HANDOFF_SECRET": strings.Repeat("s", 32)}, "FLOWBOT_HANDOFF_URL must be an https URL"},
		{"ErrHandoffURLPort65536", nil, map[string]string{"FLOWBOT_HANDOFF_URL": "https://desk.example.com:65536/hook", "FLOWBOT_HANDOFF_SECRET": strings.Repeat("s", 32)}, "FLOWBOT_HANDOFF_URL must be an https URL"},
		{"ErrHandoffSecret31", nil, map[string]string{"FLOWBOT_HANDOFF_URL": "https://desk.example.com/hook", "FLOWBOT_HANDOFF_SECRET": strings.Repeat("s", 31)}, "FLOWBOT_HANDOFF_SECRET must be set, at least 32"},
		{"ErrHandoffSecretAlone", nil, map[string]string{"FLOWBOT_HANDOFF_SECRET": strings.Repeat("s", 32)}, "without FLOWBOT_HANDOFF_URL"},
		{"ErrUserTokenSecret31", nil, map[string]string{"FLOWBOT_USER_TOKEN_SECRET": strings.Repeat("s", 31)}, "FLOWBOT_USER_TOKEN_SECRET must be at least 32"},
		{"ErrRetentionTooShort", []string{"--retention", "10m"}, nil, "--retention"},
		{"ErrLogLevel", []string{"--log-level", "loud"}, nil, "--log-level"},
		{"ErrCommitDelayNegative", []string{"--commit-delay", "-1ms"}, nil, "--commit-delay"},
		{"ErrCommitDelayTooLong", []string{"--commit-delay", "51ms"}, nil, "--commit-delay"},
		{"ErrCommitDelayEnv", nil, map[string]string{"FLOWBOT_COMMIT_DELAY": "soon"}, "FLOWBOT_COMMIT_DELAY"},
		{"ErrExtraArgument", []string{"serve"}, nil, "unexpected argument"},
		// A value from the environment is named by its variable.
		{"ErrBadAddrEnv", nil, map[string]string{"FLOWBOT_ADDR": "nope"}, `FLOWBOT_ADDR "nope" is not host:port`},
		{"ErrRetentionEnv", nil, map[string]string{"FLOWBOT_RETENTION": "10m"}, "FLOWBOT_RETENTION must be at least 1h"},
		{"ErrLogLevelEnv", nil, map[string]string{"FLOWBOT_LOG_LEVEL": "loud"}, "FLOWBOT_LOG_LEVEL must be"},
		{"ErrCommitDelayEnvTooLong", nil, map[string]string{"FLOWBOT_COMMIT_DELAY": "51ms"}, "FLOWBOT_COMMIT_DELAY must be between"},
		{"ErrPprofAddrEnv", nil, map[string]string{"FLOWBOT_PPROF_ADDR": "0.0.0.0:6061"}, "FLOWBOT_PPROF_ADDR must be a loopback address"},
		{"ErrTrustedProxies", []string{"--trusted-proxies", "10.0.0.0/8, proxy.internal"}, nil, `--trusted-proxies: "proxy.internal" is not an address`},
		{"ErrTrustedProxiesEnv", nil, map[string]string{"FLOWBOT_TRUSTED_PROXIES": "10.0.0.0/33"}, `FLOWBOT_TRUSTED_PROXIES: "10.0.0.0/33"`},
		// A flag overrides the variable, and is named itself.
		{"ErrBadAddrFlagOverEnv", []string{"--addr", "nope"}, map[string]string{"FLOWBOT_ADDR": ":9000"}, `--addr "nope"`},
		{"ErrLogLevelFlagOverEnv", []string{"--log-level", "loud"}, map[string]string{"FLOWBOT_LOG_LEVEL": "info"}, "--log-level must be"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// TestParseConfig_Defaults checks the defaults of SPEC §6 and README's
// settings table when no flag and no FLOWBOT_* variable is set.
func TestParseConfig_Defaults(t *testing.T) {
	// parseConfig treats an empty variable as unset, but clear FLOWBOT_*
	// from the process for real so os.Getenv, what main passes, sees none.
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "FLOWBOT_") {
			t.Setenv(k, "") // restores the value when the test ends
			if err := os.Unsetenv(k); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := Config{
		Addr:                  ":8080",
		DataDir:               "./data",
		AdminToken:            "", // generated on first start
		SecretKey:             "", // generated into the data folder on first start
		AllowPrivateNetworks:  false,
		ShutdownTimeout:       15 * time.Second,
		Retention:             720 * time.Hour,
		CommitDelay:           time.Millisecond,
		PprofAddr:             "",
		LogLevel:              "info",
		LogBodies:             true,
		IPRateLimit:           web.RateLimit{PerSecond: 5, Burst: 20},
		ConversationRateLimit: web.RateLimit{PerSecond: 5, Burst: 10},
	}
	for name, getenv := range map[string]func(string) string{
		"ProcessEnv": os.Getenv,
		"NoEnv":      func(string) string { return "" },
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := parseConfig(nil, getenv, io.Discard)
			if err != nil {
				t.Fatalf("parseConfig with no flags: %v, want no error", err)
			}
			if cfg != want {
				t.Fatalf("defaults = %+v\nwant       %+v", cfg, want)
			}
		})
	}
	if defaultGCPercent != 400 {
		t.Fatalf("defaultGCPercent = %d, want 400 (README settings)", defaultGCPercent)
	}
}

func TestParseConfig_AllowPrivateNetworksFlag(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  string // FLOWBOT_ALLOW_PRIVATE_NETWORKS
		want bool
	}{
		{"OffByDefault", nil, "", false},
		{"FlagAloneTurnsOn", []string{"--allow-private-networks"}, "", true},
		{"FlagTrue", []string{"--allow-private-networks=true"}, "", true},
		{"FlagFalse", []string{"--allow-private-networks=false"}, "", false},
		{"FlagOnWinsOverEnvFalse", []string{"--allow-private-networks"}, "false", true},
		{"FlagOffWinsOverEnvTrue", []string{"--allow-private-networks=false"}, "true", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"FLOWBOT_ALLOW_PRIVATE_NETWORKS": tc.env}
			cfg, err := parseConfig(tc.args, func(k string) string { return env[k] }, io.Discard)
			if err != nil {
				t.Fatalf("args %q env %q: %v, want no error", tc.args, tc.env, err)
			}
			if cfg.AllowPrivateNetworks != tc.want {
				t.Fatalf("args %q env %q: AllowPrivateNetworks = %t, want %t", tc.args, tc.env, cfg.AllowPrivateNetworks, tc.want)
			}
		})
	}
}

func TestPprof(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:0", true}, {"[::1]:6061", true}, {"localhost:6061", true},
		{":6061", false}, {"0.0.0.0:6061", false}, {"10.0.0.1:6061", false}, {"example.com:6061", false}, {"nope", false},
	} {
		_, err := parseConfig([]string{"--pprof-addr", tc.addr}, func(string) string { return "" }, io.Discard)
		if tc.ok != (err == nil) || err != nil && !strings.Contains(err.Error(), "--pprof-addr") {
			t.Errorf("--pprof-addr %s: err = %v, want ok %t", tc.addr, err, tc.ok)
		}
	}

	// Off unless asked for; on, profiles are served on their own address.
	r := start(t, t.TempDir(), nil)
	if strings.Contains(r.out.String(), "profiles on") {
		t.Fatalf("pprof is on by default: %s", r.out.String())
	}
	if code, _ := get(t, r.url+"/debug/pprof/", ""); code != 404 {
		t.Fatalf("/debug/pprof/ on the service's own address: %d, want 404", code)
	}
	r.shutdown(t)

	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--data", dir, "--pprof-addr", "127.0.0.1:0"}, func(string) string { return "" }, out, io.Discard)
	}()
	re := regexp.MustCompile(`flowbot profiles on (http://\S+)`)
	var url string
	for deadline := time.Now().Add(10 * time.Second); url == ""; time.Sleep(20 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no pprof address printed: %s", out.String())
		}
	}
	if code, body := get(t, url+"goroutine?debug=1", ""); code != 200 || !strings.Contains(body, "goroutine profile") {
		t.Fatalf("pprof goroutine profile: %d %.200s", code, body)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d", code)
	}
}

func TestParseProxies(t *testing.T) {
	got, err := parseProxies(" 10.0.0.0/8,192.0.2.7 , ::ffff:198.51.100.1,2001:db8::/32,10.1.2.3/16,::ffff:172.16.0.0/108,")
	want := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"),
		netip.MustParsePrefix("198.51.100.1/32"), netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("172.16.0.0/12"),
	}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("got %v, %v; want %v", got, err, want)
	}
	if _, err := parseProxies("::ffff:0:0/90"); err == nil {
		t.Fatal("a mapped range wider than IPv4 was accepted")
	}
	if got, err := parseProxies(""); err != nil || len(got) != 0 {
		t.Fatalf("empty: %v, %v", got, err)
	}
	cfg, err := parseConfig(nil, func(k string) string {
		return map[string]string{"FLOWBOT_TRUSTED_PROXIES": "10.0.0.0/8"}[k]
	}, io.Discard)
	if err != nil || cfg.TrustedProxies != "10.0.0.0/8" {
		t.Fatalf("from the environment: %q, %v", cfg.TrustedProxies, err)
	}
}

// A SIGTERM while a turn waits on its API call: the shutdown deadline
// passes, yet the store stays open until the turn is stored and answered.
// Closing it under the turn would lose a turn whose call the API may have
// acted on, and the widget's retry would make the call again.
func TestRun_ShutdownWaitsForRunningTurn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // accepts and never answers
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	called := make(chan struct{}, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			called <- struct{}{}
			defer c.Close()
		}
	}()
	dir := t.TempDir()
	const admin = "shutdown-admin-token-0123456789"
	r := start(t, dir, map[string]string{"FLOWBOT_ADMIN_TOKEN": admin}, "--shutdown-timeout", "200ms", "--allow-private-networks")
	code, body := post(t, r.url+"/v1/bots", admin, `{"name":"b","flow":{"start":"a","steps":[
	 {"id":"a","type":"ask","text":"Order?","variable":"n","next":"c"},
	 {"id":"c","type":"api_call","method":"POST","url":"https://`+ln.Addr().String()+`/orders","body":"{}","timeout_ms":2000,"on_success":"e","on_failure":"e"},
	 {"id":"e","type":"end","text":"done"}]}}`)
	var bot struct{ ID string }
	if err := json.Unmarshal([]byte(body), &bot); err != nil || code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	if code, body = post(t, r.url+"/v1/bots/"+bot.ID+"/publish", admin, ""); code != http.StatusCreated {
		t.Fatalf("publish: %d %s", code, body)
	}
	code, body = post(t, r.url+"/v1/bots/"+bot.ID+"/conversations", "", "")
	var conv struct{ ID, Token string }
	if err := json.Unmarshal([]byte(body), &conv); err != nil || code != http.StatusCreated {
		t.Fatalf("start: %d %s", code, body)
	}
	answered := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest("POST", r.url+"/v1/conversations/"+conv.ID+"/messages", strings.NewReader(`{"text":"42"}`))
		req.Header.Set("Authorization", "Bearer "+conv.Token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		answered <- strconv.Itoa(resp.StatusCode) + " " + string(b)
	}()
	<-called // the API call is under way
	if code := r.shutdown(t); code != 1 {
		t.Errorf("exit code %d, want 1: the graceful shutdown did not finish within its deadline", code)
	}
	select {
	case got := <-answered:
		if !strings.HasPrefix(got, "200 ") || !strings.Contains(got, `"ended"`) {
			t.Errorf("the widget got %s, want the turn's answer", got)
		}
	case <-time.After(5 * time.Second):
		t.Error("the widget got no answer")
	}
	db, err := store.Open(filepath.Join(dir, "flowbot.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, err := db.Conversation(context.Background(), conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Turns != 1 || c.Status != flow.StatusEnded {
		t.Errorf("after the restart the conversation has %d turns, status %s; want the running turn stored (1, ended)", c.Turns, c.Status)
	}
	if !strings.Contains(r.out.String(), "waiting for turns still running") {
		t.Errorf("no log line says the shutdown waits for the turn:\n%s", r.out.String())
	}
}

// A start sent again with its Idempotency-Key after a restart finds its
// conversation and token: the token is derived with the data folder's
// secret key, and the conversation's token index is on disk.
func TestRun_StartIdempotencyKeyAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	const admin = "restart-admin-token-0123456789"
	env := map[string]string{"FLOWBOT_ADMIN_TOKEN": admin}
	startKeyed := func(r *running, bot string) (int, string, string) {
		req, _ := http.NewRequest("POST", r.url+"/v1/bots/"+bot+"/conversations", nil)
		req.Header.Set("Idempotency-Key", "9c5b94b1-35ad-49bb-b118-8e8fc24abf80")
		resp, body := send(t, req)
		return resp.StatusCode, resp.Header.Get("Idempotent-Replayed"), body
	}
	r := start(t, dir, env)
	code, body := post(t, r.url+"/v1/bots", admin, `{"name":"b","flow":{"start":"a","steps":[
	 {"id":"a","type":"ask","text":"Yes?","variable":"x","next":"e"},{"id":"e","type":"end","text":"Bye"}]}}`)
	var bot struct{ ID string }
	if err := json.Unmarshal([]byte(body), &bot); err != nil || code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	if code, body = post(t, r.url+"/v1/bots/"+bot.ID+"/publish", admin, ""); code != http.StatusCreated {
		t.Fatalf("publish: %d %s", code, body)
	}
	code, replayed, first := startKeyed(r, bot.ID)
	if code != http.StatusCreated || replayed != "" {
		t.Fatalf("first start: %d %q %s", code, replayed, first)
	}
	r.shutdown(t)

	r2 := start(t, dir, env)
	code, replayed, again := startKeyed(r2, bot.ID)
	if code != http.StatusCreated || replayed != "true" || again != first {
		t.Fatalf("after the restart: %d %q %s; want the first answer %s", code, replayed, again, first)
	}
}

// TestRun_StartWithoutHelpDeskForgetsHandoffsSince: a start with a help
// desk records since when notices are kept; a start without one drops
// that time, so the transfers it lets through without notices are not
// taken for notices a crash lost when a desk is configured again.
func TestRun_StartWithoutHelpDeskForgetsHandoffsSince(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"FLOWBOT_ADMIN_TOKEN": "handoff-admin-token-0123456789",
		"FLOWBOT_HANDOFF_URL": "https://desk.example.com/hook", "FLOWBOT_HANDOFF_SECRET": strings.Repeat("s", 32)}
	kept := func() time.Time {
		t.Helper()
		db, err := store.Open(filepath.Join(dir, "flowbot.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		s, err := db.HandoffsKeptSince(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	run := func() {
		t.Helper()
		r := start(t, dir, env)
		if code := r.shutdown(t); code != 0 {
			t.Fatalf("exit %d: %s", code, r.errOut.String())
		}
	}
	run()
	first := kept()
	if time.Since(first) > time.Minute || first.After(time.Now()) {
		t.Fatalf("with a help desk: kept since %v; want the start's time", first)
	}
	run()
	if again := kept(); !again.Equal(first) {
		t.Fatalf("a second start with a help desk: kept since %v; want %v still", again, first)
	}
	delete(env, "FLOWBOT_HANDOFF_URL")
	delete(env, "FLOWBOT_HANDOFF_SECRET")
	run()
	if got := kept(); !got.IsZero() {
		t.Fatalf("after a start without a help desk: kept since %v; want none", got)
	}
}
