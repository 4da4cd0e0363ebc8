package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/netip"
	"strconv"
	"strings"

	"github.com/flowbot/flowbot/flow"
	"github.com/labstack/echo/v4"
)

// Principal is who made a request.
type Principal struct {
	// Kind is "api_key", "bootstrap" or "conversation".
	Kind string
	// ID is the API key id or conversation id.
	ID   string
	Name string
	Role flow.Role
}

const principalKey = "flowbot.principal"

// Token prefixes tell the kinds of bearer token apart.
const (
	apiKeyPrefix       = "fbk_"
	conversationPrefix = "fbc_"
)

// hashToken hashes a bearer token for storage and lookup. Tokens are 256
// random bits, so a fast hash is enough: there is nothing to brute-force.
func hashToken(tok string) []byte { return HashToken(tok) }

// HashToken hashes a bearer token for storage and lookup.
func HashToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// NewToken returns a fresh random bearer token with the given prefix.
func NewToken(prefix string) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func bearer(c echo.Context) string {
	h := c.Request().Header.Get(echo.HeaderAuthorization)
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// authenticate returns the middleware a route of the given access needs.
func (s *Server) authenticate(access Access) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if access == Public {
				return next(c)
			}
			tok := bearer(c)
			if tok == "" {
				return flow.Errorf(flow.EUNAUTHORIZED, "missing bearer token: send Authorization: Bearer <token>")
			}
			p, err := s.principal(c, tok)
			if err != nil {
				return err
			}
			if !allowed(p, access, c) {
				return flow.Errorf(flow.EFORBIDDEN, "this token may not call %s %s", c.Request().Method, c.Path())
			}
			c.Set(principalKey, p)
			return next(c)
		}
	}
}

func allowed(p *Principal, access Access, c echo.Context) bool {
	switch p.Kind {
	case "conversation":
		return (access == ConversationHolder || access == ConversationToken) && c.Param("id") == p.ID
	}
	switch access {
	case Admin:
		return p.Role == flow.RoleAdmin
	case Designer, ConversationHolder:
		return p.Role == flow.RoleAdmin || p.Role == flow.RoleDesigner
	}
	return false
}

// principal resolves a bearer token to who holds it.
func (s *Server) principal(c echo.Context, tok string) (*Principal, error) {
	h := hashToken(tok)
	if s.adminHash != nil && subtle.ConstantTimeCompare(h, s.adminHash) == 1 {
		return &Principal{Kind: "bootstrap", ID: "bootstrap", Name: "bootstrap admin", Role: flow.RoleAdmin}, nil
	}
	if strings.HasPrefix(tok, conversationPrefix) {
		if s.conversationPrincipal != nil {
			return s.conversationPrincipal(c, tok, h)
		}
		return nil, flow.Errorf(flow.EUNAUTHORIZED, "unknown or expired token")
	}
	if s.Keys == nil {
		return nil, flow.Errorf(flow.EUNAUTHORIZED, "unknown or expired token")
	}
	ctx := c.Request().Context()
	k, err := s.Keys.APIKeyByHash(ctx, h)
	if flow.ErrorCode(err) == flow.ENOTFOUND {
		return nil, flow.Errorf(flow.EUNAUTHORIZED, "unknown or expired token")
	} else if err != nil {
		return nil, err
	}
	now := s.Now()
	if k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) {
		return nil, flow.Errorf(flow.EUNAUTHORIZED, "unknown or expired token")
	}
	if err := s.checkKeyAddress(c, k); err != nil {
		return nil, err
	}
	s.touchKey(k.ID, k.LastUsedAt, now)
	return &Principal{Kind: "api_key", ID: k.ID, Name: k.Name, Role: k.Role}, nil
}

// checkKeyAddress refuses a key with allowed_ips used from any other
// address. The client address is c.RealIP(): the TCP peer, or what a
// trusted proxy (FLOWBOT_TRUSTED_PROXIES) put in X-Forwarded-For. The
// message names that address but not the allowed ones: the caller holds a
// working token, but may be someone who stole it. The refusal is logged
// (key and address) for the admin; it is not an audit event, since a
// stolen key could then write one, with an fsync, per request.
func (s *Server) checkKeyAddress(c echo.Context, k *flow.APIKey) error {
	if len(k.AllowedIPs) == 0 {
		return nil
	}
	ip := c.RealIP()
	addr, err := netip.ParseAddr(ip)
	if err == nil && k.AllowsAddr(addr) {
		return nil
	}
	shown := strconv.Quote(ip)
	if err == nil {
		shown = addr.Unmap().String()
	}
	s.log.WarnContext(c.Request().Context(), "api key used from an address it is not allowed from",
		"key_id", k.ID, "key_name", k.Name, "remote", shown, "request_id", requestID(c))
	return flow.Errorf(flow.EADDRNOTALLOWED, "this API key may not be used from %s; its IP restrictions do not allow this address", shown)
}

// principalOf returns the request's authenticated principal (nil on public routes).
func principalOf(c echo.Context) *Principal {
	p, _ := c.Get(principalKey).(*Principal)
	return p
}

// actor names the principal for audit events and publications.
func actor(c echo.Context) string {
	p := principalOf(c)
	if p == nil {
		return "anonymous"
	}
	if p.Kind == "api_key" {
		return "api_key:" + p.ID + " (" + p.Name + ")"
	}
	return p.Kind
}
