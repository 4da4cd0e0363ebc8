package connections

import (
	"strings"
	"time"
)

// View is a connection as the API shows it: every secret replaced by
// Redacted, so it can be returned to designers and logged. Credentials holds
// the fields of the connection's type, e.g. {"header": "X-Api-Key",
// "value": "*****"} for api_key.
type View struct {
	ID              string         `json:"id"`
	Name            string         `json:"name"`
	Type            string         `json:"type"`
	AllowedDomain   string         `json:"allowed_domain"`
	AllowSubdomains bool           `json:"allow_subdomains"`
	Credentials     map[string]any `json:"credentials"`
	CreatedAt       time.Time      `json:"created_at"`
	UpdatedAt       time.Time      `json:"updated_at"`
	CreatedBy       string         `json:"created_by"`
	ExpiresAt       *time.Time     `json:"expires_at,omitempty"`
	// Status is the connection's health at the time of the view (see
	// Connection.Status); StatusMessage says it in words.
	Status        string   `json:"status"`
	StatusMessage string   `json:"status_message"`
	Refusal       *Refusal `json:"last_refusal,omitempty"`
}

// NewView returns the view of c at now. It reads only c.Public, never
// c.Sealed.
func NewView(c *Connection, now time.Time) View {
	p := c.Public
	creds := map[string]any{}
	switch c.Type {
	case TypeAPIKey:
		if q := p["query"]; q != "" {
			creds["query"] = q
		} else {
			creds["header"] = p["header"]
		}
		creds["value"] = Redacted
	case TypeBearer:
		creds["token"] = Redacted
	case TypeBasic:
		creds["username"] = p["username"]
		creds["password"] = Redacted
	case TypeOAuth2CC:
		creds["token_url"] = p["token_url"]
		creds["client_id"] = p["client_id"]
		creds["client_secret"] = Redacted
		scopes := []string{}
		if s := p["scopes"]; s != "" {
			scopes = strings.Split(s, " ")
		}
		creds["scopes"] = scopes
	}
	return View{
		ID:              c.ID,
		Name:            c.Name,
		Type:            c.Type,
		AllowedDomain:   c.AllowedDomain,
		AllowSubdomains: c.AllowSubdomains,
		Credentials:     creds,
		CreatedAt:       c.CreatedAt,
		UpdatedAt:       c.UpdatedAt,
		CreatedBy:       c.CreatedBy,
		ExpiresAt:       c.ExpiresAt,
		Status:          c.Status(now),
		StatusMessage:   c.StatusMessage(now),
		Refusal:         c.Refusal,
	}
}
