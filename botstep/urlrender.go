package botstep

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// ErrPeriodInPathVariable is matched (errors.Is) by the error Render
// returns when a path variable's value holds a ".": SPEC §3 rule 4, so a
// value can never form "." or ".." segments. The executor reports it as
// CodePeriodInPathVariable and takes the failure branch.
var ErrPeriodInPathVariable = errors.New(CodePeriodInPathVariable)

// PathVariableError is the error Render returns for a path variable whose
// value holds a period.
type PathVariableError struct {
	// Name is the variable.
	Name string
}

// Error implements error.
func (e *PathVariableError) Error() string {
	return fmt.Sprintf("the value of {{%s}} contains a period (.), which is not allowed in a URL path; send it in a query value or the body instead", e.Name)
}

// Is makes errors.Is(err, ErrPeriodInPathVariable) true.
func (e *PathVariableError) Is(target error) bool { return target == ErrPeriodInPathVariable }

// ErrEmptyPathSegment is matched (errors.Is) by the error Render returns
// when a path variable is empty or unset: sending /orders/ or
// /orders/.json for /orders/{{id}}.json asks another resource (often the
// whole list, or for a DELETE the whole collection) than the one designed.
var ErrEmptyPathSegment = errors.New(ErrCodeEmptyPathVariable)

// EmptyPathSegmentError is the error Render returns for a path variable
// whose value is empty (or unset).
type EmptyPathSegmentError struct {
	// Name is the variable.
	Name string
}

// Error implements error.
func (e *EmptyPathSegmentError) Error() string {
	return fmt.Sprintf("{{%s}} is empty or unset, so the URL path would ask another resource than the one designed; the call was not made. Ask for it first, or route around the call with a branch step (exists)", e.Name)
}

// Is makes errors.Is(err, ErrEmptyPathSegment) true.
func (e *EmptyPathSegmentError) Is(target error) bool { return target == ErrEmptyPathSegment }

// Render builds the URL with each variable's value from vars: a path
// value percent-encoded as exactly one segment (url.PathEscape, so "/"
// cannot add a segment), a query value encoded as exactly one value
// (url.QueryEscape, so "&" or "=" cannot add a pair), literals as typed.
// A variable vars does not know (or a nil vars) renders as "". Values are
// never scanned for "{{", so they cannot expand further. A path value
// containing "." is refused with a *PathVariableError, an empty one with
// an *EmptyPathSegmentError.
func (t *URLTemplate) Render(vars func(name string) (string, bool)) (string, error) {
	lookup := func(name string) string {
		if vars == nil {
			return ""
		}
		v, _ := vars(name)
		return v
	}
	var b strings.Builder
	// Room for a usual URL, so the builder does not regrow while writing.
	b.Grow(128)
	b.WriteString(t.Scheme)
	b.WriteString("://")
	if strings.Contains(t.Host, ":") {
		b.WriteByte('[')
		b.WriteString(t.Host)
		b.WriteByte(']')
	} else {
		b.WriteString(t.Host)
	}
	if t.Port != "" {
		b.WriteByte(':')
		b.WriteString(t.Port)
	}
	for _, seg := range t.Path {
		b.WriteByte('/')
		for _, part := range seg.Parts {
			if part.Var == "" {
				b.WriteString(part.Literal)
				continue
			}
			v := lookup(part.Var)
			if v == "" {
				return "", &EmptyPathSegmentError{Name: part.Var}
			}
			if strings.Contains(v, ".") {
				return "", &PathVariableError{Name: part.Var}
			}
			b.WriteString(url.PathEscape(v))
		}
	}
	if t.HasQuery {
		b.WriteByte('?')
	}
	for i, q := range t.Query {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(q.Key)
		if !q.HasValue {
			continue
		}
		b.WriteByte('=')
		for _, part := range q.Value {
			if part.Var == "" {
				b.WriteString(part.Literal)
			} else {
				b.WriteString(url.QueryEscape(lookup(part.Var)))
			}
		}
	}
	return b.String(), nil
}

// Vars lists the variables the template uses, in order, each once.
func (t *URLTemplate) Vars() []string {
	var names []string
	add := func(parts []URLPart) {
		for _, p := range parts {
			if p.Var != "" && !slices.Contains(names, p.Var) {
				names = append(names, p.Var)
			}
		}
	}
	for _, s := range t.Path {
		add(s.Parts)
	}
	for _, q := range t.Query {
		add(q.Value)
	}
	return names
}
