package connections

import (
	"bytes"
	"context"
	"crypto/x509"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/flowbot/flowbot/flow"
)

// memStore is an in-memory Store for these tests; the bbolt store is tested
// in package store.
type memStore struct {
	mu    sync.Mutex
	conns map[string]*Connection
	check []byte
	gets  int // Connection calls
}

var _ Store = (*memStore)(nil)

func newMemStore() *memStore { return &memStore{conns: map[string]*Connection{}} }

func cloneConn(c *Connection) *Connection {
	d := *c
	d.Sealed = bytes.Clone(c.Sealed)
	d.Public = maps.Clone(c.Public)
	return &d
}

func (m *memStore) CreateConnection(_ context.Context, c *Connection) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.conns[c.Name]; ok {
		return flow.Errorf(flow.ECONFLICT, "connection %q exists", c.Name)
	}
	m.conns[c.Name] = cloneConn(c)
	return nil
}

func (m *memStore) Connection(_ context.Context, name string) (*Connection, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gets++
	c, ok := m.conns[name]
	if !ok {
		return nil, flow.Errorf(flow.ENOTFOUND, "connection %q not found", name)
	}
	return cloneConn(c), nil
}

func (m *memStore) Connections(context.Context) ([]*Connection, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := slices.Collect(maps.Keys(m.conns))
	sort.Strings(names)
	out := []*Connection{}
	for _, n := range names {
		out = append(out, cloneConn(m.conns[n]))
	}
	return out, nil
}

func (m *memStore) UpdateConnection(_ context.Context, c *Connection) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.conns[c.Name]
	if !ok {
		return flow.Errorf(flow.ENOTFOUND, "connection %q not found", c.Name)
	}
	old.Sealed = bytes.Clone(c.Sealed)
	old.Public = maps.Clone(c.Public)
	old.UpdatedAt = c.UpdatedAt
	return nil
}

func (m *memStore) DeleteConnection(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.conns[name]; !ok {
		return flow.Errorf(flow.ENOTFOUND, "connection %q not found", name)
	}
	delete(m.conns, name)
	return nil
}

func (m *memStore) KeyCheck(context.Context) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.check == nil {
		return nil, flow.Errorf(flow.ENOTFOUND, "no key check")
	}
	return bytes.Clone(m.check), nil
}

func (m *memStore) SetKeyCheck(_ context.Context, v []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.check = bytes.Clone(v)
	return nil
}

// testKey returns a fixed key filled with b.
func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func mustKeyring(t testing.TB, version, fill byte) *Keyring {
	t.Helper()
	kr, err := NewKeyring(version, testKey(fill))
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

func newTestService(t testing.TB) (*Service, *memStore, *clock) {
	t.Helper()
	st := newMemStore()
	clk := newClock()
	return &Service{Store: st, Keyring: mustKeyring(t, 1, 7), Now: clk.Now}, st, clk
}

func mustCreate(t testing.TB, s *Service, req NewConnection) *Connection {
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
	tr := NewGuardedTransport(true)
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
	return &http.Client{Transport: tr, CheckRedirect: RedirectPolicy(MaxRedirects), Timeout: 10 * time.Second}
}
