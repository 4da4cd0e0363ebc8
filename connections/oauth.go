package connections

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// OAuth token fetching and caching for oauth2_client_credentials.
const (
	// tokenMargin is taken off a token's lifetime so it is never sent just
	// as it expires.
	tokenMargin = 60 * time.Second
	// defaultTokenTTL is used when the token endpoint gives no expires_in.
	defaultTokenTTL = 10 * time.Minute
	// tokenFetchTimeout bounds one fetch, whoever waits for it.
	tokenFetchTimeout = 30 * time.Second
	// maxTokenResponse caps the token endpoint's answer.
	maxTokenResponse = 64 << 10
)

// tokenEntry is a fetched, or being fetched, OAuth token. done is closed when
// the fetch ends; token, expires and err are set before that and read only
// after it. sealed names the credentials it was fetched with.
type tokenEntry struct {
	sealed  []byte
	done    chan struct{}
	token   string
	expires time.Time
	err     error
}

// usable reports whether the entry can serve a caller at now: a fetch in
// flight (to wait for), or a finished fetch with a token not yet expired.
func (e *tokenEntry) usable(now time.Time) bool {
	select {
	case <-e.done:
		return e.err == nil && now.Before(e.expires)
	default:
		return true
	}
}

// TokenError is returned when an OAuth token cannot be fetched. It never
// holds the client secret or a token.
type TokenError struct {
	Connection string // the connection's name
	Reason     string // what went wrong, fit to show
	Err        error  // the cause, if any
	// Status is the token endpoint's HTTP status when it answered with
	// an error; 0 when it did not answer or its answer was unusable.
	Status int
}

// Error implements error.
func (e *TokenError) Error() string {
	msg := fmt.Sprintf("connection %q: cannot get an OAuth token: %s", e.Connection, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the underlying error, such as a *BlockedAddressError.
func (e *TokenError) Unwrap() error { return e.Err }

// Invalidate drops the cached OAuth token of the named connection, so the
// next Authorize fetches a new one: call it once after a 401 and retry. A
// fetch already in flight is kept, as its token is fresh.
func (s *Service) Invalidate(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.tokens[name]; ok {
		select {
		case <-e.done:
			delete(s.tokens, name)
		default:
		}
	}
}

// token returns a valid token for c, fetching one when none is cached.
// Parallel callers share one fetch.
func (s *Service) token(ctx context.Context, c *Connection, creds Credentials) (string, error) {
	s.mu.Lock()
	e := s.tokens[c.Name]
	if e == nil || !bytes.Equal(e.sealed, c.Sealed) || !e.usable(s.now()) {
		e = &tokenEntry{sealed: c.Sealed, done: make(chan struct{})}
		if s.tokens == nil {
			s.tokens = map[string]*tokenEntry{}
		}
		s.tokens[c.Name] = e
		// The fetch runs apart from the caller's context so that one
		// caller giving up does not fail the others waiting for it; it is
		// bounded by tokenFetchTimeout.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tokenFetchTimeout)
		go func() {
			defer cancel()
			defer close(e.done)
			e.token, e.expires, e.err = s.fetchToken(fctx, c.Name, creds)
		}()
	}
	s.mu.Unlock()
	select {
	case <-e.done:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	if e.err != nil {
		return "", e.err
	}
	return e.token, nil
}

func (s *Service) tokenClient() *http.Client {
	base := s.Client
	if base == nil {
		s.clientOnce.Do(func() { s.defaultClient = NewGuardedClient(false) })
		base = s.defaultClient
	}
	c := *base
	// A token endpoint that redirects is not followed: the client secret
	// stays with the URL the admin entered.
	c.CheckRedirect = func(*http.Request, []*http.Request) error {
		return &RedirectRefusedError{Reason: "the token endpoint answered with a redirect"}
	}
	return &c
}

// tokenResponse is the token endpoint's answer (RFC 6749 §5.1, §5.2).
type tokenResponse struct {
	AccessToken string          `json:"access_token"`
	TokenType   string          `json:"token_type"`
	ExpiresIn   json.RawMessage `json:"expires_in"`
	Error       string          `json:"error"`
}

func (s *Service) fetchToken(ctx context.Context, name string, creds Credentials) (string, time.Time, error) {
	status := 0
	fail := func(reason string, err error) (string, time.Time, error) {
		return "", time.Time{}, &TokenError{Connection: name, Reason: reason, Err: err, Status: status}
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	if len(creds.Scopes) > 0 {
		form.Set("scope", strings.Join(creds.Scopes, " "))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, creds.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return fail("the token URL is not valid", nil)
	}
	if err := CheckURLScheme(req.URL); err != nil {
		return fail("the token URL is not valid", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	// RFC 6749 §2.3.1: id and secret are form-encoded before basic auth.
	req.SetBasicAuth(url.QueryEscape(creds.ClientID), url.QueryEscape(creds.ClientSecret))
	resp, err := s.tokenClient().Do(req)
	if err != nil {
		return fail("the token request to "+req.URL.Host+" failed", stripURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse+1))
	if err != nil {
		return fail("reading the token response failed", err)
	}
	if len(body) > maxTokenResponse {
		return fail("the token response is too large", nil)
	}
	var tr tokenResponse
	jsonErr := json.Unmarshal(body, &tr)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		status = resp.StatusCode
		reason := "the token endpoint answered " + strconv.Itoa(resp.StatusCode)
		if code := safeWord(tr.Error); code != "" {
			reason += " (" + code + ")"
		}
		return fail(reason, nil)
	}
	switch {
	case jsonErr != nil:
		return fail("the token response is not JSON", nil)
	case tr.AccessToken == "":
		return fail("the token response has no access_token", nil)
	case hasControl(tr.AccessToken):
		return fail("the access token contains control characters", nil)
	case tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "bearer"):
		return fail("the token type is not bearer", nil)
	}
	return tr.AccessToken, s.now().Add(tokenTTL(tr.ExpiresIn)), nil
}

// tokenTTL is how long a token is used: its expires_in (a number, or a
// number in a string, as some servers send) less a margin, but at least
// half its lifetime.
func tokenTTL(raw json.RawMessage) time.Duration {
	s := strings.Trim(string(raw), `"`)
	secs, err := strconv.ParseFloat(s, 64)
	if err != nil || secs <= 0 || secs > 366*24*3600 {
		return defaultTokenTTL
	}
	life := time.Duration(secs * float64(time.Second))
	ttl := life - tokenMargin
	if ttl < life/2 {
		ttl = life / 2
	}
	return ttl
}

// safeWord returns s when it is a short OAuth error code, else "".
func safeWord(s string) string {
	if len(s) == 0 || len(s) > 64 {
		return ""
	}
	for _, r := range s {
		if !(r == '_' || r == '-' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')) {
			return ""
		}
	}
	return s
}

// stripURLError unwraps a *url.Error so the message does not repeat the
// method and URL; the cause (and any *BlockedAddressError) is kept.
func stripURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
