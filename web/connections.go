package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/flowbot/flowbot/connections"
	"github.com/flowbot/flowbot/flow"
	"github.com/labstack/echo/v4"
)

func (s *Server) registerConnections() {
	s.handle(http.MethodPost, "/v1/connections", Admin, s.createConnection)
	s.handle(http.MethodGet, "/v1/connections", Designer, s.listConnections)
	s.handle(http.MethodGet, "/v1/connections/:name", Designer, s.getConnection)
	s.handle(http.MethodPatch, "/v1/connections/:name", Admin, s.rotateConnection)
	s.handle(http.MethodDelete, "/v1/connections/:name", Admin, s.deleteConnection)
}

// Read-only connection fields a client may send back; they are ignored.
var connectionReadOnly = []string{"id", "created_at", "updated_at", "created_by", "status", "status_message", "last_refusal", "used_by"}

// connectionView is a connection as the API shows it, with the bots whose
// published version uses it: who is affected when it expires or is
// refused, and what keeps it from being deleted.
type connectionView struct {
	connections.View
	UsedBy []flow.BotRef `json:"used_by"`
}

func (s *Server) connectionView(ctx context.Context, conn *connections.Connection) (connectionView, error) {
	bots, err := s.Bots.BotsUsingConnection(ctx, conn.Name)
	if err != nil {
		return connectionView{}, err
	}
	if bots == nil {
		bots = []flow.BotRef{}
	}
	return connectionView{View: connections.NewView(conn, s.Now()), UsedBy: bots}, nil
}

func (s *Server) createConnection(c echo.Context) error {
	var req connections.NewConnection
	if err := decodeJSON(c, &req, connectionReadOnly...); err != nil {
		return err
	}
	conn, err := s.Connections.Create(c.Request().Context(), actor(c), req)
	if err != nil {
		return err
	}
	detail := map[string]string{"type": conn.Type, "allowed_domain": conn.AllowedDomain}
	if conn.ExpiresAt != nil {
		detail["expires_at"] = conn.ExpiresAt.Format(time.RFC3339)
	}
	s.audit(c, flow.AuditConnectionCreated, conn.Name, detail)
	c.Response().Header().Set(echo.HeaderLocation, "/v1/connections/"+conn.Name)
	c.Response().Header().Set("ETag", connectionETag(conn))
	return c.JSON(http.StatusCreated, connectionView{View: connections.NewView(conn, s.Now()), UsedBy: []flow.BotRef{}})
}

func (s *Server) listConnections(c echo.Context) error {
	list, err := s.Connections.List(c.Request().Context())
	if err != nil {
		return err
	}
	items := make([]connectionView, 0, len(list))
	for _, conn := range list {
		v, err := s.connectionView(c.Request().Context(), conn)
		if err != nil {
			return err
		}
		items = append(items, v)
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items})
}

func (s *Server) getConnection(c echo.Context) error {
	conn, err := s.Connections.Get(c.Request().Context(), c.Param("name"))
	if err != nil {
		return err
	}
	v, err := s.connectionView(c.Request().Context(), conn)
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", connectionETag(conn))
	return c.JSON(http.StatusOK, v)
}

// connectionETag is a connection's entity tag: its version, updated_at
// (which only new credentials move), quoted, exactly as the JSON body
// shows it, so a client that read the list has each item's tag too.
func connectionETag(conn *connections.Connection) string {
	return `"` + conn.UpdatedAt.UTC().Format(time.RFC3339Nano) + `"`
}

// connectionIfMatch reads the version a PATCH was made from, from
// If-Match: nil when the header is absent (or "*"), and the change then
// applies to whatever is stored, as it always has.
func connectionIfMatch(c echo.Context) (*time.Time, error) {
	h := strings.TrimSpace(c.Request().Header.Get("If-Match"))
	if h == "" || h == "*" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, strings.Trim(h, `"`))
	if err != nil {
		return nil, paramError("If-Match", `If-Match must be the ETag of the connection you read, such as "2027-01-31T09:00:00.123456789Z" (its updated_at, quoted); got `+strconv.Quote(h))
	}
	return &t, nil
}

// staleConnection is the 409 for a PATCH made from a version of the
// connection that new credentials have replaced since.
func staleConnection(name string, sent time.Time) error {
	msg := fmt.Sprintf("connection %s has had new credentials since the version you read (If-Match %q); read it again (GET /v1/connections/%s) and send its new ETag in If-Match",
		name, sent.UTC().Format(time.RFC3339Nano), name)
	return &flow.Error{Code: flow.ECONFLICT, Message: msg,
		Details: []flow.Problem{{Pointer: "/If-Match", Code: "stale_version", Message: msg, Severity: flow.SeverityError}}}
}

// rotateRequest replaces a connection's credentials, or changes its
// expiry date, or both. Name, type and allowed domain are fixed; sending
// them back unchanged is allowed.
type rotateRequest struct {
	Name            *string                  `json:"name"`
	Type            *string                  `json:"type"`
	AllowedDomain   *string                  `json:"allowed_domain"`
	AllowSubdomains *bool                    `json:"allow_subdomains"`
	Credentials     *connections.Credentials `json:"credentials"`
	// ExpiresAt: absent keeps the date (or, with new credentials, clears
	// it); null clears it; a string sets it.
	ExpiresAt json.RawMessage `json:"expires_at"`
}

func (s *Server) rotateConnection(c echo.Context) error {
	version, err := connectionIfMatch(c)
	if err != nil {
		return err
	}
	var req rotateRequest
	if err := decodeJSON(c, &req, connectionReadOnly...); err != nil {
		return err
	}
	ctx := c.Request().Context()
	name := c.Param("name")
	conn, err := s.Connections.Get(ctx, name)
	if err != nil {
		return err
	}
	var p flow.Problems
	fixed := func(ptr string, sent *string, have string) {
		if sent == nil {
			return
		}
		v := *sent
		if ptr == "/allowed_domain" {
			if h, err := connections.CanonicalHost(v); err == nil {
				v = h
			}
		}
		if v != have {
			p.Add(ptr, "immutable_field", ptr[1:]+" cannot change after a connection is created; create a new connection instead")
		}
	}
	fixed("/name", req.Name, conn.Name)
	fixed("/type", req.Type, conn.Type)
	fixed("/allowed_domain", req.AllowedDomain, conn.AllowedDomain)
	if req.AllowSubdomains != nil && *req.AllowSubdomains != conn.AllowSubdomains {
		p.Add("/allow_subdomains", "immutable_field", "allow_subdomains cannot change after a connection is created; create a new connection instead")
	}
	u := connections.Update{Credentials: req.Credentials, Version: version}
	switch v := bytes.TrimSpace(req.ExpiresAt); {
	case len(v) == 0:
	case string(v) == "null":
		u.ExpiresAt = new(string)
	default:
		var t string
		if json.Unmarshal(v, &t) != nil || t == "" {
			p.Add("/expires_at", "invalid_time", "expires_at must be an RFC 3339 time such as 2027-01-31T00:00:00Z, or null for none")
		}
		u.ExpiresAt = &t
	}
	if len(p) > 0 {
		return &flow.Error{Code: flow.EUNPROCESSABLE, Message: p[0].Message, Details: p}
	}
	conn, err = s.Connections.Update(ctx, name, u)
	if err != nil {
		if version != nil && flow.ErrorCode(err) == flow.ECONFLICT {
			return staleConnection(name, *version)
		}
		return err
	}
	detail := map[string]string{"expires_at": "none"}
	if conn.ExpiresAt != nil {
		detail["expires_at"] = conn.ExpiresAt.Format(time.RFC3339)
	}
	if req.Credentials != nil {
		s.audit(c, flow.AuditConnectionRotated, conn.Name, detail)
	} else {
		s.audit(c, flow.AuditConnectionExpiryChanged, conn.Name, detail)
	}
	v, err := s.connectionView(ctx, conn)
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", connectionETag(conn))
	return c.JSON(http.StatusOK, v)
}

func (s *Server) deleteConnection(c echo.Context) error {
	ctx := c.Request().Context()
	name := c.Param("name")
	if _, err := s.Connections.Get(ctx, name); err != nil {
		return err
	}
	bots, err := s.Bots.BotsUsingConnection(ctx, name)
	if err != nil {
		return err
	}
	if len(bots) > 0 {
		return flow.ConnectionInUse(name, bots)
	}
	// The store checks again in the same transaction as the delete, so a
	// publish in between is still caught.
	if err := s.Connections.Delete(ctx, name); err != nil {
		return err
	}
	s.audit(c, flow.AuditConnectionDeleted, name, nil)
	return c.NoContent(http.StatusNoContent)
}
