package botstep

import "github.com/flowbot/flowbot/flow"

// Expand is flow.Interpolate with an escape for the inserted values: each
// {{name}} in s becomes value(name) passed through escape (when not nil),
// an unset variable becomes "" (SPEC §2). It finds references with
// flow.ScanTemplate, the one scanner validation and the runtime share.
// Values are inserted once and never scanned again, so a value holding
// "{{x}}" stays literal text. An unclosed "{{" and everything after it is
// kept as typed.
func Expand(s string, value func(name string) (string, bool), escape func(string) string) string {
	return flow.Expand(s, value, escape)
}
