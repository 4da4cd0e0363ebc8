package connections

import (
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/flowbot/flowbot/flow"
	"golang.org/x/net/http/httpguts"
)

// Limits on credential fields. Tokens such as JWTs are long, so a value may
// be far longer than an api_call header value (256 characters); the cap only
// keeps a request's headers within what servers accept.
const (
	// MaxSecretLen caps an api_key value, a token, a password or a client
	// secret, in bytes.
	MaxSecretLen = 8 << 10
	// MaxHeaderNameLen caps the header name of an api_key.
	MaxHeaderNameLen = 256
	// MaxNameFieldLen caps a username or client id.
	MaxNameFieldLen = 1024
	// MaxTokenURLLen caps an OAuth token URL.
	MaxTokenURLLen = 2048
	// MaxScopes caps the number of OAuth scopes.
	MaxScopes = 50
	// MaxScopeLen caps one OAuth scope.
	MaxScopeLen = 256
)

// Redacted replaces every secret shown to a client or written to a log.
const Redacted = "*****"

var nameRE = regexp.MustCompile(`^[a-z0-9_]{3,64}$`)

// forbiddenCredentialHeaders are headers an api_key connection may not set:
// they frame the message or manage the connection, so a credential there
// would break or smuggle requests.
var forbiddenCredentialHeaders = []string{
	"Host", "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive",
	"Proxy-Connection", "Te", "Trailer", "Upgrade", "Expect",
}

// NewConnection is the request to create a connection (POST /v1/connections).
type NewConnection struct {
	Name            string      `json:"name"`
	Type            string      `json:"type"`
	AllowedDomain   string      `json:"allowed_domain"`
	AllowSubdomains bool        `json:"allow_subdomains"`
	Credentials     Credentials `json:"credentials"`
	// ExpiresAt is an RFC 3339 time after now, when the credentials stop
	// working; optional.
	ExpiresAt *string `json:"expires_at,omitempty"`
}

// ValidateNew returns the problems of a request to create a connection, with
// JSON pointers into the request ("/name", "/credentials/token"). Messages
// never quote a credential value.
func ValidateNew(req NewConnection) flow.Problems {
	var ps flow.Problems
	switch {
	case req.Name == "":
		ps.Add("/name", "required", "name is required")
	case !nameRE.MatchString(req.Name):
		ps.Add("/name", "invalid_name", "name must be 3 to 64 characters: lower-case letters, digits and _")
	}
	typeOK := slices.Contains(Types, req.Type)
	switch {
	case req.Type == "":
		ps.Add("/type", "required", "type is required")
	case !typeOK:
		ps.Add("/type", "invalid_type", "type must be one of "+strings.Join(Types, ", "))
	}
	validateDomain(&ps, req.AllowedDomain, req.AllowSubdomains)
	if typeOK {
		ps = append(ps, ValidateCredentials(req.Type, req.Credentials)...)
	}
	return ps
}

func validateDomain(ps *flow.Problems, domain string, subdomains bool) {
	if strings.TrimSpace(domain) == "" {
		ps.Add("/allowed_domain", "required", "allowed_domain is required")
		return
	}
	h, err := CanonicalHost(domain)
	if err != nil {
		ps.Add("/allowed_domain", "invalid_domain", "allowed_domain must be a host name such as api.example.com, without scheme, port or path: "+err.Error())
		return
	}
	if subdomains && isPublicSuffix(h) {
		ps.Add("/allow_subdomains", "domain_too_broad", "allow_subdomains cannot be used with "+h+
			": it is a public suffix (like com, co.uk or github.io), under which anyone can register a domain; use your API's own domain, such as example.co.uk")
	}
}

// ValidateCredentials returns the problems of credentials for a connection
// of type typ, with pointers under "/credentials". Fields the type does not
// use must be empty.
func ValidateCredentials(typ string, c Credentials) flow.Problems {
	var ps flow.Problems
	used := map[string]bool{}
	field := func(name, v string, max int) {
		used[name] = true
		p := "/credentials/" + name
		switch {
		case v == "":
			ps.Add(p, "required", "credentials."+name+" is required for connection type "+typ)
		case len(v) > max:
			ps.Add(p, "too_long", "credentials."+name+" is longer than "+itoa(max)+" bytes")
		case hasControl(v):
			ps.Add(p, "invalid_characters", "credentials."+name+" must not contain control characters (CR, LF, NUL)")
		}
	}
	// A client that reads a connection and sends it back would otherwise
	// replace the real secret with the mask it was shown.
	for name, v := range map[string]string{"value": c.Value, "token": c.Token, "password": c.Password, "client_secret": c.ClientSecret} {
		if v == Redacted {
			ps.Add("/credentials/"+name, "redacted_placeholder", "credentials."+name+" is the mask "+Redacted+"; send the real secret (secrets are write-only and never shown)")
		}
	}
	switch typ {
	case TypeAPIKey:
		if c.Query != "" && c.Header == "" {
			used["query"] = true
			if !queryParamRE.MatchString(c.Query) {
				ps.Add("/credentials/query", "invalid_query_name", "credentials.query must be 1 to "+itoa(MaxQueryNameLen)+" letters, digits or -._~ (the query parameter the API reads the key from, e.g. key)")
			}
			field("value", c.Value, MaxSecretLen)
			break
		}
		if c.Query != "" {
			used["query"] = true
			ps.Add("/credentials/query", "header_and_query", "an api_key goes in a header or in a query parameter, not both: set credentials.header or credentials.query")
		}
		field("header", c.Header, MaxHeaderNameLen)
		if c.Header != "" && len(c.Header) <= MaxHeaderNameLen {
			switch {
			case !httpguts.ValidHeaderFieldName(c.Header):
				ps.Add("/credentials/header", "invalid_header_name", "credentials.header must be an HTTP header name (letters, digits and !#$%&'*+-.^_`|~)")
			case isForbiddenCredentialHeader(c.Header):
				ps.Add("/credentials/header", "forbidden_header", "credentials.header cannot be "+c.Header+": it frames the HTTP message")
			}
		}
		field("value", c.Value, MaxSecretLen)
	case TypeBearer:
		field("token", c.Token, MaxSecretLen)
		if len(c.Token) > 7 && strings.EqualFold(c.Token[:7], "bearer ") {
			// It would be sent as "Bearer Bearer …", which APIs refuse with a 401.
			ps.Add("/credentials/token", "bearer_prefix", "credentials.token starts with \"Bearer \": paste the token alone; flowbot sends Authorization: Bearer <token>")
		}
	case TypeBasic:
		field("username", c.Username, MaxNameFieldLen)
		if strings.Contains(c.Username, ":") {
			ps.Add("/credentials/username", "invalid_characters", "credentials.username must not contain a colon (RFC 7617)")
		}
		field("password", c.Password, MaxSecretLen)
	case TypeOAuth2CC:
		field("token_url", c.TokenURL, MaxTokenURLLen)
		if c.TokenURL != "" && len(c.TokenURL) <= MaxTokenURLLen {
			if msg := checkTokenURL(c.TokenURL); msg != "" {
				ps.Add("/credentials/token_url", "invalid_url", msg)
			}
		}
		field("client_id", c.ClientID, MaxNameFieldLen)
		field("client_secret", c.ClientSecret, MaxSecretLen)
		used["scopes"] = true
		validateScopes(&ps, c.Scopes)
	default:
		ps.Add("/type", "invalid_type", "type must be one of "+strings.Join(Types, ", "))
		return ps
	}
	for _, f := range credentialFields(c) {
		if !used[f] {
			ps.Add("/credentials/"+f, "field_not_allowed", "credentials."+f+" is not used by connection type "+typ)
		}
	}
	return ps
}

// credentialFields names the fields of c that are set.
func credentialFields(c Credentials) []string {
	var fs []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"header", c.Header != ""}, {"query", c.Query != ""}, {"value", c.Value != ""}, {"token", c.Token != ""},
		{"username", c.Username != ""}, {"password", c.Password != ""},
		{"token_url", c.TokenURL != ""}, {"client_id", c.ClientID != ""},
		{"client_secret", c.ClientSecret != ""}, {"scopes", len(c.Scopes) > 0},
	} {
		if f.set {
			fs = append(fs, f.name)
		}
	}
	return fs
}

func validateScopes(ps *flow.Problems, scopes []string) {
	if len(scopes) > MaxScopes {
		ps.Add("/credentials/scopes", "too_many", "credentials.scopes has more than "+itoa(MaxScopes)+" scopes")
		return
	}
	for i, s := range scopes {
		p := "/credentials/scopes/" + itoa(i)
		switch {
		case s == "":
			ps.Add(p, "required", "a scope must not be empty")
		case len(s) > MaxScopeLen:
			ps.Add(p, "too_long", "a scope is longer than "+itoa(MaxScopeLen)+" bytes")
		case !validScope(s):
			ps.Add(p, "invalid_scope", "a scope must be printable ASCII without spaces, quotes or backslashes (RFC 6749)")
		}
	}
}

// validScope reports whether s is a scope-token of RFC 6749 §3.3.
func validScope(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b < 0x21 || b > 0x7e || b == '"' || b == '\\' {
			return false
		}
	}
	return true
}

func checkTokenURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "":
		return "credentials.token_url must be an absolute https:// URL"
	case u.Scheme != "https":
		return "credentials.token_url must use https"
	case u.User != nil:
		return "credentials.token_url must not contain user-info"
	case u.Fragment != "" || strings.Contains(s, "#"):
		return "credentials.token_url must not contain a fragment"
	}
	if _, err := CanonicalHost(u.Hostname()); err != nil && !isIPLiteral(u.Hostname()) {
		return "credentials.token_url has an invalid host: " + err.Error()
	}
	return ""
}

func isForbiddenCredentialHeader(h string) bool {
	for _, f := range forbiddenCredentialHeaders {
		if strings.EqualFold(h, f) {
			return true
		}
	}
	return false
}

// hasControl reports whether s holds a byte that must never reach an HTTP
// header: CR, LF, NUL or another ASCII control character (tab is allowed).
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; (b < 0x20 && b != '\t') || b == 0x7f {
			return true
		}
	}
	return false
}

// normalize returns only the fields typ uses, so a sealed value never keeps
// stray fields.
func normalize(typ string, c Credentials) Credentials {
	switch typ {
	case TypeAPIKey:
		return Credentials{Header: c.Header, Query: c.Query, Value: c.Value}
	case TypeBearer:
		return Credentials{Token: c.Token}
	case TypeBasic:
		return Credentials{Username: c.Username, Password: c.Password}
	case TypeOAuth2CC:
		return Credentials{TokenURL: c.TokenURL, ClientID: c.ClientID, ClientSecret: c.ClientSecret, Scopes: slices.Clone(c.Scopes)}
	}
	return Credentials{}
}

// queryParamRE is a query parameter name an api_key may go in: unreserved
// characters (RFC 3986), so it is sent as typed.
var queryParamRE = regexp.MustCompile(`^[A-Za-z0-9._~-]{1,64}$`)

// MaxQueryNameLen is the longest query parameter name of an api_key.
const MaxQueryNameLen = 64

// Public returns the parts of c that are not secret and may be shown to
// designers: the header or query parameter name of an api_key, the username of basic, and the
// token URL, client id and scopes (space-separated) of
// oauth2_client_credentials. Set fields only.
func Public(c Credentials) map[string]string {
	m := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	set("header", c.Header)
	set("query", c.Query)
	set("username", c.Username)
	set("token_url", c.TokenURL)
	set("client_id", c.ClientID)
	set("scopes", strings.Join(c.Scopes, " "))
	return m
}

func itoa(i int) string { return strconv.Itoa(i) }

func isIPLiteral(h string) bool {
	_, err := netip.ParseAddr(h)
	return err == nil
}
