package botstep

import (
	"encoding/json"
	"errors"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/flowbot/flowbot/flow"
)

// A filter ([?(@.type == 'home')]) keeps the elements of a list (or the
// values of an object) for which its test holds. flowbot evaluates its
// own subset rather than jp's: jp spends microseconds and a kilobyte per
// element tested, which a 1 MiB answer turns into seconds. This subset
// reads each element once, at the fixed paths the test names, without
// allocating.
//
//	test    = or
//	or      = and { "||" and }
//	and     = unary { "&&" unary }
//	unary   = "!" unary | "(" or ")" | operand [ op operand ]
//	op      = "==" | "!=" | "<" | "<=" | ">" | ">="
//	operand = "@" { "." name | "[" index "]" | "['" name "']" }
//	        | 'text' | "text" | number | true | false | null | {{variable}}
//
// An operand alone tests that the element has something there (null
// counts). Comparisons follow RFC 9535 for texts, numbers, true, false
// and null: == and != compare values (a missing value equals only
// another missing one), < and > compare two numbers or two texts and are
// false otherwise, <= and >= are < or == and > or ==. A list or an object
// equals nothing: comparing two whole subtrees could cost a walk of the
// answer per element tested. A {{variable}}, quoted or not, is the
// variable's text at the time of the call; it equals a JSON number or
// true or false when it reads as one.

// filterExpr is a parsed filter test.
type filterExpr struct {
	kind byte // '|', '&', '!', '=' (comparison) or '?' (exists)
	l, r *filterExpr
	op   string // comparison operator
	a, b filterOperand
}

// filterOperand is a path from the element (@) or a value.
type filterOperand struct {
	rel  bool
	path []any // string keys and int indexes below @
	lit  any   // string, int64, float64, bool or nil
	// tmpl: the text of a template ({{variable}}); bind fills lit from
	// it, and read with what the text reads as.
	tmpl string
	read *readAs
}

// readAs is what a {{variable}}'s text reads as, worked out once per call
// (bind), not once per element tested: the text may be long.
type readAs struct {
	i        int64
	f        float64
	b        bool
	iok, fok bool
	bok      bool
}

func readText(s string) *readAs {
	s = strings.TrimSpace(s)
	r := &readAs{}
	if len(s) > 64 { // no number or boolean is this long
		return r
	}
	var err error
	r.i, err = strconv.ParseInt(s, 10, 64)
	r.iok = err == nil
	r.f, err = strconv.ParseFloat(s, 64)
	r.fok = err == nil
	r.b, r.bok = s == "true", s == "true" || s == "false"
	return r
}

// filterHint ends the message about something a filter may not hold.
const filterHint = "; a filter compares @ paths with ==, !=, <, <=, > or >=, joined by &&, || and !, with parentheses"

// maxFilterTests bounds the comparisons and presence tests in one filter:
// each runs once per element tested, so together they set how many times
// over an answer a filter reads (8: about 50 ms for a 1 MiB answer of
// half a million numbers, BenchmarkFilterWholeSubtrees).
const maxFilterTests = 8

// maxFilterDepth bounds how deeply parentheses and ! nest in a filter.
const maxFilterDepth = 32

// parseFilter parses src, the text between "[?" and its "]".
func parseFilter(src string) (*filterExpr, error) {
	p := &filterParser{s: src}
	e, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if p.skip(); p.i < len(p.s) {
		return nil, errors.New("unexpected " + flow.Quote(p.rest()) + filterHint)
	}
	if n := e.tests(); n > maxFilterTests {
		return nil, errors.New("it has " + strconv.Itoa(n) + " tests; the limit is " + strconv.Itoa(maxFilterTests))
	}
	return e, nil
}

type filterParser struct {
	s string
	i int
}

func (p *filterParser) rest() string {
	r := p.s[p.i:]
	if utf8.RuneCountInString(r) > 20 {
		r = string([]rune(r)[:20]) + "…"
	}
	return r
}

func (p *filterParser) skip() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

// eat consumes tok if it comes next.
func (p *filterParser) eat(tok string) bool {
	p.skip()
	if strings.HasPrefix(p.s[p.i:], tok) {
		p.i += len(tok)
		return true
	}
	return false
}

func (p *filterParser) or(depth int) (*filterExpr, error) {
	l, err := p.and(depth)
	for err == nil && p.eat("||") {
		var r *filterExpr
		if r, err = p.and(depth); err == nil {
			l = &filterExpr{kind: '|', l: l, r: r}
		}
	}
	return l, err
}

func (p *filterParser) and(depth int) (*filterExpr, error) {
	l, err := p.unary(depth)
	for err == nil && p.eat("&&") {
		var r *filterExpr
		if r, err = p.unary(depth); err == nil {
			l = &filterExpr{kind: '&', l: l, r: r}
		}
	}
	return l, err
}

func (p *filterParser) unary(depth int) (*filterExpr, error) {
	if depth > maxFilterDepth {
		return nil, errors.New("parentheses and ! nest more than " + strconv.Itoa(maxFilterDepth) + " deep")
	}
	if p.skip(); strings.HasPrefix(p.s[p.i:], "!=") {
		return nil, errors.New("!= needs a value on its left")
	}
	if p.eat("!") {
		e, err := p.unary(depth + 1)
		return &filterExpr{kind: '!', l: e}, err
	}
	if p.eat("(") {
		e, err := p.or(depth + 1)
		if err == nil && !p.eat(")") {
			if p.i < len(p.s) {
				err = errors.New("unexpected " + flow.Quote(p.rest()) + filterHint)
			} else {
				err = errors.New("a ( is not closed")
			}
		}
		return e, err
	}
	a, err := p.operand()
	if err != nil {
		return nil, err
	}
	op := p.cmpOp()
	if op == "" {
		if !a.rel {
			return nil, errors.New("a value alone is no test; compare it with @ (@.name == 'x')")
		}
		return &filterExpr{kind: '?', a: a}, nil
	}
	b, err := p.operand()
	if err != nil {
		return nil, err
	}
	if !a.rel && !b.rel {
		return nil, errors.New("a comparison needs @ on one side")
	}
	return &filterExpr{kind: '=', op: op, a: a, b: b}, nil
}

// cmpOp consumes a comparison operator, or returns "" when none follows.
// Operators of other JSONPath dialects are refused by name.
func (p *filterParser) cmpOp() string {
	for _, op := range []string{"==", "!=", "<=", ">=", "<", ">"} {
		if p.eat(op) {
			return op
		}
	}
	return ""
}

func (p *filterParser) operand() (filterOperand, error) {
	p.skip()
	if p.i >= len(p.s) {
		return filterOperand{}, errors.New("a value is missing at the end")
	}
	switch c := p.s[p.i]; {
	case c == '@':
		p.i++
		path, err := p.relPath()
		return filterOperand{rel: true, path: path}, err
	case c == '\'' || c == '"':
		s, err := p.quoted()
		if err != nil {
			return filterOperand{}, err
		}
		return textOperand(s), nil
	case strings.HasPrefix(p.s[p.i:], "{{"):
		end := strings.Index(p.s[p.i:], "}}")
		if end < 0 {
			return filterOperand{}, errors.New("a {{ is not closed with }}")
		}
		t := p.s[p.i : p.i+end+2]
		p.i += end + 2
		return textOperand(t), nil
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c == '$':
		return filterOperand{}, errors.New("$ cannot be used in a filter: compare @ (the element) with a value or a {{variable}}")
	}
	for _, w := range []struct {
		word string
		v    any
	}{{"true", true}, {"false", false}, {"null", nil}} {
		if p.eat(w.word) {
			return filterOperand{lit: w.v}, nil
		}
	}
	word := p.rest()
	if i := strings.IndexAny(word, " ()"); i > 0 && word[i] == '(' {
		return filterOperand{}, errors.New("functions (" + word[:i] + "()) are not supported in a filter")
	}
	return filterOperand{}, errors.New("unexpected " + flow.Quote(word) + filterHint)
}

// textOperand is a text value, or a template when it holds {{...}}.
func textOperand(s string) filterOperand {
	if strings.Contains(s, "{{") {
		return filterOperand{lit: s, tmpl: s}
	}
	return filterOperand{lit: s}
}

// relPath reads the keys and indexes after @.
func (p *filterParser) relPath() ([]any, error) {
	var path []any
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case '.':
			p.i++
			start := p.i
			for p.i < len(p.s) && strings.IndexByte(" \t\r\n.[]()!=<>&|'\"", p.s[p.i]) < 0 {
				p.i++
			}
			name := p.s[start:p.i]
			if name == "" || name == "*" {
				return nil, errors.New("after @. comes a name (@.type)")
			}
			path = append(path, name)
		case '[':
			p.i++
			p.skip()
			if p.i < len(p.s) && (p.s[p.i] == '\'' || p.s[p.i] == '"') {
				s, err := p.quoted()
				if err != nil {
					return nil, err
				}
				path = append(path, s)
			} else {
				start := p.i
				for p.i < len(p.s) && (p.s[p.i] == '-' || p.s[p.i] >= '0' && p.s[p.i] <= '9') {
					p.i++
				}
				n, err := strconv.Atoi(p.s[start:p.i])
				if err != nil {
					return nil, errors.New("inside a filter, @[...] takes an index (@[0]) or a quoted name (@['a b'])")
				}
				path = append(path, n)
			}
			if !p.eat("]") {
				return nil, errors.New("a [ after @ is not closed")
			}
		default:
			return path, nil
		}
	}
	return path, nil
}

// quoted reads a quoted text with JSON's escapes (and \' for ').
func (p *filterParser) quoted() (string, error) {
	q := p.s[p.i]
	var b strings.Builder
	for p.i++; p.i < len(p.s); p.i++ {
		c := p.s[p.i]
		switch {
		case c == q:
			p.i++
			return b.String(), nil
		case c != '\\':
			b.WriteByte(c)
			continue
		}
		if p.i++; p.i >= len(p.s) {
			break
		}
		switch e := p.s[p.i]; e {
		case '\'', '"', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			if p.i+4 >= len(p.s) {
				return "", errors.New(`a \u escape needs four hex digits`)
			}
			r, err := strconv.ParseUint(p.s[p.i+1:p.i+5], 16, 16)
			if err != nil {
				return "", errors.New(`a \u escape needs four hex digits`)
			}
			p.i += 4
			// A character past U+FFFF is written as two escapes (a
			// surrogate pair), as in JSON.
			if utf16.IsSurrogate(rune(r)) && strings.HasPrefix(p.s[p.i+1:], `\u`) && p.i+6 < len(p.s) {
				if r2, err := strconv.ParseUint(p.s[p.i+3:p.i+7], 16, 16); err == nil {
					if c := utf16.DecodeRune(rune(r), rune(r2)); c != utf8.RuneError {
						b.WriteRune(c)
						p.i += 6
						continue
					}
				}
			}
			b.WriteRune(rune(r))
		default:
			return "", errors.New(`unknown escape \` + string(e))
		}
	}
	return "", errors.New("a quoted text is not closed")
}

// jsonNumber is JSON's number syntax.
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// number reads a JSON number; an integer that fits stays an int64, as
// the answer's parser keeps it.
func (p *filterParser) number() (filterOperand, error) {
	start := p.i
	for p.i < len(p.s) && strings.IndexByte("+-.0123456789eE", p.s[p.i]) >= 0 {
		p.i++
	}
	s := p.s[start:p.i]
	if !jsonNumber.MatchString(s) {
		return filterOperand{}, errors.New(flow.Quote(s) + " is not a number")
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return filterOperand{lit: n}, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return filterOperand{}, errors.New(flow.Quote(s) + " is not a number")
	}
	return filterOperand{lit: f}, nil
}

// tests counts e's comparisons and presence tests.
func (e *filterExpr) tests() int {
	switch {
	case e == nil:
		return 0
	case e.kind == '=' || e.kind == '?':
		return 1
	}
	return e.l.tests() + e.r.tests()
}

func (e *filterExpr) hasVars() bool {
	if e == nil {
		return false
	}
	return e.a.tmpl != "" || e.b.tmpl != "" || e.l.hasVars() || e.r.hasVars()
}

// bind returns e with its {{variables}} filled from vars: e itself when
// it has none, else a copy (e is shared by every call of a prepared step).
func (e *filterExpr) bind(vars flow.Lookup) *filterExpr {
	if e == nil || !e.hasVars() {
		return e
	}
	c := *e
	c.l, c.r = e.l.bind(vars), e.r.bind(vars)
	for _, o := range []*filterOperand{&c.a, &c.b} {
		if o.tmpl != "" {
			text := flow.Interpolate(o.tmpl, vars)
			o.lit, o.read = text, readText(text)
		}
	}
	return &c
}

// holds reports whether the test holds for the element v.
func (e *filterExpr) holds(v any) bool {
	switch e.kind {
	case '|':
		return e.l.holds(v) || e.r.holds(v)
	case '&':
		return e.l.holds(v) && e.r.holds(v)
	case '!':
		return !e.l.holds(v)
	case '?':
		_, ok := e.a.value(v)
		return ok
	}
	a, b := e.a.side(v), e.b.side(v)
	switch e.op {
	case "==":
		return filterEqual(a, b)
	case "!=":
		return !filterEqual(a, b)
	case "<":
		return filterLess(a, b)
	case ">":
		return filterLess(b, a)
	case "<=":
		return filterLess(a, b) || filterEqual(a, b)
	case ">=":
		return filterLess(b, a) || filterEqual(a, b)
	}
	return false
}

func (o *filterOperand) side(v any) side {
	x, ok := o.value(v)
	return side{v: x, ok: ok, read: o.read}
}

// value is the operand's value for the element v; false when a path
// reaches nothing.
func (o *filterOperand) value(v any) (any, bool) {
	if !o.rel {
		return o.lit, true
	}
	for _, k := range o.path {
		switch k := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			if v, ok = m[k]; !ok {
				return nil, false
			}
		case int:
			el, ok := nth(v, k)
			if !ok {
				return nil, false
			}
			v = el
		}
	}
	return v, true
}

// side is one side of a comparison: its value, whether there was one,
// and whether it is a {{variable}}'s text.
type side struct {
	v    any
	ok   bool
	read *readAs // for a {{variable}}'s text, nil otherwise
}

// number returns the side as a number. A {{variable}}'s text counts as a
// number when it reads as one, so '{{order_id}}' finds "id": 42.
func (s side) number() (float64, bool) {
	switch n := s.v.(type) {
	case int64:
		return float64(n), true
	case float64:
		return n, true
	case json.Number: // an integer too big for int64
		f, err := n.Float64()
		return f, err == nil
	case string:
		if s.read != nil {
			return s.read.f, s.read.fok
		}
	}
	return 0, false
}

// integer returns the side as an int64, exactly: an integer in the answer,
// or a {{variable}}'s text that reads as one. IDs past 2^53 differ in
// their last digits, which float64 would lose.
func (s side) integer() (int64, bool) {
	switch n := s.v.(type) {
	case int64:
		return n, true
	case string:
		if s.read != nil {
			return s.read.i, s.read.iok
		}
	}
	return 0, false
}

// boolean returns the side as true or false: a JSON boolean, or a
// {{variable}}'s text "true" or "false".
func (s side) boolean() (bool, bool) {
	switch b := s.v.(type) {
	case bool:
		return b, true
	case string:
		if s.read != nil {
			return s.read.b, s.read.bok
		}
	}
	return false, false
}

func filterEqual(a, b side) bool {
	if !a.ok || !b.ok {
		return !a.ok && !b.ok
	}
	xs, as := a.v.(string)
	ys, bs := b.v.(string)
	switch {
	case as && bs: // two texts compare as texts, variables or not
		return xs == ys
	case a.v == nil || b.v == nil:
		return a.v == nil && b.v == nil
	}
	if x, ok := a.integer(); ok {
		if y, ok := b.integer(); ok {
			return x == y
		}
	}
	if x, ok := a.number(); ok {
		if y, ok := b.number(); ok {
			return x == y
		}
	}
	if x, ok := a.boolean(); ok {
		if y, ok := b.boolean(); ok {
			return x == y
		}
	}
	return false // a list or an object, or values of two kinds
}

func filterLess(a, b side) bool {
	if !a.ok || !b.ok {
		return false
	}
	xs, as := a.v.(string)
	ys, bs := b.v.(string)
	if as && bs {
		return xs < ys
	}
	if x, ok := a.integer(); ok {
		if y, ok := b.integer(); ok {
			return x < y
		}
	}
	if x, ok := a.number(); ok {
		if y, ok := b.number(); ok {
			return x < y
		}
	}
	return false
}

// eachChild calls fn with the elements of a list or the values of an
// object (by key order, so the first match is the same on every call),
// until fn returns false; it reports whether fn always returned true.
func eachChild(v any, fn func(any) bool) bool {
	switch x := v.(type) {
	case []any:
		for _, el := range x {
			if !fn(el) {
				return false
			}
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if !fn(x[k]) {
				return false
			}
		}
	}
	return true
}
