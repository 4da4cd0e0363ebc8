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
	var err error
	p.Limit, err = intParam(c, "limit", defaultLimit, 1, maxLimit)
	return p, err
}

// intParam reads the query parameter name as a whole number from min to
// max; def when it is absent or empty.
func intParam(c echo.Context, name string, def, min, max int) (int, error) {
	v := c.QueryParam(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		return 0, paramError(name, name+" must be a whole number from "+strconv.Itoa(min)+" to "+strconv.Itoa(max))
	}
	return n, nil
}

// ruleError is a 422 for one request field (ptr, a JSON pointer) that
// breaks a rule: msg is both the error's message and its detail's.
func ruleError(ptr, code, msg string) error {
	return &flow.Error{Code: flow.EUNPROCESSABLE, Message: msg,
		Details: []flow.Problem{{Pointer: ptr, Code: code, Message: msg, Severity: flow.SeverityError}}}
}

func paramError(name, msg string) error {
	return &flow.Error{Code: flow.EINVALID, Message: msg,
		Details: []flow.Problem{{Pointer: "/" + name, Code: "invalid_parameter", Message: msg, Severity: flow.SeverityError}}}
}
