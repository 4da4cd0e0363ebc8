package connections

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// HostNotAllowedError is returned by Authorize when a request's host is not
// the connection's allowed domain (or one of its subdomains where the
// connection allows them). The credential was not added.
type HostNotAllowedError struct {
	Connection      string // the connection's name
	Host            string // the refused host
	AllowedDomain   string // the connection's allowed domain
	AllowSubdomains bool   // whether its subdomains are allowed too
}

// Error implements error.
func (e *HostNotAllowedError) Error() string {
	scope := e.AllowedDomain
	if e.AllowSubdomains {
		scope += " and its subdomains"
	}
	return fmt.Sprintf("connection %q may only be sent to %s, not to %s", e.Connection, scope, e.Host)
}

// Authorize adds the credential of the named connection to req: the one
// code path the test call and the runtime share. It refuses, leaving req
// unchanged, unless req is an https request whose host is the connection's
// allowed domain (or a subdomain of it where allowed); the error is then a
// *HostNotAllowedError or *SchemeError. api_key sets the connection's header
// to the value as is, bearer sets "Authorization: Bearer", basic sets basic
// auth, and oauth2_client_credentials fetches (or reuses) a token from the
// token URL and sends it as a bearer token. Returns ENOTFOUND for an unknown
// connection. Error messages never contain a secret.
func (s *Service) Authorize(ctx context.Context, req *http.Request, name string) error {
	_, err := s.Apply(ctx, req, name)
	return err
}

// Apply is Authorize that also returns the connection it applied, so the
// caller can redact what was sent without looking the connection up again.
func (s *Service) Apply(ctx context.Context, req *http.Request, name string) (*Connection, error) {
	if err := CheckURLScheme(req.URL); err != nil {
		return nil, err
	}
	creds, c, err := s.Credentials(ctx, name)
	if err != nil {
		return nil, err
	}
	// req.Host, when set, is the Host header sent: one other than the URL's
	// would route the credential to another virtual host on the server.
	hosts := []string{req.URL.Hostname()}
	if req.Host != "" {
		hosts = append(hosts, req.Host)
	}
	for _, host := range hosts {
		if !HostAllowed(host, c.AllowedDomain, c.AllowSubdomains) {
			return nil, &HostNotAllowedError{Connection: c.Name, Host: host, AllowedDomain: c.AllowedDomain, AllowSubdomains: c.AllowSubdomains}
		}
	}
	var value string
	header := "Authorization"
	switch c.Type {
	case TypeAPIKey:
		if creds.Query != "" {
			return c, addQueryKey(req.URL, c.Name, creds.Query, creds.Value)
		}
		header, value = creds.Header, creds.Value
	case TypeBearer:
		value = "Bearer " + creds.Token
	case TypeBasic:
		value = "Basic " + base64.StdEncoding.EncodeToString([]byte(creds.Username+":"+creds.Password))
	case TypeOAuth2CC:
		tok, err := s.token(ctx, c, creds)
		if err != nil {
			s.noteTokenError(ctx, c, creds.TokenURL, err)
			return nil, err
		}
		value = "Bearer " + tok
	default:
		return nil, fmt.Errorf("connection %q has unknown type %q", c.Name, c.Type)
	}
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set(header, value)
	return c, nil
}

// QueryKeyConflictError is returned by Apply when the URL already has the
// query parameter an api_key connection puts its key in: the API would
// get two, and the one the designer typed could be a key in plain text.
type QueryKeyConflictError struct {
	// Connection is the connection's name, Param its query parameter.
	Connection, Param string
}

// Error implements error.
func (e *QueryKeyConflictError) Error() string {
	return fmt.Sprintf("the URL already has a query parameter %q, which connection %q sets; remove it from the URL", e.Param, e.Connection)
}

// addQueryKey appends name=value to u's query, the value query-encoded,
// leaving the rest of the query exactly as it was.
func addQueryKey(u *url.URL, conn, name, value string) error {
	// Any spelling an API might read as the same name: escaped, in
	// another case, or after a ";" (which some servers split on too).
	for _, pair := range strings.FieldsFunc(u.RawQuery, func(r rune) bool { return r == '&' || r == ';' }) {
		k, _, _ := strings.Cut(pair, "=")
		if k2, err := url.QueryUnescape(k); strings.EqualFold(k, name) || (err == nil && strings.EqualFold(k2, name)) {
			return &QueryKeyConflictError{Connection: conn, Param: name}
		}
	}
	if u.RawQuery != "" && !strings.HasSuffix(u.RawQuery, "&") {
		u.RawQuery += "&"
	}
	u.RawQuery += name + "=" + url.QueryEscape(value)
	return nil
}

// MaskQueryKey is rawURL as logs and the test call show it after an
// api_key went into its query parameter name: name=***** appended.
func MaskQueryKey(rawURL, name string) string {
	sep := "?"
	if i := strings.IndexByte(rawURL, '?'); i >= 0 {
		sep = "&"
		if i == len(rawURL)-1 || strings.HasSuffix(rawURL, "&") {
			sep = ""
		}
	}
	return rawURL + sep + name + "=" + Redacted
}
