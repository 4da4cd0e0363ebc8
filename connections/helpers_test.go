package connections_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/flowbot/flowbot/connections"
	"github.com/flowbot/flowbot/store"
)

// These tests are in package connections_test because they use the real
// store, and package store imports package connections.

// mustOpenStore opens a real bbolt store in a temp folder, closed when the
// test ends.
func mustOpenStore(tb testing.TB) *store.DB {
	tb.Helper()
	db, err := store.Open(filepath.Join(tb.TempDir(), "flowbot.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Error(err)
		}
	})
	return db
}

// testKey returns a fixed key filled with b.
func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, connections.KeySize) }

func mustKeyring(t testing.TB, version, fill byte) *connections.Keyring {
	t.Helper()
	kr, err := connections.NewKeyring(version, testKey(fill))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newTestService returns a service on a real store in a temp folder; the
// store and the service share the clock.
func newTestService(t testing.TB) (*connections.Service, *store.DB, *clock) {
	t.Helper()
	st := mustOpenStore(t)
	clk := newClock()
	st.Now = clk.Now
	return &connections.Service{Store: st, Keyring: mustKeyring(t, 1, 7), Now: clk.Now}, st, clk
}

func mustCreate(t testing.TB, s *connections.Service, req connections.NewConnection) *connections.Connection {
	t.Helper()
	c, err := s.Create(context.Background(), "admin", req)
	if err != nil {
		t.Fatalf("Create(%s): %v", req.Name, err)
	}
	return c
}

// tlsHosts starts one httptest TLS server per host name and returns a
// client whose guarded transport (private networks allowed, as the servers
// are on loopback) dials each host name to its server and trusts the test
// certificate, which is valid for example.com and *.example.com.
func tlsHosts(t testing.TB, handlers map[string]http.Handler) *http.Client {
	t.Helper()
	addrs := map[string]string{}
	pool := x509.NewCertPool()
	for host, h := range handlers {
		srv := httptest.NewTLSServer(h)
		t.Cleanup(srv.Close)
		addrs[host] = srv.Listener.Addr().String()
		pool.AddCert(srv.Certificate())
	}
	tr := connections.NewGuardedTransport(true)
	tr.TLSClientConfig.RootCAs = pool
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, _ := net.SplitHostPort(addr)
		if a, ok := addrs[host]; ok {
			addr = a
		}
		return dial(ctx, network, addr)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, CheckRedirect: connections.RedirectPolicy(connections.MaxRedirects), Timeout: 10 * time.Second}
}
