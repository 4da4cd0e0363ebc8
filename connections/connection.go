// Package connections keeps the named credentials api_call steps use:
// their types, encryption at rest, applying a credential to an outbound
// request only on its allowed domain, and the SSRF-guarded HTTP client every
// outbound call goes through.
package connections

import (
	"context"
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
	UpdatedAt time.Time         `json:"updated_at"`
	CreatedBy string            `json:"created_by"`
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
	// UpdateConnection replaces the stored Sealed, Public and UpdatedAt of
	// the connection named c.Name. Returns ENOTFOUND.
	UpdateConnection(ctx context.Context, c *Connection) error
	// DeleteConnection removes the named connection. Returns ENOTFOUND.
	DeleteConnection(ctx context.Context, name string) error
	// KeyCheck returns the stored check value of the secret key.
	// Returns ENOTFOUND if none was stored yet.
	KeyCheck(ctx context.Context) ([]byte, error)
	// SetKeyCheck stores the check value of the secret key.
	SetKeyCheck(ctx context.Context, v []byte) error
}
