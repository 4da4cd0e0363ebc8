package flow

import (
	"context"
	"time"
)

// Role is what an API key may do.
type Role string

// Roles. An admin can do everything a designer can.
const (
	RoleAdmin    Role = "admin"
	RoleDesigner Role = "designer"
)

// APIKey is a bearer token with a role. Only a hash of the token is kept.
type APIKey struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role Role   `json:"role"`
	// Prefix is the token's first characters, shown so people can tell keys apart.
	Prefix     string     `json:"prefix"`
	Hash       []byte     `json:"-"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	CreatedBy  string     `json:"created_by"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	// AllowedIPs are the addresses and ranges the key may be used from
	// (see AllowsAddr); empty allows any address, as do keys made before
	// there were any (nil).
	AllowedIPs []IPRange `json:"allowed_ips"`
}

// APIKeyStore keeps API keys.
type APIKeyStore interface {
	// CreateAPIKey stores k. Returns ECONFLICT if its ID exists.
	CreateAPIKey(ctx context.Context, k *APIKey) error
	// APIKeyByHash returns the key whose token hashes to hash.
	// Returns ENOTFOUND if there is none.
	APIKeyByHash(ctx context.Context, hash []byte) (*APIKey, error)
	// APIKeys lists every key, oldest first.
	APIKeys(ctx context.Context) ([]*APIKey, error)
	// DeleteAPIKey revokes a key. Returns ENOTFOUND.
	DeleteAPIKey(ctx context.Context, id string) error
	// TouchAPIKey records that the key was used at t. Returns ENOTFOUND.
	TouchAPIKey(ctx context.Context, id string, t time.Time) error
}

// AuditEvent records who did what to connections, API keys and
// publications. It never holds a secret.
type AuditEvent struct {
	ID     string            `json:"id"`
	At     time.Time         `json:"at"`
	Actor  string            `json:"actor"`
	Action string            `json:"action"`
	Target string            `json:"target"`
	Detail map[string]string `json:"detail,omitempty"`
}

// Audit actions.
const (
	AuditConnectionCreated = "connection.created"
	AuditConnectionRotated = "connection.rotated"
	// AuditConnectionExpiryChanged: a connection's expiry date changed
	// without new credentials.
	AuditConnectionExpiryChanged = "connection.expiry_changed"
	AuditConnectionDeleted       = "connection.deleted"
	AuditAPIKeyCreated           = "api_key.created"
	AuditAPIKeyRevoked           = "api_key.revoked"
	AuditBotPublished            = "bot.published"
	AuditBackupDownloaded        = "backup.downloaded"
	AuditConversationDeleted     = "conversation.deleted"
	AuditConversationsExported   = "conversations.exported"
)

// AuditStore keeps audit events.
type AuditStore interface {
	// AddAuditEvent stores e, setting its ID when empty.
	AddAuditEvent(ctx context.Context, e *AuditEvent) error
	// AuditEvents returns a page of events, newest first, and the total.
	AuditEvents(ctx context.Context, p Page) ([]*AuditEvent, int, error)
}

// ParseExpiresAt reads an expires_at value, as API keys and connections
// take it: an RFC 3339 time after now. When it is not one, it returns the
// problem's code (invalid_time or expired) and message.
func ParseExpiresAt(v string, now time.Time) (t time.Time, code, msg string) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, "invalid_time", "expires_at must be an RFC 3339 time such as 2027-01-31T00:00:00Z"
	}
	if !t.After(now) {
		return time.Time{}, "expired", "expires_at must be in the future"
	}
	return t.UTC(), "", ""
}
