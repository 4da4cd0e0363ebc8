package web

import (
	"net/http"

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
var connectionReadOnly = []string{"id", "created_at", "updated_at", "created_by"}

func (s *Server) createConnection(c echo.Context) error {
	var req connections.NewConnection
	if err := decodeJSON(c, &req, connectionReadOnly...); err != nil {
		return err
	}
	conn, err := s.Connections.Create(c.Request().Context(), actor(c), req)
	if err != nil {
		return err
	}
	s.audit(c, flow.AuditConnectionCreated, conn.Name, map[string]string{"type": conn.Type, "allowed_domain": conn.AllowedDomain})
	c.Response().Header().Set(echo.HeaderLocation, "/v1/connections/"+conn.Name)
	return c.JSON(http.StatusCreated, connections.NewView(conn))
}

func (s *Server) listConnections(c echo.Context) error {
	list, err := s.Connections.List(c.Request().Context())
	if err != nil {
		return err
	}
	items := make([]connections.View, 0, len(list))
	for _, conn := range list {
		items = append(items, connections.NewView(conn))
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items})
}

func (s *Server) getConnection(c echo.Context) error {
	conn, err := s.Connections.Get(c.Request().Context(), c.Param("name"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, connections.NewView(conn))
}

// rotateRequest replaces a connection's credentials. Name, type and
// allowed domain are fixed; sending them back unchanged is allowed.
type rotateRequest struct {
	Name            *string                  `json:"name"`
	Type            *string                  `json:"type"`
	AllowedDomain   *string                  `json:"allowed_domain"`
	AllowSubdomains *bool                    `json:"allow_subdomains"`
	Credentials     *connections.Credentials `json:"credentials"`
}

func (s *Server) rotateConnection(c echo.Context) error {
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
	if req.Credentials == nil {
		p.Add("/credentials", "required", "credentials are required: send the new credentials to rotate them")
	}
	if len(p) > 0 {
		return &flow.Error{Code: flow.EUNPROCESSABLE, Message: p[0].Message, Details: p}
	}
	conn, err = s.Connections.Rotate(ctx, name, *req.Credentials)
	if err != nil {
		return err
	}
	s.audit(c, flow.AuditConnectionRotated, conn.Name, nil)
	return c.JSON(http.StatusOK, connections.NewView(conn))
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
