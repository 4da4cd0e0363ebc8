// Package connections keeps the named credentials api_call steps use:
// their types, encryption at rest, applying a credential to an outbound
// request only on its allowed domain, and the SSRF-guarded HTTP client every
// outbound call goes through.
package connections

import (
	"context"
	"strconv"
	"time"
)

// Connection types (SPEC §5).
const (
	TypeAPIKey   = "api_key"
	TypeBearer   = "bearer"
	TypeBasic    = "basic"
	TypeOAuth2CC = "oauth2_client_credentials"
)

// Types lists every connection type.
var Types = []string{TypeAPIKey, TypeBearer, TypeBasic, TypeOAuth2CC}

// Connection is a named credential made by an admin. Name, Type and
// AllowedDomain never change after creation; the credentials can be
// replaced (rotated).
type Connection struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	Type            string `json:"type"`
	AllowedDomain   string `json:"allowed_domain"`
	AllowSubdomains bool   `json:"allow_subdomains"`
	// Sealed is the encrypted Credentials (see Keyring.Seal), with the
	// connection's ID as associated data. Never serialised to clients.
	Sealed []byte `json:"-"`
	// Public holds the non-secret parts of the credentials (header name,
	// username, token URL, client id, scopes) so they can be shown.
	Public    map[string]string `json:"-"`
	CreatedAt time.Time         `json:"created_at"`
	// UpdatedAt is when the credentials were last set: their version.
	UpdatedAt time.Time `json:"updated_at"`
	CreatedBy string    `json:"created_by"`
	// ExpiresAt is when the credentials stop working as far as the admin
	// knows (an API key's expiry date); nil when unknown. flowbot warns
	// before and after it but keeps sending them: the API decides.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// Refusal is the last time an API, or the OAuth token endpoint,
	// refused these credentials; nil when it has not happened since they
	// were set, or a call through them has succeeded since.
	Refusal *Refusal `json:"refusal,omitempty"`
}

// Refusal records an API refusing a connection's credentials.
type Refusal struct {
	At time.Time `json:"at"`
	// Status is the HTTP status of the refusal: the API's 401 or 403, or
	// the token endpoint's 400, 401 or 403 for an OAuth connection.
	Status int `json:"status"`
	// Host is the host that refused them.
	Host string `json:"host"`
	// Message says what happened; it never holds a secret.
	Message string `json:"message"`
}

// Connection statuses, from the most to the least pressing (see Status).
const (
	StatusExpired  = "expired"
	StatusRefused  = "refused"
	StatusExpiring = "expiring"
	StatusOK       = "ok"
)

// ExpiringWithin is how long before its ExpiresAt a connection shows as
// expiring.
const ExpiringWithin = 7 * 24 * time.Hour

// Status is the connection's health at now: expired (ExpiresAt is past),
// refused (an API refused the credentials and none has accepted them
// since), expiring (ExpiresAt is within ExpiringWithin) or ok.
func (c *Connection) Status(now time.Time) string {
	switch {
	case c.ExpiresAt != nil && !now.Before(*c.ExpiresAt):
		return StatusExpired
	case c.Refusal != nil:
		return StatusRefused
	case c.ExpiresAt != nil && c.ExpiresAt.Sub(now) <= ExpiringWithin:
		return StatusExpiring
	}
	return StatusOK
}

// StatusMessage says the connection's Status at now in words, for admins
// and in validation warnings: what is wrong, since when, and what to do.
func (c *Connection) StatusMessage(now time.Time) string {
	switch c.Status(now) {
	case StatusExpired:
		return "its credentials expired on " + day(*c.ExpiresAt) + "; an admin rotates them (or corrects the expiry date)"
	case StatusRefused:
		return "its credentials were refused on " + day(c.Refusal.At) + ": " + c.Refusal.Message + "; an admin checks or rotates them"
	case StatusExpiring:
		return "its credentials expire on " + day(*c.ExpiresAt) + " (" + inDays(c.ExpiresAt.Sub(now)) + "); an admin rotates them before then"
	}
	if c.ExpiresAt != nil {
		return "working; its credentials expire on " + day(*c.ExpiresAt)
	}
	return "working"
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// inDays says d as "in 3 days", "in 1 day" or "in 5 hours" (whole hours
// under a day, the nearest day above).
func inDays(d time.Duration) string {
	if d < 24*time.Hour {
		switch h := int(d.Hours()); h {
		case 0:
			return "within the hour"
		case 1:
			return "in 1 hour"
		default:
			return "in " + strconv.Itoa(h) + " hours"
		}
	}
	n := int((d + 12*time.Hour) / (24 * time.Hour)) // to the nearest day
	if n == 1 {
		return "in 1 day"
	}
	return "in " + strconv.Itoa(n) + " days"
}

// Credentials are a connection's secrets in clear. Which fields are used
// depends on the type: api_key {Header, Value}, bearer {Token}, basic
// {Username, Password}, oauth2_client_credentials {TokenURL, ClientID,
// ClientSecret, Scopes}.
type Credentials struct {
	// Header or Query: where an api_key goes, a request header or a query
	// parameter (for APIs such as ?key=… or ?appid=…). Exactly one.
	Header       string   `json:"header,omitempty"`
	Query        string   `json:"query,omitempty"`
	Value        string   `json:"value,omitempty"`
	Token        string   `json:"token,omitempty"`
	Username     string   `json:"username,omitempty"`
	Password     string   `json:"password,omitempty"`
	TokenURL     string   `json:"token_url,omitempty"`
	ClientID     string   `json:"client_id,omitempty"`
	ClientSecret string   `json:"client_secret,omitempty"`
	Scopes       []string `json:"scopes,omitempty"`
}

// Store keeps connections. Every write is on disk before it returns.
type Store interface {
	// CreateConnection stores c. Returns ECONFLICT if the name is taken.
	CreateConnection(ctx context.Context, c *Connection) error
	// Connection returns the named connection. Returns ENOTFOUND.
	Connection(ctx context.Context, name string) (*Connection, error)
	// Connections lists every connection by name.
	Connections(ctx context.Context) ([]*Connection, error)
	// UpdateConnection replaces the stored Sealed, Public, ExpiresAt and
	// UpdatedAt of the connection named c.Name, and sets c.Refusal to the
	// stored one: kept while UpdatedAt (the credentials' version) stays,
	// cleared when it changes. read is the UpdatedAt c was read with;
	// when the stored one differs it writes nothing and returns
	// ECONFLICT. Returns ENOTFOUND.
	UpdateConnection(ctx context.Context, c *Connection, read time.Time) error
	// SetConnectionRefusal sets (or, with nil, clears) the Refusal of the
	// connection named name, only while its UpdatedAt is still version: a
	// report about credentials since replaced is dropped. Returns
	// ENOTFOUND.
	SetConnectionRefusal(ctx context.Context, name string, version time.Time, r *Refusal) error
	// DeleteConnection removes the named connection. Returns ENOTFOUND.
	DeleteConnection(ctx context.Context, name string) error
	// KeyCheck returns the stored check value of the secret key.
	// Returns ENOTFOUND if none was stored yet.
	KeyCheck(ctx context.Context) ([]byte, error)
	// SetKeyCheck stores the check value of the secret key.
	SetKeyCheck(ctx context.Context, v []byte) error
}
