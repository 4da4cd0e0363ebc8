package botstep

import (
	"fmt"
	"unicode/utf8"

	"github.com/flowbot/flowbot/flow"
)

// checkTemplate reports an unclosed "{{" and every reference in s that is
// neither a variable name nor a system variable. It returns the
// references found and whether every "{{" was closed.
func checkTemplate(p *flow.Problems, ptr, field, s string) ([]flow.TemplateRef, bool) {
	refs, unclosed := flow.ScanTemplate(s)
	if unclosed >= 0 {
		p.Add(ptr, CodeUnclosedTemplate, fmt.Sprintf("%s has a \"{{\" at byte %d that is never closed with \"}}\"", field, unclosed))
	}
	for _, r := range refs {
		if !IsReadableVariable(r.Name) {
			p.Add(ptr, CodeInvalidTemplateVar, templateVarProblem(field, r.Name))
		}
	}
	return refs, unclosed < 0
}

func templateVarProblem(field, name string) string {
	return fmt.Sprintf("%s uses {{%s}}, which is not a variable: use a name of 1 to 64 lowercase letters, digits or \"_\", or a system variable such as user.name",
		field, clip(name))
}

// clip shortens s for a message.
func clip(s string) string {
	q := flow.Quote(s)
	return q[1 : len(q)-1]
}

// checkText reports a text field (a template) that is required but empty,
// over flow.MaxTextLen characters, or that names a bad variable.
func checkText(p *flow.Problems, ptr, field, s string, required bool) {
	if s == "" {
		if required {
			p.Add(ptr, CodeMissingField, field+" is required")
		}
		return
	}
	checkLength(p, ptr, field, s)
	checkTemplate(p, ptr, field, s)
}

// checkLength reports s over flow.MaxTextLen characters (runes, as a
// person counts them, not bytes).
func checkLength(p *flow.Problems, ptr, field, s string) {
	checkMaxLength(p, ptr, field, s, flow.MaxTextLen)
}

// checkMaxLength reports s over max characters (text_too_long).
func checkMaxLength(p *flow.Problems, ptr, field, s string, max int) {
	if len(s) <= max {
		return // fast path: bytes >= runes
	}
	if n := utf8.RuneCountInString(s); n > max {
		p.Add(ptr, CodeTextTooLong, fmt.Sprintf("%s is %d characters; the limit is %d", field, n, max))
	}
}
