package botstep

import (
	"errors"
	"fmt"
	"strconv"
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
	// Expr: any other path, a JSONPath into the response body; up to
	// its first filter when it has one.
	Expr jp.Expr
	// Filters: the path's filters ([?(...)]) in order, each with the
	// rest of the path up to the next one.
	Filters []PathFilter
}

// PathFilter is a filter in a response path and the part of the path
// after it, which starts at each element the filter keeps.
type PathFilter struct {
	test *filterExpr
	rest jp.Expr // starts with $, the element
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
	x, fs, err := parseFilteredPath(path, true)
	if err != nil {
		return ResponsePath{}, err
	}
	return ResponsePath{Expr: x, Filters: fs}, nil
}

// maxPathLen bounds a path's length in characters.
const maxPathLen = 256

// checkJSONPath reports a path that is not a JSONPath from the root "$"
// of the accepted subset, without filters: an options step's label_path,
// which jp reads.
func checkJSONPath(path string) error {
	_, _, err := parseFilteredPath(path, false)
	return err
}

// filterMark stands in for a filter while jp parses the rest of a path:
// a name no path may hold (paths with a NUL are refused).
const filterMark = "\x00filter"

// parseFilteredPath parses a JSONPath that starts at the root "$", of the
// subset whose cost stays linear in the answer's size (pathCost). When
// filters are allowed, the path is split at each one (see PathFilter).
func parseFilteredPath(path string, filters bool) (jp.Expr, []PathFilter, error) {
	if err := checkPathLen(path); err != nil {
		return nil, nil, err
	}
	if !strings.HasPrefix(path, "$") {
		return nil, nil, fmt.Errorf("%s must start with \"$\" (the root), for example $.order.status", flow.Quote(path))
	}
	if strings.HasPrefix(path, "$$") { // jp reads "$$" as "$"; refuse the typo
		return nil, nil, fmt.Errorf("%s is not a JSONPath: it starts with \"$$\"", flow.Quote(path))
	}
	if strings.ContainsRune(path, 0) {
		return nil, nil, fmt.Errorf("%s is not a JSONPath: it holds a NUL character", flow.Quote(path))
	}
	marked, srcs, err := cutFilters(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%s is not a JSONPath: %s", flow.Quote(path), err.Error())
	}
	if len(srcs) > 0 && !filters {
		return nil, nil, fmt.Errorf("%s cannot be used: filters ([?(...)]) are not supported here; pick the element by its index ($[0].name)", flow.Quote(path))
	}
	x, err := parseJP(marked)
	if err != nil {
		return nil, nil, fmt.Errorf("%s is not a JSONPath: %s", flow.Quote(path), err.Error())
	}
	// A quoted name may spell a stand-in's NUL with \u0000, which jp
	// decodes: only the stand-ins cutFilters wrote, once each, may hold one.
	seen := make([]bool, len(srcs))
	for _, f := range x {
		if c, ok := f.(jp.Child); ok && strings.ContainsRune(string(c), 0) {
			n, ok := markIndex(f)
			if !ok || n >= len(srcs) || seen[n] {
				return nil, nil, fmt.Errorf("%s is not a JSONPath: it holds a NUL character", flow.Quote(path))
			}
			seen[n] = true
		}
	}
	var c pathCost
	if msg := c.expr(x); msg != "" {
		return nil, nil, fmt.Errorf("%s cannot be used: %s", flow.Quote(path), msg)
	}
	// Split at the marks: x[:first] is the head; each filter takes the
	// fragments up to the next mark, after a $ for its element.
	head, fs := x, []PathFilter(nil)
	for i := len(x) - 1; i >= 0; i-- {
		n, ok := markIndex(x[i])
		if !ok {
			continue
		}
		test, err := parseFilter(srcs[n])
		if err != nil {
			return nil, nil, fmt.Errorf("%s cannot be used: filter %s: %s", flow.Quote(path), flow.Quote("[?"+srcs[n]+"]"), err.Error())
		}
		rest := append(jp.Expr{jp.Root('$')}, head[i+1:]...)
		fs = append([]PathFilter{{test: test, rest: rest}}, fs...)
		head = head[:i]
	}
	return head, fs, nil
}

// markIndex reports whether f is the stand-in of the n-th filter.
func markIndex(f jp.Frag) (int, bool) {
	c, ok := f.(jp.Child)
	if !ok {
		return 0, false
	}
	s, ok := strings.CutPrefix(string(c), filterMark)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// cutFilters replaces each filter in path ([?...]) by a stand-in name jp
// can parse, and returns the filters' texts (after "[?", before "]").
// Quoted names are copied as they are, so a "[?" inside one is no filter.
func cutFilters(path string) (string, []string, error) {
	var b strings.Builder
	var srcs []string
	for i := 0; i < len(path); {
		c := path[i]
		switch {
		case c == '\'' || c == '"':
			j, _ := skipQuoted(path, i)
			b.WriteString(path[i:j])
			i = j
		case c == '[' && strings.HasPrefix(strings.TrimLeft(path[i+1:], " \t\r\n"), "?"):
			start := i + 1 + strings.IndexByte(path[i+1:], '?') + 1
			end, err := filterEnd(path, start)
			if err != nil {
				return "", nil, err
			}
			b.WriteString("['" + filterMark + strconv.Itoa(len(srcs)) + "']")
			srcs = append(srcs, path[start:end])
			i = end + 1
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), srcs, nil
}

// skipQuoted returns the index after the quoted text starting at i, and
// whether it is closed (when not: len(s)).
func skipQuoted(s string, i int) (int, bool) {
	q := s[i]
	for i++; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case q:
			return i + 1, true
		}
	}
	return len(s), false
}

// filterEnd returns the index of the "]" that closes a filter whose text
// starts at i: the first one outside quotes, parentheses and brackets.
func filterEnd(s string, i int) (int, error) {
	parens, brackets := 0, 0
	for i < len(s) {
		switch s[i] {
		case '\'', '"':
			j, ok := skipQuoted(s, i)
			if !ok {
				return 0, errors.New("a quoted text in a filter is not closed")
			}
			i = j
			continue
		case '(':
			parens++
		case ')':
			parens--
		case '[':
			brackets++
		case ']':
			if brackets == 0 && parens <= 0 {
				return i, nil
			}
			brackets--
		}
		i++
	}
	if parens > 0 {
		return 0, errors.New("a ( in a filter is not closed")
	}
	return 0, errors.New("a filter ([?...]) is not closed with ]")
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
// reach it once per entry. A filter ([?(@.price < 10)]) tests each
// element once, by flowbot's own evaluation (jsonfilter.go); after a
// descent it counts as the one wildcard, slice or list.
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
		case jp.Child:
			if _, ok := markIndex(f); ok {
				// A filter tests each element of a list (or value of an
				// object) once, or each element below a descent once.
				if msg := c.spread(); msg != "" {
					return msg
				}
			}
		case jp.Nth, jp.Bracket:
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
			return "after recursive descent (..) one wildcard, slice, list or filter may be used"
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
