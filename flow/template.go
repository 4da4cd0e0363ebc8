package flow

import "strings"

// TemplateRef is one {{name}} found in a template: Start and End are the
// byte offsets of the whole reference, Name the trimmed name inside.
type TemplateRef struct {
	Start, End int
	Name       string
}

// ScanTemplate finds every {{name}} reference in s, in order. An opening
// "{{" without a closing "}}" is reported by unclosed (its offset, or -1).
func ScanTemplate(s string) (refs []TemplateRef, unclosed int) {
	for i := 0; ; {
		r, ok := nextRef(s, i)
		if !ok {
			return refs, r.Start
		}
		refs = append(refs, r)
		i = r.End
	}
}

// nextRef is the one template scanner: it finds the first {{name}}
// reference in s at or after byte i. When there is none it returns
// ok=false, with Start the offset of an unclosed "{{" or -1.
func nextRef(s string, i int) (r TemplateRef, ok bool) {
	j := strings.Index(s[i:], "{{")
	if j < 0 {
		return TemplateRef{Start: -1}, false
	}
	start := i + j
	k := strings.Index(s[start+2:], "}}")
	if k < 0 {
		return TemplateRef{Start: start}, false
	}
	end := start + 2 + k + 2
	return TemplateRef{Start: start, End: end, Name: strings.TrimSpace(s[start+2 : end-2])}, true
}

// Interpolate replaces every {{name}} in tmpl by its value; an unset
// variable is dropped. Values are inserted once and never expanded again,
// so a user who types "{{x}}" gets the text "{{x}}".
func Interpolate(tmpl string, vars Lookup) string { return Expand(tmpl, vars, nil) }

// Expand is Interpolate with an escape applied to each inserted value
// (when escape is not nil), e.g. JSON string escaping for a JSON body. An
// unclosed "{{" and everything after it is kept as typed. It scans as it
// writes, so the only allocation is the result.
func Expand(tmpl string, vars Lookup, escape func(string) string) string {
	r, ok := nextRef(tmpl, 0)
	if !ok {
		return tmpl
	}
	var b strings.Builder
	b.Grow(len(tmpl) + 32)
	last := 0
	for ok {
		b.WriteString(tmpl[last:r.Start])
		var v string
		if vars != nil {
			v, _ = vars(r.Name)
		}
		if escape != nil {
			v = escape(v)
		}
		b.WriteString(v)
		last = r.End
		r, ok = nextRef(tmpl, last)
	}
	b.WriteString(tmpl[last:])
	return b.String()
}

// MaxVariableNameLen is the longest variable name.
const MaxVariableNameLen = 64

// IsVariableName reports whether s is a designer variable name:
// ^[a-z0-9_]{1,64}$.
func IsVariableName(s string) bool {
	if len(s) == 0 || len(s) > MaxVariableNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// SystemVariables are the read-only variables set from a conversation's
// start request (SPEC §2).
var SystemVariables = []string{"user.external_id", "user.name", "user.email", "user.authenticated", "user.locale", "conversation.id"}

// IsSystemVariable reports whether name is a system variable.
func IsSystemVariable(name string) bool {
	for _, s := range SystemVariables {
		if s == name {
			return true
		}
	}
	return false
}

// Lookup returns the variable lookup of a conversation: system variables
// first, then the designer's variables.
func (c *Conversation) Lookup() Lookup {
	return func(name string) (string, bool) {
		switch name {
		case "user.external_id":
			return c.User.ExternalID, c.User.ExternalID != ""
		case "user.name":
			return c.User.Name, c.User.Name != ""
		case "user.email":
			return c.User.Email, c.User.Email != ""
		case "user.locale":
			return c.User.Locale, c.User.Locale != ""
		case "user.authenticated":
			if c.User.Authenticated {
				return "true", true
			}
			return "false", true
		case "conversation.id":
			return c.ID, true
		}
		v, ok := c.Vars[name]
		return v, ok
	}
}
