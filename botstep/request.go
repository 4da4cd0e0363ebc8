package botstep

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/flowbot/flowbot/flow"
)

// Version is flowbot's version, sent in the User-Agent of every api_call.
const Version = "0.1.0"

// userAgent is the User-Agent of every outbound call.
var userAgent = "flowbot/" + Version

// StepError is a run-time refusal of an api_call before any request is
// made, such as a period in a path value (SPEC §3 rule 4).
type StepError struct {
	Code    string
	Message string
}

// Error implements error.
func (e *StepError) Error() string { return e.Message }

// Run-time error codes of an api_call outcome.
const (
	ErrCodePeriodInPath      = "period_in_path_variable"
	ErrCodeEmptyPathVariable = "empty_path_variable"
	ErrCodeHeaderValue       = "invalid_header_value"
	ErrCodeBody              = "invalid_body"
	ErrCodeInvalidStep       = "invalid_step"
	ErrCodeConnection        = "connection_error"
	ErrCodeCredentialRefused = "credential_not_allowed"
	ErrCodeTimeout           = "timeout"
	ErrCodeNetwork           = "network_error"
	ErrCodeTLS               = "tls_error"
	ErrCodeTooLarge          = "response_too_large"
	ErrCodeTooDeep           = "response_too_deep"
	ErrCodeRedirect          = "redirect_refused"
	ErrCodeBlocked           = "blocked_address"
	ErrCodeHTTPStatus        = "http_status"
	// ErrCodeSuccessCondition: a 2xx answer failed the step's success_when.
	ErrCodeSuccessCondition = "success_condition_failed"
)

// builtRequest is an api_call's request before it is sent.
type builtRequest struct {
	method string
	url    string
	header http.Header
	body   []byte
}

// buildRequest turns a step and the variables in scope into the exact
// request: URL values encoded by position, header values re-checked after
// substitution, a JSON body built as JSON with values inserted as escaped
// string contents. Values are substituted once and never expanded again.
func buildRequest(p *prepared, s *flow.Step, vars flow.Lookup) (*builtRequest, error) {
	u, err := p.url.Render(vars)
	if err != nil {
		var pe *PathVariableError
		if errors.As(err, &pe) {
			return nil, &StepError{Code: ErrCodePeriodInPath, Message: "the value of {{" + pe.Name + "}} contains a period (.), which is not allowed in a URL path segment; the call was not made"}
		}
		var ee *EmptyPathSegmentError
		if errors.As(err, &ee) {
			return nil, &StepError{Code: ErrCodeEmptyPathVariable, Message: ee.Error()}
		}
		return nil, &StepError{Code: ErrCodeInvalidStep, Message: err.Error()}
	}
	r := &builtRequest{method: s.Method, url: u, header: make(http.Header, len(s.Headers)+3)}
	for i, h := range s.Headers {
		v := expand(h.Value, vars, nil)
		if n := utf8.RuneCountInString(v); n > flow.MaxHeaderValueLen {
			return nil, &StepError{Code: ErrCodeHeaderValue, Message: "header " + h.Key + " is " + strconv.Itoa(n) + " characters after its variables were filled in; the limit is " + strconv.Itoa(flow.MaxHeaderValueLen) + " (headers/" + strconv.Itoa(i) + ")"}
		}
		if i := controlByte(v); i >= 0 {
			return nil, &StepError{Code: ErrCodeHeaderValue, Message: "header " + h.Key + " would contain a control character (" + strconv.QuoteRune(rune(v[i])) + ") after its variables were filled in; line breaks and NUL are not allowed; the call was not made"}
		}
		if strings.EqualFold(h.Key, "Accept-Encoding") {
			// Left to the transport, which asks for gzip and decompresses
			// it itself, so the 1 MiB cap applies after decompression and
			// the body can be mapped; with the designer's value the body
			// would arrive still compressed.
			continue
		}
		r.header.Add(h.Key, v)
	}
	if s.Body != nil && *s.Body != "" && bodyAllowed(s.Method) {
		switch s.BodyType {
		case flow.BodyText:
			r.body = []byte(expand(*s.Body, vars, nil))
			setDefault(r.header, "Content-Type", s.ContentType)
		default:
			b, err := expandJSONBody(*s.Body, vars)
			if err != nil {
				return nil, &StepError{Code: ErrCodeBody, Message: err.Error() + "; the call was not made"}
			}
			r.body = []byte(b)
			if !json.Valid(r.body) {
				return nil, &StepError{Code: ErrCodeBody, Message: "the JSON body is not valid JSON once its variables are filled in; the call was not made"}
			}
			setDefault(r.header, "Content-Type", "application/json")
		}
		if len(r.body) > flow.MaxBodyBytes {
			return nil, &StepError{Code: ErrCodeBody, Message: "the body is " + strconv.Itoa(len(r.body)) + " bytes once its variables are filled in; the limit is " + strconv.Itoa(flow.MaxBodyBytes) + " (64 KiB); the call was not made"}
		}
	}
	setDefault(r.header, "Accept", "application/json")
	r.header.Set("User-Agent", userAgent)
	return r, nil
}

// controlByte returns the index of the first control character of v but
// tab (the characters validation refuses in a header value, and that
// net/http would refuse to send), or -1.
func controlByte(v string) int {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return i
		}
	}
	return -1
}

func bodyAllowed(method string) bool {
	return method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch
}

func setDefault(h http.Header, k, v string) {
	if v != "" && h.Get(k) == "" {
		h.Set(k, v)
	}
}

// jsonEscape escapes s as the inside of a JSON string literal, so a value
// such as `","admin":true,"x":"` stays one string.
func jsonEscape(s string) string {
	if !needsJSONEscape(s) {
		return s
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	out := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	return string(out[1 : len(out)-1])
}

// needsJSONEscape reports whether s holds a byte that JSON escapes or that
// may start one (non-ASCII: invalid UTF-8, U+2028, U+2029); values
// without one, the common case, are inserted as they are.
func needsJSONEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			return true
		}
	}
	return false
}

// expand is Expand for a template that may hold no variable at all, such
// as most header values: those are returned without scanning.
func expand(s string, vars flow.Lookup, escape func(string) string) string {
	if !strings.Contains(s, "{{") {
		return s
	}
	return Expand(s, vars, escape)
}
