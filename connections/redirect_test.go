package connections_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/flowbot/flowbot/connections"
)

func TestCheckURLScheme(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://api.example.com/x": true,
		"http://api.example.com/x":  false,
		"ftp://api.example.com/x":   false,
		"//api.example.com/x":       false,
		"https:///x":                false,
		"HTTPS://api.example.com/":  true, // url.Parse lower-cases the scheme
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		err = connections.CheckURLScheme(u)
		var se *connections.SchemeError
		if ok != (err == nil) || (!ok && !errors.As(err, &se)) {
			t.Errorf("%s: err = %v", raw, err)
		}
	}
}

func TestRedirectPolicy(t *testing.T) {
	other := &recorder{}
	api := http.NewServeMux()
	// /hop/N redirects to /hop/N-1 until /hop/0, which answers 200.
	api.HandleFunc("/hop/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		if n == 0 {
			io.WriteString(w, "done")
			return
		}
		http.Redirect(w, r, "/hop/"+strconv.Itoa(n-1), http.StatusFound)
	})
	api.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://other.example.com/stolen?x=1", http.StatusTemporaryRedirect)
	})
	api.HandleFunc("/sub", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://v2.api.example.com/", http.StatusFound)
	})
	api.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://api.example.com/hop/0", http.StatusFound)
	})
	api.HandleFunc("/port", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://api.example.com:8443/hop/0", http.StatusFound)
	})
	client := tlsHosts(t, map[string]http.Handler{"api.example.com": api, "other.example.com": other, "v2.api.example.com": other})
	s, _, _ := newTestService(t)
	mustCreate(t, s, connections.NewConnection{Name: "shop", Type: connections.TypeAPIKey, AllowedDomain: "example.com", AllowSubdomains: true,
		Credentials: connections.Credentials{Header: "X-Shop-Key", Value: "canary-key"}})

	get := func(path string) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "https://api.example.com"+path, nil)
		if err := s.Authorize(req.Context(), req, "shop"); err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if resp != nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return resp, err
	}
	refused := func(t *testing.T, err error, want string) {
		t.Helper()
		var re *connections.RedirectRefusedError
		if !errors.As(err, &re) || !strings.Contains(re.Reason, want) {
			t.Fatalf("err = %v, want a *RedirectRefusedError saying %q", err, want)
		}
		if strings.Contains(err.Error(), "canary-key") {
			t.Fatal("the error shows the credential")
		}
	}

	t.Run("OKThreeRedirects", func(t *testing.T) {
		resp, err := get("/hop/3")
		if err != nil || resp.StatusCode != 200 || resp.Request.URL.Path != "/hop/0" {
			t.Fatalf("resp = %v, err = %v", resp, err)
		}
	})
	t.Run("ErrFourthRedirect", func(t *testing.T) {
		_, err := get("/hop/4")
		refused(t, err, "more than 3 redirects")
	})
	t.Run("ErrOtherHost", func(t *testing.T) {
		_, err := get("/away")
		refused(t, err, "same host")
	})
	t.Run("ErrSubdomainEvenIfCredentialAllows", func(t *testing.T) {
		_, err := get("/sub")
		refused(t, err, "same host")
	})
	t.Run("ErrHTTP", func(t *testing.T) {
		_, err := get("/down")
		refused(t, err, "https")
	})
	t.Run("ErrOtherPort", func(t *testing.T) {
		_, err := get("/port")
		refused(t, err, "same host")
	})
	if n := other.count(); n != 0 {
		t.Fatalf("another host got %d requests", n)
	}
}
