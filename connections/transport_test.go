package connections

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
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
		var big *ResponseHeaderTooLargeError
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
		var scheme *SchemeError
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
