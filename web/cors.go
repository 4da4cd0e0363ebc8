package web

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// widgetRoutes are the routes a chat widget on another website calls: it
// starts a conversation, sends messages and reads the transcript. Only
// these answer cross-origin requests; every designer and admin route stays
// same-origin.
var widgetRoutes = map[string]bool{
	"/v1/bots/:id/conversations":     true,
	"/v1/conversations/:id/messages": true,
	"/v1/conversations/:id":          true,
}

// widgetCORS lets any origin call the widget routes. The widget holds no
// cookie: it sends the conversation token in Authorization, so allowing
// every origin (without credentials) opens nothing a token does not.
// Preflight requests (OPTIONS) are answered here with 204; they are not
// registered routes, so Routes() and openapi.yaml are unchanged.
//
// It runs as server-wide middleware because echo matches the route before
// it runs middleware: c.Path() is the matched route, also for an OPTIONS
// request on a path that has only GET or POST.
func widgetCORS(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !widgetRoutes[c.Path()] {
			return next(c)
		}
		h := c.Response().Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Expose-Headers", "Location, Retry-After, Idempotent-Replayed")
		if c.Request().Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Idempotency-Key")
			h.Set("Access-Control-Max-Age", "600")
			return c.NoContent(http.StatusNoContent)
		}
		return next(c)
	}
}
