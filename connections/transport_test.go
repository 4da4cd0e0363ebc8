package connections_test

import (
	"compress/gzip"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowbot/flowbot/connections"
)

// TestTransport covers what connections.Transport does in place of
// http.Transport: the request as sent, the answer as handed back, gzip,
// limits and deadlines. The server is a real TLS server on loopback
// (tlsHosts).
func TestTransport(t *testing.T) {
	t.Parallel()
	client := tlsHosts(t, map[string]http.Handler{"api.example.com": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case strings.HasPrefix(p, "/echo"):
			b, _ := io.ReadAll(r.Body)
			w.Header().Add("Set-Cookie", "a=1")
			w.Header().Add("Set-Cookie", "b=2")
			w.Header().Set("X-Got", r.Method+" "+r.URL.RawPath+" "+r.URL.RawQuery+" "+r.Header.Get("X-Custom")+" "+r.Header.Get("Content-Length")+" "+r.Proto)
			io.WriteString(w, string(b))
		case p == "/gzip":
			w.Header().Set("X-Accept-Encoding", r.Header.Get("Accept-Encoding"))
			if r.Header.Get("Accept-Encoding") != "gzip" {
				io.WriteString(w, "plain")
				return
			}
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			io.WriteString(zw, "unzipped")
			zw.Close()
		case p == "/teapot":
			w.WriteHeader(http.StatusTeapot)
		case p == "/slow":
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
		default:
			// /pad/N: one header of N bytes.
			n := len(strings.TrimPrefix(r.URL.Path, "/pad/"))
			w.Header().Set("X-Pad", strings.Repeat("p", n*1024))
			io.WriteString(w, "ok")
		}
	})})
	do := func(t *testing.T, req *http.Request) (*http.Response, string, error) {
		t.Helper()
		resp, err := client.Do(req)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, string(b), err
	}
	get := func(t *testing.T, url string) (*http.Response, string, error) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		return do(t, req)
	}

	t.Run("OKRequestAsGiven", func(t *testing.T) {
		// An escaped slash stays escaped: it is one path segment.
		req, _ := http.NewRequest(http.MethodPost, "https://api.example.com/echo/a%2Fb?q=1%262", strings.NewReader(`{"x":1}`))
		req.Header.Set("X-Custom", "yes")
		resp, body, err := do(t, req)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := resp.Header.Get("X-Got"), "POST /echo/a%2Fb q=1%262 yes 7 HTTP/1.1"; got != want || body != `{"x":1}` {
			t.Errorf("server saw %q, body %q; want %q", got, body, want)
		}
		if c := resp.Header.Values("Set-Cookie"); len(c) != 2 || resp.Status != "200 OK" || resp.ContentLength != 7 {
			t.Errorf("cookies %q, status %q, length %d", c, resp.Status, resp.ContentLength)
		}
	})
	t.Run("OKGzipUndone", func(t *testing.T) {
		resp, body, err := get(t, "https://api.example.com/gzip")
		if err != nil {
			t.Fatal(err)
		}
		if body != "unzipped" || !resp.Uncompressed || resp.Header.Get("Content-Encoding") != "" || resp.ContentLength != -1 {
			t.Errorf("body %q, uncompressed %t, encoding %q, length %d", body, resp.Uncompressed, resp.Header.Get("Content-Encoding"), resp.ContentLength)
		}
	})
	t.Run("OKEncodingTheCallerChose", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/gzip", nil)
		req.Header.Set("Accept-Encoding", "identity")
		resp, body, err := do(t, req)
		if err != nil || body != "plain" || resp.Header.Get("X-Accept-Encoding") != "identity" || resp.Uncompressed {
			t.Errorf("body %q, server saw %q, err %v", body, resp.Header.Get("X-Accept-Encoding"), err)
		}
	})
	t.Run("OKStatusText", func(t *testing.T) {
		resp, _, err := get(t, "https://api.example.com/teapot")
		if err != nil || resp.Status != "418 I'm a teapot" {
			t.Fatalf("status %q, err %v", resp.Status, err)
		}
	})
	t.Run("OKHeaders15KiB", func(t *testing.T) {
		resp, body, err := get(t, "https://api.example.com/pad/"+strings.Repeat("x", 15))
		if err != nil || body != "ok" || len(resp.Header.Get("X-Pad")) != 15<<10 {
			t.Fatalf("body %q, err %v", body, err)
		}
	})
	t.Run("ErrHeadersOver16KiB", func(t *testing.T) {
		_, _, err := get(t, "https://api.example.com/pad/"+strings.Repeat("x", 17))
		var big *connections.ResponseHeaderTooLargeError
		if !errors.As(err, &big) || !strings.Contains(err.Error(), "over 16 KiB") {
			t.Fatalf("err = %v; want a *ResponseHeaderTooLargeError", err)
		}
		// The connection is not reused in a bad state: the next call works.
		if _, body, err := get(t, "https://api.example.com/pad/x"); err != nil || body != "ok" {
			t.Fatalf("next call: %q, %v", body, err)
		}
	})
	t.Run("ErrDeadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://api.example.com/slow", nil)
		t0 := time.Now()
		_, _, err := do(t, req)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(t0) > 2*time.Second {
			t.Fatalf("err %v after %v; want the deadline, at once", err, time.Since(t0))
		}
	})
	t.Run("ErrCancelledBeforeSending", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://api.example.com/echo", nil)
		if _, _, err := do(t, req); !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v; want context.Canceled", err)
		}
	})
	t.Run("ErrNotHTTPS", func(t *testing.T) {
		_, err := client.Transport.RoundTrip(&http.Request{Method: "GET", URL: mustURL(t, "http://api.example.com/echo"), Header: http.Header{}})
		var scheme *connections.SchemeError
		if !errors.As(err, &scheme) {
			t.Fatalf("err %v; want a *SchemeError", err)
		}
	})
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// idleServer is a TLS server on loopback that closes connections idle for
// idle, counting the connections and requests it got, and a client whose
// guarded transport dials it for every host name.
func idleServer(t *testing.T, idle time.Duration, h http.HandlerFunc) (*http.Client, *atomic.Int32, *atomic.Int32) {
	t.Helper()
	var conns, reqs atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqs.Add(1)
		h(w, r)
	}))
	srv.Config.IdleTimeout = idle
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	tr := connections.NewGuardedTransport(true)
	tr.TLSClientConfig.RootCAs = pool
	dial, addr := tr.DialContext, srv.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) { return dial(ctx, network, addr) }
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}, &conns, &reqs
}

// TestTransportKeepAlive: a request never fails, and is never sent twice,
// because a kept-alive connection went stale; and a request that may have
// reached the server is not repeated.
func TestTransportKeepAlive(t *testing.T) {
	t.Parallel()
	call := func(t *testing.T, c *http.Client, method, url string) error {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader(`{}`))
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		return err
	}
	t.Run("OKPostAfterTheServerClosedIdleConnection", func(t *testing.T) {
		c, conns, reqs := idleServer(t, 100*time.Millisecond, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
		for i := range 3 {
			if err := call(t, c, http.MethodPost, "https://api.example.com/x"); err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
			time.Sleep(400 * time.Millisecond) // past the server's idle timeout and staleAfter
		}
		if conns.Load() != 3 || reqs.Load() != 3 {
			t.Errorf("%d connections, %d requests; want 3 and 3", conns.Load(), reqs.Load())
		}
	})
	t.Run("OKAfterABurstLeftManyStaleConnections", func(t *testing.T) {
		c, _, reqs := idleServer(t, 100*time.Millisecond, func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(50 * time.Millisecond)
			io.WriteString(w, "ok")
		})
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() {
				if err := call(t, c, http.MethodPost, "https://api.example.com/x"); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		time.Sleep(400 * time.Millisecond)
		if err := call(t, c, http.MethodPost, "https://api.example.com/x"); err != nil {
			t.Fatalf("call after the idle spell: %v", err)
		}
		if reqs.Load() != 7 {
			t.Errorf("%d requests; want 7", reqs.Load())
		}
	})
	t.Run("OKBusyConnectionReused", func(t *testing.T) {
		c, conns, _ := idleServer(t, time.Minute, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
		for range 5 {
			if err := call(t, c, http.MethodGet, "https://api.example.com/x"); err != nil {
				t.Fatal(err)
			}
		}
		if conns.Load() != 1 {
			t.Errorf("%d connections for 5 calls in a row; want 1", conns.Load())
		}
	})
	t.Run("ErrClosedMidRequestNotRepeated", func(t *testing.T) {
		c, _, reqs := idleServer(t, time.Minute, func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		})
		for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete} {
			before := reqs.Load()
			if err := call(t, c, m, "https://api.example.com/x"); err == nil {
				t.Fatalf("%s: no error", m)
			}
			if n := reqs.Load() - before; n != 1 {
				t.Errorf("%s: the server got the request %d times; want 1", m, n)
			}
		}
	})
}

// TestTransportHeadersAsSent: no header is invented on either side, and
// the framing is not left among the answer's headers.
func TestTransportHeadersAsSent(t *testing.T) {
	t.Parallel()
	c, _, _ := idleServer(t, time.Minute, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/none":
			w.Header()["Content-Type"] = nil // no Content-Type at all
			w.Header().Set("X-Request-Content-Type", r.Header.Get("Content-Type")+"|")
			io.WriteString(w, "abc")
		case "/chunked":
			io.WriteString(w, "{")
			w.(http.Flusher).Flush()
			io.WriteString(w, "}")
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		}
	})
	do := func(method, path string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "https://api.example.com"+path, strings.NewReader("x"))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := do(http.MethodPost, "/none")
	if ct, ok := resp.Header["Content-Type"]; ok || body != "abc" || resp.Header.Get("X-Request-Content-Type") != "|" {
		t.Errorf("answer Content-Type %q (present %t), request Content-Type %q", ct, ok, resp.Header.Get("X-Request-Content-Type"))
	}
	resp, body = do(http.MethodGet, "/chunked")
	if body != "{}" || resp.Header.Get("Transfer-Encoding") != "" || len(resp.TransferEncoding) != 1 || resp.ContentLength != -1 {
		t.Errorf("chunked: body %q, header %q, TransferEncoding %q, length %d", body, resp.Header.Get("Transfer-Encoding"), resp.TransferEncoding, resp.ContentLength)
	}
	resp, body = do(http.MethodGet, "/204")
	if resp.StatusCode != 204 || resp.ContentLength != 0 || body != "" {
		t.Errorf("204: status %d, length %d, body %q", resp.StatusCode, resp.ContentLength, body)
	}
}
