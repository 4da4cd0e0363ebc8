package botstep

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/flowbot/flowbot/flow"
	"github.com/ohler55/ojg/jp"
	"github.com/ohler55/ojg/oj"
)

// save maps a response read whole (2xx, or 4xx/5xx for the failure
// branch) to variables (SPEC §3 rules 8 and 10): a
// scalar as text, an array or object as compact JSON; a path that matches
// nothing, JSON null, an empty body or a body that is not JSON leaves the
// variable unset. $status and $headers.<name> read the response itself.
func (o *Outcome) save(s *flow.Step, p *prepared) {
	if len(bytes.TrimSpace(o.Body)) > 0 {
		if v, err := oj.Parse(o.Body); err == nil {
			o.data = v
		}
	}
	for i, v := range s.Variables {
		rp := p.paths[i]
		switch {
		case rp.Status, rp.Header != "", rp.Body:
			o.saveOne(v.Name, rp)
		case o.data != nil:
			if got := firstOf(rp.Expr, o.data); got != nil {
				o.Saved[v.Name] = textOf(got)
			}
		}
	}
}

// firstOf returns the first value x selects in data, nil for none. A
// path of plain keys and indexes ("$.order.items[0].name", nearly every
// path in practice) is walked here; anything else, or data of another
// shape than a key or index expects, goes to jp, whose general search
// allocates a 64-entry stack on every call.
func firstOf(x jp.Expr, data any) any {
	v := data
	for i, f := range x {
		switch f := f.(type) {
		case jp.Root:
			if i != 0 {
				return x.First(data)
			}
		case jp.Bracket: // notation only
		case jp.Child:
			m, ok := v.(map[string]any)
			if !ok {
				return x.First(data)
			}
			if v, ok = m[string(f)]; !ok {
				return nil
			}
		case jp.Nth:
			a, ok := v.([]any)
			if !ok {
				return x.First(data)
			}
			n := int(f)
			if n < 0 {
				n += len(a)
			}
			if n < 0 || n >= len(a) {
				return nil
			}
			v = a[n]
		default:
			return x.First(data)
		}
	}
	return v
}

// saveMeta saves only $status and $headers.<name> variables; it runs for
// answers not read whole (a refused redirect, a body over the cap), so a
// branch step can still route on the status code.
func (o *Outcome) saveMeta(s *flow.Step, p *prepared) {
	for i, v := range s.Variables {
		o.saveOne(v.Name, p.paths[i])
	}
}

func (o *Outcome) saveOne(name string, rp ResponsePath) {
	switch {
	case rp.Status:
		o.Saved[name] = strconv.Itoa(o.Status)
	case rp.Header != "":
		if hv := o.Header.Values(rp.Header); len(hv) > 0 {
			o.Saved[name] = hv[0]
		}
	case rp.Body:
		if len(o.Body) > 0 {
			o.Saved[name] = strings.ToValidUTF8(string(o.Body), "\uFFFD")
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
