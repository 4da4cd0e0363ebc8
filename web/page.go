package web

import (
	"strconv"

	"github.com/flowbot/flowbot/flow"
	"github.com/labstack/echo/v4"
)

// Paging defaults and limits for list routes.
const (
	defaultLimit = 50
	maxLimit     = 200
)

// page reads ?offset= and ?limit= (1–200, default 50).
func page(c echo.Context) (flow.Page, error) {
	p := flow.Page{Limit: defaultLimit}
	if v := c.QueryParam("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return p, paramError("offset", "offset must be a whole number ≥ 0")
		}
		p.Offset = n
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return p, paramError("limit", "limit must be a whole number from 1 to 200")
		}
		p.Limit = n
	}
	return p, nil
}

func paramError(name, msg string) error {
	return &flow.Error{Code: flow.EINVALID, Message: msg,
		Details: []flow.Problem{{Pointer: "/" + name, Code: "invalid_parameter", Message: msg, Severity: flow.SeverityError}}}
}
