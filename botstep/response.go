package botstep

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/flowbot/flowbot/connections"
	"github.com/flowbot/flowbot/flow"
	"github.com/ohler55/ojg/jp"
	"github.com/ohler55/ojg/oj"
)

// save maps a response read whole (2xx, or 4xx/5xx for the failure
// branch) to variables (SPEC §3 rules 8 and 10): a
// scalar as text, an array or object as compact JSON; a path that matches
// nothing, JSON null, an empty body or a body that is not JSON leaves the
// variable unset. $status and $headers.<name> read the response itself.
func (o *Outcome) save(s *flow.Step, p *prepared, vars flow.Lookup) {
	o.parse()
	for i, v := range s.Variables {
		if got, ok := o.valueOf(p.paths[i], vars); ok {
			o.Saved[v.Name] = got
		}
	}
}

// maxAnswerDepth bounds how deeply a JSON answer may nest arrays and
// objects. Reading a path, listing a test call's paths and saving an
// object all walk the answer; bounded depth keeps each walk, a recursive
// descent's above all, in proportion to the answer's size. Real APIs
// nest a dozen levels at most.
const maxAnswerDepth = 64

// parse sets o.data from a JSON body, once. A body nested deeper than
// maxAnswerDepth is not parsed: o.tooDeep is set instead.
func (o *Outcome) parse() {
	if o.parsed {
		return
	}
	o.parsed = true
	if b := bytes.TrimSpace(o.Body); len(b) > 0 {
		// Only an array or object nests; a text or HTML answer is not
		// JSON to measure (brackets in it mean nothing).
		if o.tooDeep = (b[0] == '[' || b[0] == '{') && nestedOver(b, maxAnswerDepth); o.tooDeep {
			return
		}
		if v, err := oj.Parse(o.Body); err == nil {
			o.data = v
			if len(o.secrets) > 0 {
				o.data, _ = redactAnswer(v, o.secrets)
			}
		}
	}
}

// redactAnswer replaces the secrets in every string and key of v, a
// parsed answer, in place; a string v, which cannot change in place, is
// returned changed, with true. The body was redacted before it was
// parsed, escaped echoes included; this is the check on what the
// variables, the test call's samples and success tests read, whatever
// escape parsing decoded. Its depth is bounded by maxAnswerDepth.
func redactAnswer(v any, secrets []string) (any, bool) {
	switch x := v.(type) {
	case string:
		if r := connections.RedactSecretsIn(x, secrets); r != x {
			return r, true
		}
	case []any:
		for i, e := range x {
			if r, changed := redactAnswer(e, secrets); changed {
				x[i] = r
			}
		}
	case map[string]any:
		for k, e := range x {
			if r, changed := redactAnswer(e, secrets); changed {
				x[k] = r
			}
			if r := connections.RedactSecretsIn(k, secrets); r != k {
				x[r] = x[k] // a key added while ranging may be visited again: redacting is idempotent
				delete(x, k)
			}
		}
	}
	return v, false
}

// nestedOver reports whether the JSON text b nests arrays and objects
// more than max levels deep. It counts brackets outside strings, so b
// need not be valid JSON.
func nestedOver(b []byte, max int) bool {
	if len(b) <= 2*max {
		return false // each level takes two bytes
	}
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			// Skip the string: to its closing quote, past escaped ones.
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case '[', '{':
			if depth++; depth > max {
				return true
			}
		case ']', '}':
			depth--
		}
	}
	return false
}

// valueOf reads rp in the answer as a variable would be saved from it;
// false when there is nothing there. vars fills the {{variables}} of
// rp's filters.
func (o *Outcome) valueOf(rp ResponsePath, vars flow.Lookup) (string, bool) {
	switch {
	case rp.Status:
		return strconv.Itoa(o.Status), true
	case rp.Header != "":
		if hv := o.Header.Values(rp.Header); len(hv) > 0 {
			return hv[0], true
		}
	case rp.Body:
		if len(o.Body) > 0 {
			return strings.ToValidUTF8(string(o.Body), "\uFFFD"), true
		}
	case o.data != nil:
		if got := firstFiltered(rp.Expr, rp.Filters, o.data, vars); got != nil {
			return textOf(got), true
		}
	}
	return "", false
}

// checkSuccess moves a 2xx answer to the failure branch when one of the
// step's success_when tests does not hold, saying which and what the
// answer had there.
func (o *Outcome) checkSuccess(s *flow.Step, p *prepared, vars flow.Lookup) {
	o.parse()
	for i, c := range s.SuccessWhen {
		got, ok := o.valueOf(p.succ[i], vars)
		want := flow.Interpolate(c.Value, vars)
		if flow.Compare(c.Op, got, ok, want) {
			continue
		}
		had := "nothing"
		if ok {
			had = flow.Quote(got)
		}
		test := c.Op
		if c.Op != flow.OpExists && c.Op != flow.OpNotExists {
			test += " " + flow.Quote(want)
		}
		o.Success = false
		// Counted from 1, as the panel shows them ("Test 2").
		o.fail(ErrCodeSuccessCondition, "the API answered "+strconv.Itoa(o.Status)+", but success test "+strconv.Itoa(i+1)+
			" did not hold: "+c.Path+" has "+had+", not "+test)
		return
	}
}

// firstOf returns the first value x selects in data, and whether there
// was one (it may be null). A path of plain keys and indexes
// ("$.order.items[0].name", nearly every path in practice) is walked here
// without a closure; anything else goes to firstMatch.
func firstOf(x jp.Expr, data any) (any, bool) {
	v := data
	for _, f := range x {
		switch f := f.(type) {
		case jp.Root, jp.Bracket: // notation only
		case jp.Child:
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			if v, ok = m[string(f)]; !ok {
				return nil, false
			}
		case jp.Nth:
			el, ok := nth(v, int(f))
			if !ok {
				return nil, false
			}
			v = el
		default:
			return firstMatch(x, data)
		}
	}
	return v, true
}

// firstFiltered returns the first value the path head, then each of
// filters, selects in data; nil for none, or when that value is null.
func firstFiltered(head jp.Expr, filters []PathFilter, data any, vars flow.Lookup) any {
	v, _ := firstSelected(head, filters, data, vars)
	return v
}

// firstSelected is firstFiltered, and whether anything was selected (a
// null counts: it is saved as nothing, but it is the first match).
func firstSelected(head jp.Expr, filters []PathFilter, data any, vars flow.Lookup) (any, bool) {
	if len(filters) == 0 {
		return firstOf(head, data)
	}
	f := filters[0]
	test := f.test.bind(vars)
	var found any
	ok := false
	keep := func(el any) bool {
		if test.holds(el) {
			found, ok = firstSelected(f.rest, filters[1:], el, vars)
		}
		return !ok
	}
	// The filter tests the children of each value the head selects. A
	// head ending in a descent (..) selects every value below its start,
	// each before its descendants, so the children of a value are tested
	// before those of its descendants (RFC 9535's order).
	walk(head, data, func(v any) bool { return eachChild(v, keep) })
	return found, ok
}

// walk calls fn with each value x selects in v, in document order (a
// list's elements in order, an object's members by key), until fn returns
// false; it reports whether fn always returned true. jp's own search
// visits an object's members in Go's random map order, so the first match
// of $.shops.*.name could change from one call to the next. pathCost
// admits only the fragments handled here.
func walk(x jp.Expr, v any, fn func(any) bool) bool {
	for i, f := range x {
		switch f := f.(type) {
		case jp.Root, jp.Bracket: // notation only
		case jp.Child:
			m, ok := v.(map[string]any)
			if !ok {
				return true
			}
			if v, ok = m[string(f)]; !ok {
				return true
			}
		case jp.Nth:
			el, ok := nth(v, int(f))
			if !ok {
				return true
			}
			v = el
		case jp.Wildcard:
			rest := x[i+1:]
			return eachChild(v, func(el any) bool { return walk(rest, el, fn) })
		case jp.Slice:
			a, ok := v.([]any)
			if !ok {
				return true
			}
			rest := x[i+1:]
			for _, el := range (jp.Expr{f}).Get(a) { // jp's slice rules; a list's order is fixed
				if !walk(rest, el, fn) {
					return false
				}
			}
			return true
		case jp.Union:
			rest := x[i+1:]
			for _, k := range f {
				var el any
				ok := false
				switch k := k.(type) {
				case string:
					if m, isMap := v.(map[string]any); isMap {
						el, ok = m[k]
					}
				case int64:
					el, ok = nth(v, int(k))
				}
				if ok && !walk(rest, el, fn) {
					return false
				}
			}
			return true
		case jp.Descent:
			rest := x[i+1:]
			var visit func(any) bool
			visit = func(n any) bool { return walk(rest, n, fn) && eachChild(n, visit) }
			return visit(v)
		default:
			return true
		}
	}
	return fn(v)
}

// nth returns element n of a list (from the end when negative).
func nth(v any, n int) (any, bool) {
	a, ok := v.([]any)
	if !ok {
		return nil, false
	}
	if n < 0 {
		n += len(a)
	}
	if n < 0 || n >= len(a) {
		return nil, false
	}
	return a[n], true
}

// firstMatch returns the first value x selects in data, in walk's order,
// and whether there was one (it may be null).
func firstMatch(x jp.Expr, data any) (any, bool) {
	var found any
	ok := false
	walk(x, data, func(v any) bool {
		found, ok = v, true
		return false
	})
	return found, ok
}

// saveMeta saves only $status and $headers.<name> variables; it runs for
// answers not read whole (a refused redirect, a body over the cap), so a
// branch step can still route on the status code.
func (o *Outcome) saveMeta(s *flow.Step, p *prepared) {
	for i, v := range s.Variables {
		if rp := p.paths[i]; rp.Status || rp.Header != "" || rp.Body {
			if got, ok := o.valueOf(rp, nil); ok {
				o.Saved[v.Name] = got
			}
		}
	}
}

// textOf renders a JSON value as a variable's text. Object keys are
// sorted: the parsed object is a map, so without sorting the same answer
// would be saved (and shown as a sample) with its keys in a different
// order on each call.
func textOf(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return oj.JSON(v, &oj.Options{Sort: true})
}
