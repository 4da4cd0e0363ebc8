package botstep

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ohler55/ojg/jp"

	"github.com/flowbot/flowbot/flow"
)

// ResponsePath says where an api_call response variable comes from.
// Exactly one of Status, Header and Expr is set.
type ResponsePath struct {
	// Status: the path is "$status", the response's status code.
	Status bool
	// Header: the path is "$headers.<name>", a response header (compared
	// without regard to case); Header is the name.
	Header string
	// Body: the path is "$body", the whole body as text, for an API that
	// answers with something other than JSON.
	Body bool
	// Expr: any other path, a JSONPath into the response body.
	Expr jp.Expr
}

// ParseResponsePath parses the path of an api_call variable: a JSONPath
// into the body starting with "$" ("$.order.status", "$.items[0].name"),
// or one of three extra forms that read the response itself: "$status"
// saves the status code, "$headers.<header-name>" a header's value, and
// "$body" the whole body as text.
func ParseResponsePath(path string) (ResponsePath, error) {
	if path == "$status" {
		return ResponsePath{Status: true}, nil
	}
	if path == "$body" {
		return ResponsePath{Body: true}, nil
	}
	if name, ok := strings.CutPrefix(path, "$headers."); ok {
		if !isToken(name) {
			return ResponsePath{}, fmt.Errorf("%s names header %s, which is not a valid header name", flow.Quote(path), flow.Quote(name))
		}
		return ResponsePath{Header: name}, nil
	}
	x, err := parseJSONPath(path)
	if err != nil {
		return ResponsePath{}, err
	}
	return ResponsePath{Expr: x}, nil
}

// parseJSONPath parses a JSONPath that starts at the root "$".
func parseJSONPath(path string) (jp.Expr, error) {
	if !strings.HasPrefix(path, "$") {
		return nil, fmt.Errorf("%s must start with \"$\" (the root), for example $.order.status", flow.Quote(path))
	}
	if strings.HasPrefix(path, "$$") { // jp reads "$$" as "$"; refuse the typo
		return nil, fmt.Errorf("%s is not a JSONPath: it starts with \"$$\"", flow.Quote(path))
	}
	x, err := parseJP(path)
	if err != nil {
		return nil, fmt.Errorf("%s is not a JSONPath: %s", flow.Quote(path), err.Error())
	}
	return x, nil
}

// checkJSONPath reports a path that is not a JSONPath from the root "$".
func checkJSONPath(path string) error {
	_, err := parseJSONPath(path)
	return err
}

// parseJP calls jp.ParseString, turning a panic in the parser into an
// error: a designer's typo must never crash validation.
func parseJP(path string) (x jp.Expr, err error) {
	defer func() {
		if r := recover(); r != nil {
			x, err = nil, errors.New("it cannot be parsed")
		}
	}()
	return jp.ParseString(path)
}
