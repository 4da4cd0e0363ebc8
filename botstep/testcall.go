package botstep

import (
	"context"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ohler55/ojg"

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
	// FilterPath, when set, reaches the same value with a filter in
	// place of a list index: the element is picked by a field that
	// tells the list's elements apart ($.emails[?(@.type == 'home')].email
	// for $.emails[1].email), so it holds when the API orders the list
	// otherwise.
	FilterPath string `json:"filter_path,omitempty"`
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

// maxPathDepth bounds how deep pathsOf lists paths: an answer may nest up
// to maxAnswerDepth levels, and a designer picks from the first few.
const maxPathDepth = 32

// pathsOf lists the JSONPaths of a parsed body, depth first, with the
// first few elements of each array, down to maxPathDepth levels.
func pathsOf(v any) []PathSample {
	out := []PathSample{}
	w := sampler{keys: map[uintptr][]string{}}
	var walk func(path, fpath string, v any, depth int)
	walk = func(path, fpath string, v any, depth int) {
		if path != "$" {
			ps := PathSample{Path: path, Sample: w.sample(v), Type: kind(v)}
			if fpath != path && utf8.RuneCountInString(fpath) <= maxPathLen {
				ps.FilterPath = fpath
			}
			out = append(out, ps)
		}
		if depth >= maxPathDepth {
			return
		}
		switch x := v.(type) {
		case map[string]any:
			for _, k := range w.sorted(x) {
				if len(out) >= maxPaths {
					return
				}
				step := "." + k
				if !identRE.MatchString(k) {
					step = "['" + quoteName(k) + "']"
				}
				walk(path+step, fpath+step, x[k], depth+1)
			}
		case []any:
			key := keyField(x)
			for i, e := range x[:min(len(x), maxArrayShown)] {
				if len(out) >= maxPaths {
					return
				}
				step := "[" + strconv.Itoa(i) + "]"
				fstep := step
				if key != "" {
					fstep = "[?(@." + key + " == '" + quoteName(e.(map[string]any)[key].(string)) + "')]"
				}
				walk(path+step, fpath+fstep, e, depth+1)
			}
		}
	}
	walk("$", "$", v, 0)
	return out
}

// quoteName escapes a text for single quotes in a path.
func quoteName(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`)
}

// keyFieldNames are the fields that tell a list's elements apart by what
// they are, most telling first. Only these are offered: another field
// (an id, an email, a date) would name one record, which the next
// conversation's answer will not have.
var keyFieldNames = []string{"type", "kind", "category", "role", "code", "key", "name", "label", "title",
	"slug", "status", "lang", "language", "locale", "currency", "channel", "rel", "method"}

// keyField returns the field of keyFieldNames by which a filter can pick
// each element of list: a text in every element, a different one in each,
// that a filter can quote as it is (no "{{", which would read as a
// variable, and no control character); "" when the elements are not all
// objects or no field does. It reads the list once per name tried.
func keyField(list []any) string {
	if len(list) == 0 {
		return ""
	}
	first, ok := list[0].(map[string]any)
	if !ok {
		return ""
	}
	try := func(k string) bool {
		seen := make(map[string]struct{}, len(list))
		for _, e := range list {
			m, ok := e.(map[string]any)
			if !ok {
				return false
			}
			s, ok := m[k].(string)
			if !ok || s == "" || strings.Contains(s, "{{") || strings.ContainsFunc(s, unicode.IsControl) {
				return false
			}
			if _, dup := seen[s]; dup {
				return false
			}
			seen[s] = struct{}{}
		}
		return true
	}
	for _, k := range keyFieldNames {
		if _, ok := first[k]; ok && try(k) {
			return k
		}
	}
	return ""
}

// sampler writes the samples of one answer's paths. A sample is the
// start of the value's text as a variable would save it (textOf), at most
// maxSampleLen characters and "…" when cut. Only that start is written:
// writing each listed path's whole subtree to keep 120 characters cost
// the answer's size once per level (a 1 MiB answer nested 500 deep took
// a minute and 5 GB). keys holds each object's sorted keys, so an object
// is sorted once however many samples show it.
type sampler struct {
	buf  []byte
	keys map[uintptr][]string
}

// sampleBytes is how many bytes of text are written for a sample: a
// character is at most 4 bytes, so more than that is more than
// maxSampleLen characters. Strings are cut at sampleBytes+4 bytes, as
// cutAt may step back over three bytes of a character.
const sampleBytes = 4 * maxSampleLen

// sample is v's sample.
func (w *sampler) sample(v any) string {
	w.buf = w.buf[:0]
	switch x := v.(type) {
	case string:
		w.buf = append(w.buf, x[:cutAt(x, sampleBytes+4)]...) // saved as is, not as JSON
	case map[string]any, []any:
		w.write(v)
	default:
		w.buf = append(w.buf, textOf(v)...) // a number, boolean or null
	}
	n := 0
	for i := range string(w.buf) { // no copy: the compiler ranges over the bytes
		if n == maxSampleLen {
			return string(w.buf[:i]) + "…"
		}
		n++
	}
	return string(w.buf)
}

// write appends v as textOf writes it (oj's compact JSON, keys sorted,
// HTML characters escaped) until the buffer holds more than sampleBytes.
func (w *sampler) write(v any) {
	if len(w.buf) > sampleBytes {
		return
	}
	switch x := v.(type) {
	case string:
		w.buf = ojg.AppendJSONString(w.buf, x[:cutAt(x, sampleBytes+4)], true)
	case map[string]any:
		w.buf = append(w.buf, '{')
		for i, k := range w.sorted(x) {
			if len(w.buf) > sampleBytes {
				return
			}
			if i > 0 {
				w.buf = append(w.buf, ',')
			}
			w.buf = ojg.AppendJSONString(w.buf, k[:cutAt(k, sampleBytes+4)], true)
			w.buf = append(w.buf, ':')
			w.write(x[k])
		}
		w.buf = append(w.buf, '}')
	case []any:
		w.buf = append(w.buf, '[')
		for i, e := range x {
			if len(w.buf) > sampleBytes {
				return
			}
			if i > 0 {
				w.buf = append(w.buf, ',')
			}
			w.write(e)
		}
		w.buf = append(w.buf, ']')
	case float64:
		w.buf = strconv.AppendFloat(w.buf, x, 'g', -1, 64)
	default:
		w.buf = append(w.buf, textOf(v)...) // int64, bool, null
	}
}

// sorted returns m's keys in order, sorting them once per object.
func (w *sampler) sorted(m map[string]any) []string {
	id := reflect.ValueOf(m).Pointer()
	keys, ok := w.keys[id]
	if !ok {
		keys = make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		w.keys[id] = keys
	}
	return keys
}

// cutAt is the length of the start of s that is at most n bytes, cut
// before a character.
func cutAt[T string | []byte](s T, n int) int {
	if len(s) <= n {
		return len(s)
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
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
