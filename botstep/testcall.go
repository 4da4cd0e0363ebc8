package botstep

import (
	"context"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/flowbot/flowbot/flow"
)

// Limits of what a test call shows.
const (
	maxShownBody   = 64 << 10
	maxPaths       = 500
	maxSampleLen   = 120
	maxArrayShown  = 3
	maxTestValues  = 100
	maxTestValueSz = 4096
)

// TestCall is what a designer sees after trying an unsaved step (SPEC §3).
type TestCall struct {
	Request    TestRequest       `json:"request"`
	Response   *TestResponse     `json:"response"`
	DurationMS float64           `json:"duration_ms"`
	Variables  map[string]string `json:"variables"`
	Branch     string            `json:"branch"`
	Error      *TestError        `json:"error"`
	Paths      []PathSample      `json:"paths"`
}

// TestRequest is the exact request, credentials shown as "*****".
type TestRequest struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    *string           `json:"body"`
}

// TestResponse is the API's answer, its body cut for display.
type TestResponse struct {
	Status    int               `json:"status"`
	Headers   map[string]string `json:"headers"`
	Body      string            `json:"body"`
	Truncated bool              `json:"truncated"`
}

// TestError is why the call took the failure branch.
type TestError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// PathSample is one JSONPath in the response body with a sample value;
// the builder turns a click on it into a response variable.
type PathSample struct {
	Path   string `json:"path"`
	Sample string `json:"sample"`
	Type   string `json:"type"`
}

// Test runs step s with the designer's test values through the same code
// path as the runtime.
func (x *Executor) Test(ctx context.Context, s *flow.Step, values map[string]string) *TestCall {
	lookup := func(name string) (string, bool) { v, ok := values[name]; return v, ok }
	o := x.Execute(ctx, s, lookup)
	tc := &TestCall{
		Request:    TestRequest{Method: o.Method, URL: o.URL, Headers: flatten(o.RequestHeader)},
		DurationMS: float64(o.Duration.Microseconds()) / 1000,
		Variables:  o.Saved,
		Branch:     "failure",
		Paths:      []PathSample{},
	}
	if o.RequestBody != nil {
		b := string(o.RequestBody)
		tc.Request.Body = &b
	}
	if o.Success {
		tc.Branch = "success"
	}
	if o.ErrorCode != "" {
		tc.Error = &TestError{Code: o.ErrorCode, Message: o.ErrorMessage}
	}
	if o.Status != 0 {
		body, cut := o.Body, false
		if len(body) > maxShownBody {
			body, cut = body[:maxShownBody], true
		}
		tc.Response = &TestResponse{Status: o.Status, Headers: flatten(o.Header), Body: strings.ToValidUTF8(string(body), "\uFFFD"), Truncated: cut}
		if o.data != nil {
			tc.Paths = pathsOf(o.data)
		}
	}
	return tc
}

// ValidateTestValues checks the designer's test values.
func ValidateTestValues(values map[string]string) flow.Problems {
	var p flow.Problems
	if len(values) > maxTestValues {
		p.Add("/test_values", "too_many_values", "at most "+strconv.Itoa(maxTestValues)+" test values")
	}
	for k, v := range values {
		if utf8.RuneCountInString(v) > maxTestValueSz {
			p.Add("/test_values"+flow.Pointer(k), "value_too_long", "a test value may be at most "+strconv.Itoa(maxTestValueSz)+" characters")
		}
	}
	return p
}

func flatten(h map[string][]string) map[string]string {
	m := make(map[string]string, len(h))
	for k, v := range h {
		m[k] = strings.Join(v, ", ")
	}
	return m
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// pathsOf lists the JSONPaths of a parsed body, depth first, with the
// first few elements of each array.
func pathsOf(v any) []PathSample {
	out := []PathSample{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		if len(out) >= maxPaths {
			return
		}
		if path != "$" {
			out = append(out, PathSample{Path: path, Sample: sample(v), Type: kind(v)})
		}
		switch x := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if identRE.MatchString(k) {
					walk(path+"."+k, x[k])
				} else {
					walk(path+"['"+strings.ReplaceAll(strings.ReplaceAll(k, `\`, `\\`), "'", `\'`)+"']", x[k])
				}
			}
		case []any:
			for i, e := range x {
				if i >= maxArrayShown {
					break
				}
				walk(path+"["+strconv.Itoa(i)+"]", e)
			}
		}
	}
	walk("$", v)
	return out
}

func sample(v any) string {
	s := textOf(v)
	if utf8.RuneCountInString(s) > maxSampleLen {
		s = string([]rune(s)[:maxSampleLen]) + "…"
	}
	return s
}

func kind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return "number"
}
