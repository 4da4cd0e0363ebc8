package web

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

func (s *Server) registerMe() {
	s.handle(http.MethodGet, "/v1/me", Designer, s.me)
}

// me tells a signed-in API key who it is, so the builder can show only
// what its role may do.
func (s *Server) me(c echo.Context) error {
	p := principalOf(c)
	return c.JSON(http.StatusOK, map[string]string{"kind": p.Kind, "id": p.ID, "name": p.Name, "role": string(p.Role)})
}
