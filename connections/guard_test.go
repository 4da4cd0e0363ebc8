package connections_test

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowbot/flowbot/connections"
)

func TestCheckIP(t *testing.T) {
	tests := []struct {
		ip      string
		blocked bool
		reason  string // part of the reason, when blocked
	}{
		{"8.8.8.8", false, ""},
		{"1.1.1.1", false, ""},
		{"93.184.216.34", false, ""},
		{"127.0.0.1", true, "loopback"},
		{"127.255.255.254", true, "loopback"},
		{"0.0.0.0", true, "unspecified"},
		{"0.1.2.3", true, "unspecified"},
		{"9.255.255.255", false, ""},
		{"10.0.0.0", true, "private"},
		{"10.255.255.255", true, "private"},
		{"11.0.0.0", false, ""},
		{"100.63.255.255", false, ""},
		{"100.64.0.0", true, "CGNAT"},
		{"100.127.255.255", true, "CGNAT"},
		{"100.128.0.0", false, ""},
		{"100.100.100.200", true, "metadata"},
		{"169.253.255.255", false, ""},
		{"169.254.0.1", true, "link-local"},
		{"169.254.169.254", true, "metadata"},
		{"169.255.0.0", false, ""},
		{"172.15.255.255", false, ""},
		{"172.16.0.0", true, "private"},
		{"172.31.255.255", true, "private"},
		{"172.32.0.0", false, ""},
		{"192.167.255.255", false, ""},
		{"192.168.0.0", true, "private"},
		{"192.168.255.255", true, "private"},
		{"192.169.0.0", false, ""},
		{"192.0.0.8", true, "reserved"},
		{"192.0.2.1", true, "documentation"},
		{"198.18.0.1", true, "benchmarking"},
		{"198.20.0.0", false, ""},
		{"203.0.113.9", true, "documentation"},
		{"224.0.0.1", true, "multicast"},
		{"239.255.255.255", true, "multicast"},
		{"240.0.0.1", true, "reserved"},
		{"255.255.255.255", true, "broadcast"},
		{"223.255.255.255", false, ""},
		// IPv6.
		{"2606:4700:4700::1111", false, ""},
		{"2001:4860:4860::8888", false, ""},
		{"::1", true, "loopback"},
		{"::", true, "unspecified"},
		{"fe80::1", true, "link-local"},
		{"fe80::1%eth0", true, "link-local"},
		{"febf:ffff::1", true, "link-local"},
		{"fc00::1", true, "unique local"},
		{"fd12:3456::1", true, "unique local"},
		{"fd00:ec2::254", true, "metadata"},
		{"ff02::1", true, "multicast"},
		{"2001:db8::1", true, "documentation"},
		{"2001::1", true, "Teredo"},
		{"2002:7f00:1::1", true, "6to4"},
		{"::127.0.0.1", true, "reserved"},
		{"64:ff9b:1::1", true, "reserved"},
		{"4000::1", true, "not IPv6 global unicast"},
		// IPv4-mapped and NAT64 forms.
		{"::ffff:127.0.0.1", true, "loopback (IPv4-mapped)"},
		{"::ffff:10.1.2.3", true, "private (IPv4-mapped)"},
		{"::ffff:169.254.169.254", true, "metadata"},
		{"::ffff:8.8.8.8", false, ""},
		{"64:ff9b::7f00:1", true, "loopback (NAT64)"},
		{"64:ff9b::a9fe:a9fe", true, "metadata"},
		{"64:ff9b::c0a8:101", true, "private (NAT64)"},
		{"64:ff9b::808:808", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.ip, func(t *testing.T) {
			err := connections.CheckIP(netip.MustParseAddr(tc.ip))
			if !tc.blocked {
				if err != nil {
					t.Fatalf("CheckIP = %v, want allowed", err)
				}
				return
			}
			var be *connections.BlockedAddressError
			if !errors.As(err, &be) {
				t.Fatalf("CheckIP = %v, want *BlockedAddressError", err)
			}
			if !strings.Contains(be.Reason, tc.reason) {
				t.Fatalf("reason = %q, want it to contain %q", be.Reason, tc.reason)
			}
		})
	}
}

// countingListener accepts and closes connections on a raw TCP listener,
// counting them.
func countingListener(t *testing.T, network, addr string) (net.Listener, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	return ln, &n
}

// assertNoConnection proves that no connection reached ln before now: it
// connects once itself and waits until the listener has accepted exactly
// that one. Accepts are in order, so an earlier connection would have been
// counted first.
func assertNoConnection(t *testing.T, ln net.Listener, n *atomic.Int64) {
	t.Helper()
	c, err := net.Dial(ln.Addr().Network(), ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for n.Load() < 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := n.Load(); got != 1 {
		t.Fatalf("listener accepted %d connections, want only the sentinel (1)", got)
	}
}

func TestGuardedTransportBlocks(t *testing.T) {
	ln4, n4 := countingListener(t, "tcp4", "127.0.0.1:0")
	_, port4, _ := net.SplitHostPort(ln4.Addr().String())
	client := &http.Client{Transport: connections.NewGuardedTransport(false), Timeout: 5 * time.Second}
	defer client.Transport.(*connections.Transport).CloseIdleConnections()

	urls := []struct {
		url      string
		mustDial bool // a *BlockedAddressError is required (the URL is valid)
	}{
		{"https://127.0.0.1:" + port4 + "/", true},
		{"https://localhost:" + port4 + "/", true},
		{"https://169.254.169.254/latest/meta-data/", true},
		{"https://[::ffff:127.0.0.1]:" + port4 + "/", true},
		{"https://[::ffff:7f00:1]:" + port4 + "/", true},
		{"https://2130706433:" + port4 + "/", false},
		{"https://0x7f000001:" + port4 + "/", false},
		{"https://0177.0.0.1:" + port4 + "/", false},
		{"https://127.1:" + port4 + "/", false},
	}
	for _, tc := range urls {
		t.Run(tc.url, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, tc.url, nil)
			if err != nil {
				t.Logf("refused by the URL parser: %v", err)
				return
			}
			resp, err := client.Do(req)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("request to %s succeeded", tc.url)
			}
			var be *connections.BlockedAddressError
			if tc.mustDial && !errors.As(err, &be) {
				t.Fatalf("err = %v, want a *BlockedAddressError", err)
			}
			t.Logf("refused: %v", err)
		})
	}
	assertNoConnection(t, ln4, n4)

	t.Run("IPv6Loopback", func(t *testing.T) {
		ln6, n6 := countingListener(t, "tcp6", "[::1]:0")
		_, port6, _ := net.SplitHostPort(ln6.Addr().String())
		_, err := client.Get("https://[::1]:" + port6 + "/")
		var be *connections.BlockedAddressError
		if !errors.As(err, &be) || be.Reason != "loopback" {
			t.Fatalf("err = %v, want a loopback *BlockedAddressError", err)
		}
		assertNoConnection(t, ln6, n6)
	})
}

func TestGuardedTransportAllowPrivate(t *testing.T) {
	var newConns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello "+r.Proto)
	}))
	srv.EnableHTTP2 = true
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			newConns.Add(1)
		}
	}
	srv.StartTLS()
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())

	t.Run("OK", func(t *testing.T) {
		tr := connections.NewGuardedTransport(true)
		defer tr.CloseIdleConnections()
		tr.TLSClientConfig.RootCAs = pool
		client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
		for range 3 {
			resp, err := client.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			// The server offers HTTP/2; the transport speaks HTTP/1.1.
			if string(b) != "hello HTTP/1.1" {
				t.Fatalf("body = %q, want HTTP/1.1", b)
			}
		}
		if n := newConns.Load(); n != 1 {
			t.Fatalf("%d connections for 3 requests, want 1 (reuse)", n)
		}
	})
	t.Run("ErrWithoutAllowPrivate", func(t *testing.T) {
		tr := connections.NewGuardedTransport(false)
		tr.TLSClientConfig.RootCAs = pool
		_, err := (&http.Client{Transport: tr}).Get(srv.URL)
		var be *connections.BlockedAddressError
		if !errors.As(err, &be) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrMetadataEvenWhenPrivateAllowed", func(t *testing.T) {
		for _, host := range []string{"169.254.169.254", "169.254.170.2", "169.254.170.23", "192.0.0.192",
			"100.100.100.200", "[fd00:ec2::254]", "[fd00:ec2::23]", "[::ffff:169.254.170.2]"} {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+host+"/", nil)
			_, err := (&http.Client{Transport: connections.NewGuardedTransport(true)}).Do(req)
			cancel()
			var be *connections.BlockedAddressError
			if !errors.As(err, &be) || !strings.HasPrefix(be.Reason, "cloud metadata") {
				t.Fatalf("%s: err = %v", host, err)
			}
		}
	})
}
