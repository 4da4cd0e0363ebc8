package connections

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// MaxRedirects is how many redirects an api_call follows (SPEC §3 rule 13).
const MaxRedirects = 3

// SchemeError is returned for an outbound URL that is not https.
type SchemeError struct {
	Scheme string
}

// Error implements error.
func (e *SchemeError) Error() string {
	if e.Scheme == "" {
		return "the URL has no scheme: only https URLs can be called"
	}
	return fmt.Sprintf("the URL scheme is %s: only https URLs can be called", e.Scheme)
}

// CheckURLScheme returns a *SchemeError unless u is an https URL with a
// host. Only https is allowed for outbound calls.
func CheckURLScheme(u *url.URL) error {
	if u == nil || u.Scheme != "https" {
		s := ""
		if u != nil {
			s = u.Scheme
		}
		return &SchemeError{Scheme: s}
	}
	if u.Host == "" {
		return &SchemeError{Scheme: "https without a host"}
	}
	return nil
}

// RedirectRefusedError is returned when a redirect is not followed.
type RedirectRefusedError struct {
	// Location is the refused target, "" when not relevant.
	Location string
	// Reason says why it was refused.
	Reason string
}

// Error implements error.
func (e *RedirectRefusedError) Error() string {
	if e.Location == "" {
		return "redirect refused: " + e.Reason
	}
	return fmt.Sprintf("redirect to %s refused: %s", e.Location, e.Reason)
}

// RedirectPolicy returns an http.Client CheckRedirect function that follows
// at most maxRedirects redirects, only to https URLs on the same host and
// port as the original request, so credentials never go to another host.
// Anything else fails with a *RedirectRefusedError.
func RedirectPolicy(maxRedirects int) func(req *http.Request, via []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) == 0 {
			return nil
		}
		orig := via[0].URL
		loc := req.URL.Redacted()
		if len(via) > maxRedirects {
			return &RedirectRefusedError{Location: loc, Reason: "more than " + strconv.Itoa(maxRedirects) + " redirects"}
		}
		if req.URL.Scheme != "https" {
			return &RedirectRefusedError{Location: loc, Reason: "only https redirects are followed"}
		}
		if !sameHost(orig, req.URL) {
			return &RedirectRefusedError{Location: loc, Reason: "redirects are followed only on the same host (" + orig.Host + ")"}
		}
		return nil
	}
}

// sameHost compares canonical host names and effective ports.
func sameHost(a, b *url.URL) bool {
	ha, errA := CanonicalHost(a.Hostname())
	hb, errB := CanonicalHost(b.Hostname())
	if errA != nil || errB != nil {
		// IPv6 literals are not host names: compare them as written.
		ha, hb = a.Hostname(), b.Hostname()
	}
	return ha == hb && port(a) == port(b)
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch u.Scheme {
	case "http":
		return "80"
	default:
		return "443"
	}
}
