package flow

import (
	"errors"
	"fmt"
)

// Error codes shared by every layer. The web layer maps each to one HTTP
// status in a single table.
const (
	EINVALID       = "invalid"        // bad input: 400
	EUNPROCESSABLE = "rule_violation" // input breaks a rule: 422
	ENOTFOUND      = "not_found"      // 404
	ECONFLICT      = "conflict"       // stale revision, duplicate name, in use: 409
	EUNAUTHORIZED  = "unauthorized"   // missing or bad credentials: 401
	EFORBIDDEN     = "forbidden"      // authenticated but not allowed: 403
	ETOOLARGE      = "too_large"      // 413
	ERATELIMITED   = "rate_limited"   // 429
	EINTERNAL      = "internal"       // 500, message never shown
	// EADDRNOTALLOWED is a genuine API key used from an address outside
	// its allowed_ips: 403, with a code of its own so a client can tell it
	// from a role's refusal.
	EADDRNOTALLOWED = "address_not_allowed"
)

// Error is a domain error with a code, a human message and, for validation
// failures, the problems found.
type Error struct {
	Code    string
	Message string
	Details []Problem
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("flowbot error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err's *Error, EINTERNAL for any other error
// and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns err's human message; "internal error" for errors that
// are not *Error, so internal detail never reaches a client.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
