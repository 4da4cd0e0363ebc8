package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowbot/flowbot/connections"
)

const testAdminToken = "fbk_test_admin_token_0123456789"

// orderAPI stands in for the peers' upstream: GET /orders/42 is shipped,
// anything else is 404.
func orderAPI(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.PathValue("id") != "42" {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":"not found"}`)
			return
		}
		fmt.Fprint(w, `{"id":"42","status":"shipped","eta":"2026-12-01"}`)
	})
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// testFlowbot runs flowbot's real wiring (newFlowbot)
// on a loopback test server whose api_calls trust upstream's certificate.
func testFlowbot(t *testing.T, upstream *httptest.Server) *httptest.Server {
	outbound := connections.NewGuardedClient(true)
	tr := outbound.Transport.(*connections.Transport)
	pool := x509.NewCertPool()
	pool.AddCert(upstream.Certificate())
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, closeDB, err := newFlowbot(context.Background(), t.TempDir(), testAdminToken, outbound, log)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); closeDB() })
	return srv
}

// TestPrepareWritesUsableConversations runs "prepare" against a real
// in-process flowbot and then sends, for every line of the file, the very
// request bench/load/flowbot-turn.lua builds from it.
func TestPrepareWritesUsableConversations(t *testing.T) {
	upstream := orderAPI(t)
	fb := testFlowbot(t, upstream)
	out := filepath.Join(t.TempDir(), "convs.txt")
	var progress bytes.Buffer
	err := prepareMain(context.Background(), []string{
		"-url", fb.URL, "-token", testAdminToken, "-upstream", upstream.URL,
		"-conversations", "7", "-conns", "3", "-preload", "2", "-out", out,
	}, &progress, io.Discard)
	if err != nil {
		t.Fatalf("prepare: %v\n%s", err, progress.String())
	}
	if !strings.Contains(progress.String(), "prepare: 7 conversations") {
		t.Errorf("progress output:\n%s", progress.String())
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("the file holds bearer tokens but has mode %v", fi.Mode().Perm())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}

	header := map[string]string{}
	type conv struct{ id, token string }
	var convs []conv
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if rest, ok := strings.CutPrefix(line, "# "); ok {
			k, v, _ := strings.Cut(rest, " ")
			header[k] = v
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			t.Fatalf("line %q: want \"<conversation id> <token>\"", line)
		}
		if seen[f[0]] {
			t.Fatalf("conversation %s written twice", f[0])
		}
		seen[f[0]] = true
		convs = append(convs, conv{f[0], f[1]})
	}
	if len(convs) != 7 {
		t.Fatalf("%d conversations in the file, want 7:\n%s", len(convs), b)
	}
	want := map[string]string{
		"path": "/v1/conversations/{id}/messages",
		"body": `{"text":"42"}`,
		"want": "Good news! Order 42 is shipped and should arrive on 2026-12-01.",
	}
	for k, v := range want {
		if header[k] != v {
			t.Errorf("header %q = %q, want %q", k, header[k], v)
		}
	}

	send := func(c conv, token string) (int, string) {
		t.Helper()
		path := strings.Replace(header["path"], "{id}", c.id, 1)
		req, err := http.NewRequest(http.MethodPost, fb.URL+path, strings.NewReader(header["body"]))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	// Every conversation waits at its ask step and takes turn after turn.
	for round := 0; round < 2; round++ {
		for _, c := range convs {
			st, body := send(c, c.token)
			if st != http.StatusOK || !strings.Contains(body, header["want"]) {
				t.Fatalf("round %d, conversation %s: HTTP %d %s", round, c.id, st, body)
			}
		}
	}
	// A token belongs to its own conversation only.
	if st, body := send(convs[0], convs[1].token); st == http.StatusOK {
		t.Errorf("conversation %s answered with another conversation's token: %s", convs[0].id, body)
	}
}

func TestPrepareFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-token", testAdminToken},                                               // no -out
		{"-out", "x", "-token", ""},                                              // no token
		{"-out", "x", "-token", testAdminToken, "-conversations", "0"},           // nothing to write
		{"-out", "x", "-token", testAdminToken, "-url", "http://192.0.2.1:8080"}, // not loopback
	} {
		if _, err := parsePrepareFlags(args, io.Discard); err == nil {
			t.Errorf("%q: want an error", args)
		}
	}
	cfg, err := parsePrepareFlags([]string{"-out", "x", "-token", testAdminToken, "-url", "http://127.0.0.1:9/"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.base != "http://127.0.0.1:9" || cfg.conversations != 1024 {
		t.Errorf("got %+v", cfg)
	}
}
