package flow

import (
	"strconv"
	"strings"
)

// Severity tells whether a problem blocks publishing.
type Severity string

// Severities of a problem.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Problem is one validation finding. Pointer is a JSON pointer into the
// validated document (for a flow: "/steps/3/url"); Code is a stable
// snake_case word a client can switch on.
type Problem struct {
	Pointer  string   `json:"pointer"`
	Code     string   `json:"code"`
	Message  string   `json:"message"`
	Severity Severity `json:"severity"`
}

// Problems is a list of findings.
type Problems []Problem

// Add appends an error-severity problem.
func (p *Problems) Add(pointer, code, message string) {
	*p = append(*p, Problem{Pointer: pointer, Code: code, Message: message, Severity: SeverityError})
}

// Warn appends a warning.
func (p *Problems) Warn(pointer, code, message string) {
	*p = append(*p, Problem{Pointer: pointer, Code: code, Message: message, Severity: SeverityWarning})
}

// HasErrors reports whether any problem has error severity.
func (p Problems) HasErrors() bool {
	for _, x := range p {
		if x.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Pointer joins JSON pointer tokens, escaping "~" and "/" (RFC 6901).
func Pointer(tokens ...string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		t = strings.ReplaceAll(t, "~", "~0")
		b.WriteString(strings.ReplaceAll(t, "/", "~1"))
	}
	return b.String()
}

// StepPointer is the JSON pointer of step i of a flow, followed by rel
// (itself a pointer such as "/url", or "").
func StepPointer(i int, rel string) string {
	return "/steps/" + strconv.Itoa(i) + rel
}

func itoa(i int) string { return strconv.Itoa(i) }
