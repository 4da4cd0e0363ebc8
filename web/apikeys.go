package web

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/flowbot/flowbot/flow"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
)

// keyTouchInterval limits last-used writes to one per key per interval, so
// authentication does not cost an fsync on every request.
const keyTouchInterval = time.Minute

func (s *Server) touchKey(id string, last *time.Time, now time.Time) {
	if last != nil && now.Sub(*last) < keyTouchInterval {
		return
	}
	if err := s.Keys.TouchAPIKey(contextBackground(), id, now); err != nil && flow.ErrorCode(err) != flow.ENOTFOUND {
		s.log.Warn("could not record api key use", "key_id", id, "err", err.Error())
	}
}

func (s *Server) registerAPIKeys() {
	s.handle(http.MethodPost, "/v1/api-keys", Admin, s.createAPIKey)
	s.handle(http.MethodGet, "/v1/api-keys", Admin, s.listAPIKeys)
	s.handle(http.MethodDelete, "/v1/api-keys/:id", Admin, s.deleteAPIKey)
}

type createAPIKeyRequest struct {
	Name string    `json:"name" validate:"required,max=100"`
	Role flow.Role `json:"role" validate:"required,oneof=admin designer"`
	// ExpiresAt is RFC 3339; parsed by the handler so a bad value is
	// reported at /expires_at.
	ExpiresAt *string `json:"expires_at"`
	// AllowedIPs are addresses or CIDR ranges (flow.ParseAllowedIPs);
	// empty or absent: any address.
	AllowedIPs []string `json:"allowed_ips"`
}

type createdAPIKey struct {
	*flow.APIKey
	// Token is shown once, here.
	Token string `json:"token"`
}

func (s *Server) createAPIKey(c echo.Context) error {
	var req createAPIKeyRequest
	if err := decodeJSON(c, &req, "id", "prefix", "created_at", "created_by", "last_used_at", "token"); err != nil {
		return err
	}
	if err := s.validate(&req); err != nil {
		return err
	}
	now := s.Now().UTC()
	var expires *time.Time
	if req.ExpiresAt != nil {
		t, code, msg := flow.ParseExpiresAt(*req.ExpiresAt, now)
		if code != "" {
			return ruleError("/expires_at", code, msg)
		}
		expires = &t
	}
	ips, problems := flow.ParseAllowedIPs(req.AllowedIPs)
	if len(problems) > 0 {
		msg := problems[0].Message
		if len(problems) > 1 {
			msg = fmt.Sprintf("/allowed_ips has %d problems; the first: %s", len(problems), msg)
		}
		return problemsError(msg, problems)
	}
	tok := NewToken(apiKeyPrefix)
	k := &flow.APIKey{
		ID: uuid.NewString(), Name: req.Name, Role: req.Role, Prefix: tok[:len(apiKeyPrefix)+6],
		Hash: hashToken(tok), ExpiresAt: expires, AllowedIPs: ips, CreatedAt: now, CreatedBy: actor(c),
	}
	if err := s.Keys.CreateAPIKey(c.Request().Context(), k); err != nil {
		return err
	}
	detail := map[string]string{"name": k.Name, "role": string(k.Role)}
	if len(ips) > 0 {
		detail["allowed_ips"] = joinRanges(ips)
	}
	s.audit(c, flow.AuditAPIKeyCreated, k.ID, detail)
	return c.JSON(http.StatusCreated, createdAPIKey{APIKey: k, Token: tok})
}

func (s *Server) listAPIKeys(c echo.Context) error {
	keys, err := s.Keys.APIKeys(c.Request().Context())
	if err != nil {
		return err
	}
	if keys == nil {
		keys = []*flow.APIKey{}
	}
	for _, k := range keys {
		// A key stored before keys had allowed_ips has none (nil): any
		// address, shown as [] like every unrestricted key.
		if k.AllowedIPs == nil {
			k.AllowedIPs = []flow.IPRange{}
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"items": keys})
}

// joinRanges lists ranges for an audit event's detail.
func joinRanges(rs []flow.IPRange) string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	return strings.Join(out, ", ")
}

func (s *Server) deleteAPIKey(c echo.Context) error {
	id := c.Param("id")
	if err := s.Keys.DeleteAPIKey(c.Request().Context(), id); err != nil {
		return err
	}
	s.audit(c, flow.AuditAPIKeyRevoked, id, nil)
	return c.NoContent(http.StatusNoContent)
}
