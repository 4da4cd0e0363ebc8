package botstep

import (
	"bytes"
	"strconv"

	"github.com/flowbot/flowbot/flow"
	"github.com/ohler55/ojg/oj"
)

// save maps a 2xx response to variables (SPEC §3 rules 8 and 10): a
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
		case rp.Status, rp.Header != "":
			o.saveOne(v.Name, rp)
		case o.data != nil:
			if got := rp.Expr.Get(o.data); len(got) > 0 && got[0] != nil {
				o.Saved[v.Name] = textOf(got[0])
			}
		}
	}
}

// saveMeta saves only $status and $headers.<name> variables; it runs for
// non-2xx answers, so a branch step can route on the status code.
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
	}
}

// textOf renders a JSON value as a variable's text.
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
	return oj.JSON(v, &oj.Options{Sort: false})
}
