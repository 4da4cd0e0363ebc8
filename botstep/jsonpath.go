package botstep

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

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
	if err := checkPathLen(path); err != nil {
		return ResponsePath{}, err
	}
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

// maxPathLen bounds a path's length in characters.
const maxPathLen = 256

// parseJSONPath parses a JSONPath that starts at the root "$", of the
// subset whose cost stays linear in the answer's size (pathCost).
func parseJSONPath(path string) (jp.Expr, error) {
	if err := checkPathLen(path); err != nil {
		return nil, err
	}
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
	var c pathCost
	if msg := c.expr(x); msg != "" {
		return nil, fmt.Errorf("%s cannot be used: %s", flow.Quote(path), msg)
	}
	return x, nil
}

// checkJSONPath reports a path that is not a JSONPath from the root "$"
// of the accepted subset.
func checkJSONPath(path string) error {
	_, err := parseJSONPath(path)
	return err
}

// checkPathLen reports a path over maxPathLen characters.
func checkPathLen(path string) error {
	if len(path) > maxPathLen { // bytes ≥ characters
		if n := utf8.RuneCountInString(path); n > maxPathLen {
			return fmt.Errorf("%s is %d characters; the limit is %d", flow.Quote(string([]rune(path)[:20])+"…"), n, maxPathLen)
		}
	}
	return nil
}

// pathCost counts the parts of a JSONPath whose cost grows with their
// number. A path is read from an answer of up to 1 MiB after the call,
// unbounded by its timeout, so only a subset whose cost stays a small
// multiple of the answer's size is accepted. Without a recursive descent
// (..) names, indexes, slices and wildcards reach each element at most
// once. One descent reaches each element once more; a second would reach
// it once per ancestor. After a descent, each wildcard or slice goes
// through every element again, so one is allowed there. A list of
// distinct names or indexes ([0,2], ['a','b']) reaches an element at
// most twice (an index and its negative twin); repeated entries would
// reach it once per entry. Filters ([?(@.price < 10)]) are refused: jp
// evaluates one in microseconds and a kilobyte of allocation per element
// tested, 2 s and 600 MB for one list of a 1 MiB answer.
type pathCost struct {
	descents, wide, unions int
}

// expr checks x; it returns why x is refused, or "".
func (c *pathCost) expr(x jp.Expr) string {
	for i, f := range x {
		switch f := f.(type) {
		case jp.Root:
			if i != 0 {
				return "$ may only start the path"
			}
		case jp.Child, jp.Nth, jp.Bracket:
		case jp.Wildcard, jp.Slice:
			if msg := c.spread(); msg != "" {
				return msg
			}
		case jp.Union:
			if c.unions++; c.unions > 1 {
				return "a list of names or indexes ([0,2] or ['a','b']) may be used once in a path"
			}
			seen := make(map[any]bool, len(f))
			for _, k := range f {
				if seen[k] {
					return "a list of names or indexes may not repeat an entry"
				}
				seen[k] = true
			}
			if msg := c.spread(); msg != "" {
				return msg
			}
		case jp.Descent:
			if c.descents++; c.descents > 1 {
				return "recursive descent (..) may be used once in a path"
			}
		case *jp.Filter:
			return "filters ([?(...)]) are not supported; pick the element by its index ($.items[0].name), or save the list and test it in a branch step"
		default:
			return flow.Quote(string(f.Append(nil, true, false))) + " is not supported"
		}
	}
	return ""
}

// spread counts a fragment that may select many elements: a wildcard, a
// slice or a list.
func (c *pathCost) spread() string {
	if c.descents > 0 {
		if c.wide++; c.wide > 1 {
			return "after recursive descent (..) one wildcard, slice or list may be used"
		}
	}
	return ""
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
