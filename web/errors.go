package web

import (
	"context"
	"errors"
	"net/http"

	"github.com/flowbot/flowbot/flow"
	"github.com/labstack/echo/v4"
)

// statusByCode is the one table mapping domain error codes to HTTP statuses.
var statusByCode = map[string]int{
	flow.EINVALID:       http.StatusBadRequest,
	flow.EUNPROCESSABLE: http.StatusUnprocessableEntity,
	flow.ENOTFOUND:      http.StatusNotFound,
	flow.ECONFLICT:      http.StatusConflict,
	flow.EUNAUTHORIZED:  http.StatusUnauthorized,
	flow.EFORBIDDEN:     http.StatusForbidden,
	flow.ETOOLARGE:      http.StatusRequestEntityTooLarge,
	flow.ERATELIMITED:   http.StatusTooManyRequests,
	flow.EINTERNAL:      http.StatusInternalServerError,
	// 403, not 401: the key is genuine and known, and sending it again
	// cannot help; only another address can. (The UI signs out on a 401.)
	flow.EADDRNOTALLOWED: http.StatusForbidden,
}

// codeByStatus maps echo's own HTTP errors (unknown route, wrong method,
// body too large) back to error codes.
var codeByStatus = map[int]string{
	http.StatusBadRequest:            flow.EINVALID,
	http.StatusNotFound:              flow.ENOTFOUND,
	http.StatusMethodNotAllowed:      "method_not_allowed",
	http.StatusRequestEntityTooLarge: flow.ETOOLARGE,
	http.StatusUnsupportedMediaType:  "unsupported_media_type",
	http.StatusUnauthorized:          flow.EUNAUTHORIZED,
	http.StatusForbidden:             flow.EFORBIDDEN,
	http.StatusTooManyRequests:       flow.ERATELIMITED,
}

// ErrorBody is the error document of SPEC §5.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details []flow.Problem `json:"details,omitempty"`
}

// handleError renders every error a handler returns. Internal errors are
// logged with the request id and shown to the client only as "internal error".
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	if errors.Is(err, context.Canceled) && c.Request().Context().Err() != nil {
		// The client went away: there is nobody to answer, and nothing
		// went wrong here. 499 (nginx's "client closed request") is for
		// the request log only.
		c.Response().Status = 499
		return
	}
	status, body := s.errorBody(err, c)
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	_ = c.JSON(status, body)
}

func (s *Server) errorBody(err error, c echo.Context) (int, ErrorBody) {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		code, ok := codeByStatus[he.Code]
		if !ok {
			code = flow.EINTERNAL
		}
		msg := http.StatusText(he.Code)
		if m, ok := he.Message.(string); ok && he.Code < 500 {
			msg = m
		}
		if he.Code == http.StatusRequestEntityTooLarge {
			msg = "request body is too large"
		}
		if he.Code >= 500 {
			s.log.ErrorContext(c.Request().Context(), "internal error", "err", err.Error(), "request_id", requestID(c))
			msg = "internal error"
		}
		return he.Code, ErrorBody{ErrorDetail{Code: code, Message: msg}}
	}
	var fe *flow.Error
	if errors.As(err, &fe) {
		status, ok := statusByCode[fe.Code]
		if !ok {
			status = http.StatusBadRequest
			if fe.Code == flow.EINTERNAL {
				status = http.StatusInternalServerError
			}
		}
		if status == http.StatusTooManyRequests {
			c.Response().Header().Set("Retry-After", "1")
		}
		if status >= 500 {
			s.log.ErrorContext(c.Request().Context(), "internal error", "err", err.Error(), "request_id", requestID(c))
			return status, ErrorBody{ErrorDetail{Code: flow.EINTERNAL, Message: "internal error"}}
		}
		return status, ErrorBody{ErrorDetail{Code: fe.Code, Message: fe.Message, Details: fe.Details}}
	}
	s.log.ErrorContext(c.Request().Context(), "internal error", "err", err.Error(), "request_id", requestID(c))
	return http.StatusInternalServerError, ErrorBody{ErrorDetail{Code: flow.EINTERNAL, Message: "internal error"}}
}

// problemsError is the 422 for a document that breaks rules.
func problemsError(msg string, p flow.Problems) error {
	return &flow.Error{Code: flow.EUNPROCESSABLE, Message: msg, Details: errorsOnly(p)}
}

func errorsOnly(p flow.Problems) []flow.Problem {
	out := make([]flow.Problem, 0, len(p))
	for _, x := range p {
		if x.Severity == flow.SeverityError {
			out = append(out, x)
		}
	}
	return out
}
