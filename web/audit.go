package web

import (
	"context"
	"net/http"

	"github.com/flowbot/flowbot/flow"
	"github.com/labstack/echo/v4"
)

func contextBackground() context.Context { return context.Background() }

func (s *Server) registerAudit() {
	s.handle(http.MethodGet, "/v1/audit", Admin, s.listAudit)
}

// audit records an event. A failure is logged, not returned: the action it
// describes has already happened and is on disk.
func (s *Server) audit(c echo.Context, action, target string, detail map[string]string) {
	if s.Audit == nil {
		return
	}
	e := &flow.AuditEvent{At: s.Now().UTC(), Actor: actor(c), Action: action, Target: target, Detail: detail}
	// Written even when the client has gone: the action has happened.
	if err := s.Audit.AddAuditEvent(context.WithoutCancel(c.Request().Context()), e); err != nil {
		s.log.Error("could not write audit event", "action", action, "target", target, "err", err.Error(), "request_id", requestID(c))
	}
}

func (s *Server) listAudit(c echo.Context) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	events, total, err := s.Audit.AuditEvents(c.Request().Context(), p)
	if err != nil {
		return err
	}
	if events == nil {
		events = []*flow.AuditEvent{}
	}
	return c.JSON(http.StatusOK, map[string]any{"items": events, "total": total, "offset": p.Offset, "limit": p.Limit})
}
