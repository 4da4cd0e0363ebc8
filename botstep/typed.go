package botstep

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/flowbot/flowbot/flow"
)

// Typed values in a JSON body. A variable sits inside a JSON string
// literal (SPEC §3 rule 6) and is inserted as escaped text. A string
// literal that holds nothing but one variable with a type,
// "{{qty:number}}", "{{gift:boolean}}" or "{{items:json}}", is replaced
// whole, quotes included, by the value as that JSON type: an API that
// wants {"quantity": 2} gets a number, and a list an earlier call saved
// (as compact JSON) goes on as a list, not one field at a time. The
// template stays valid JSON as typed. An unset or empty value is sent as
// null; a value that is not of its type stops the call (invalid_body).

// Body value types.
const (
	TypeNumber  = "number"
	TypeBoolean = "boolean"
	TypeJSON    = "json"
)

// splitTyped splits a template reference "name:type" into its variable
// and type ("" for a plain reference).
func splitTyped(ref string) (name, typ string) {
	name, typ, _ = strings.Cut(ref, ":")
	return strings.TrimSpace(name), strings.TrimSpace(typ)
}

// checkTypedRefs reports, for a JSON body, each typed reference whose type
// is unknown or that is not alone in its string literal, and each plain
// reference that is not a variable. It stands in for checkTemplate's name
// check on JSON bodies.
func checkTypedRefs(p *flow.Problems, ptr, body string, refs []flow.TemplateRef) {
	n := len(*p)
	typed := false
	defer func() {
		// Alone in its quotes, but where no value may stand: an object
		// key, or quotes that are escaped inside another string. Plain
		// references are filled with letters first, as checkJSONTemplate
		// does, so only the typed ones are judged here.
		if !typed || len(*p) != n {
			return
		}
		sample := []byte(body)
		for _, r := range refs {
			if _, typ := splitTyped(r.Name); typ == "" {
				for j := r.Start; j < r.End; j++ {
					sample[j] = 'x'
				}
			}
		}
		if !json.Valid(sample) {
			return // checkJSONTemplate reports it
		}
		if filled, err := expandJSONBody(string(sample), nil); err != nil || !json.Valid([]byte(filled)) {
			p.Add(ptr, CodeTypedNotAlone, "body has a typed variable where no JSON value may stand (an object key, or inside another string); use it as a value: {\"quantity\": \"{{qty:number}}\"}")
		}
	}()
	for _, r := range refs {
		name, typ := splitTyped(r.Name)
		if !IsReadableVariable(name) {
			p.Add(ptr, CodeInvalidTemplateVar, templateVarProblem("body", r.Name))
			continue
		}
		if typ == "" && !strings.Contains(r.Name, ":") {
			continue
		}
		typed = true
		if strings.IndexFunc(body[r.Start:r.End], func(c rune) bool { return c < 0x20 }) >= 0 {
			p.Add(ptr, CodeInvalidTemplateVar, fmt.Sprintf("body has a typed variable with a line break or tab inside its braces at %s; write it on one line, for example \"{{%s:number}}\"", lineCol(body, r.Start), clip(name)))
			continue
		}
		switch typ {
		case TypeNumber, TypeBoolean, TypeJSON:
		default:
			p.Add(ptr, CodeInvalidTemplateVar, fmt.Sprintf("body has {{%s}}: after the colon give the type to send it as, number, boolean or json, for example \"{{%s:number}}\"", clip(r.Name), clip(name)))
			continue
		}
		if !aloneInQuotes(body, r) {
			p.Add(ptr, CodeTypedNotAlone, fmt.Sprintf("body has {{%s}} at %s with other text in its string; a typed value replaces the whole string, so write it alone in quotes: \"{{%s}}\"",
				clip(r.Name), lineCol(body, r.Start), clip(r.Name)))
		}
	}
}

// expandJSONBody fills a JSON body template: plain references as escaped
// text inside their strings, typed ones as JSON values in place of their
// whole string. Values are inserted once and never scanned again.
func expandJSONBody(body string, vars flow.Lookup) (string, error) {
	refs, _ := flow.ScanTemplate(body)
	if len(refs) == 0 {
		return body, nil
	}
	var b strings.Builder
	b.Grow(len(body) + 32)
	last := 0
	for _, r := range refs {
		name, typ := splitTyped(r.Name)
		var v string
		if vars != nil {
			v, _ = vars(name)
		}
		if typ == "" {
			b.WriteString(body[last:r.Start])
			b.WriteString(jsonEscape(v))
			last = r.End
			continue
		}
		if !aloneInQuotes(body, r) {
			return "", fmt.Errorf("{{%s}} is not alone in its string", r.Name)
		}
		val, err := typedValue(name, typ, v)
		if err != nil {
			return "", err
		}
		b.WriteString(body[last : r.Start-1])
		b.WriteString(val)
		last = r.End + 1
	}
	b.WriteString(body[last:])
	return b.String(), nil
}

// aloneInQuotes reports whether reference r fills its quotes in body:
// a quote right before it and right after it.
func aloneInQuotes(body string, r flow.TemplateRef) bool {
	return r.Start > 0 && r.End < len(body) && body[r.Start-1] == '"' && body[r.End] == '"'
}

// typedValue is v as a JSON value of typ, null when v is empty.
func typedValue(name, typ, v string) (string, error) {
	t := strings.TrimSpace(v)
	if t == "" {
		return "null", nil
	}
	bad := func(what string) error {
		return fmt.Errorf("{{%s}} is not %s", name, what)
	}
	switch typ {
	case TypeNumber:
		var n json.Number
		if (t[0] != '-' && (t[0] < '0' || t[0] > '9')) || json.Unmarshal([]byte(t), &n) != nil {
			return "", bad("a number")
		}
		return t, nil
	case TypeBoolean:
		switch t {
		case "true", "false":
			return t, nil
		}
		return "", bad("true or false")
	case TypeJSON:
		if !json.Valid([]byte(t)) {
			return "", bad("JSON")
		}
		return t, nil
	}
	return "", fmt.Errorf("{{%s:%s}} has an unknown type", name, typ)
}
