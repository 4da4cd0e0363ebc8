package web

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/flowbot/flowbot/flow"
	"github.com/go-playground/validator/v10"
	"github.com/labstack/echo/v4"
)

// decodeJSON reads the request body into v strictly: a body sent as
// another media type is a 415; malformed JSON, a value of the wrong type
// and an unknown field are each a 400 naming the field by JSON pointer.
// Fields listed in readOnly (top level only) are accepted and ignored, so
// a client may send back what it read.
func decodeJSON(c echo.Context, v any, readOnly ...string) error {
	if err := checkContentType(c.Request()); err != nil {
		return err
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var mbe *echo.HTTPError
		if errors.As(err, &mbe) {
			return mbe
		}
		if strings.Contains(err.Error(), "too large") {
			return flow.Errorf(flow.ETOOLARGE, "request body is too large")
		}
		return flow.Errorf(flow.EINVALID, "could not read the request body")
	}
	return decodeBytes(body, v, readOnly...)
}

// checkContentType refuses a body whose Content-Type says it is not JSON,
// such as curl's default for -d (application/x-www-form-urlencoded) or
// text/plain: reading it as JSON anyway would take a form for a document.
// A body without a Content-Type is read as JSON, as it always was.
func checkContentType(r *http.Request) error {
	ct := r.Header.Get(echo.HeaderContentType)
	if ct == "" || r.ContentLength == 0 || jsonMediaType(ct) {
		return nil
	}
	return echo.NewHTTPError(http.StatusUnsupportedMediaType,
		fmt.Sprintf("Content-Type %q is not JSON: send the body as application/json (Content-Type: application/json)", ct))
}

// jsonMediaType reports whether a Content-Type names JSON:
// application/json or application/<anything>+json (such as
// application/merge-patch+json), with any parameters (charset=utf-8).
func jsonMediaType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.TrimSpace(mt)
	const app, suffix = "application/", "+json"
	if len(mt) <= len(app) || !strings.EqualFold(mt[:len(app)], app) {
		return false
	}
	sub := mt[len(app):]
	return strings.EqualFold(sub, "json") || len(sub) > len(suffix) && strings.EqualFold(sub[len(sub)-len(suffix):], suffix)
}

func decodeBytes(body []byte, v any, readOnly ...string) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return flow.Errorf(flow.EINVALID, "request body is empty; a JSON document is expected")
	}
	var generic any
	if err := json.Unmarshal(body, &generic); err != nil {
		return syntaxError(body, err)
	}
	if m, ok := generic.(map[string]any); ok && len(readOnly) > 0 {
		for _, k := range readOnly {
			delete(m, k)
		}
		body, _ = json.Marshal(m)
	}
	if p := checkShape(generic, cachedJSONType(reflect.TypeOf(v))); len(p) > 0 {
		return shapeError(p)
	}
	// The body is known to be one valid JSON value, so Unmarshal reports
	// what a Decoder would, without copying the body into its buffer.
	if err := json.Unmarshal(body, v); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return typeError(body, v, ute)
		}
		return flow.Errorf(flow.EINVALID, "request body is not valid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// shapeError is the 400 for the problems checkShape found.
func shapeError(p flow.Problems) error {
	msg := p[0].Message
	if len(p) > 1 {
		msg += fmt.Sprintf(" (and %d more problems, in details)", len(p)-1)
	}
	return &flow.Error{Code: flow.EINVALID, Message: msg, Details: p}
}

// typeError reports a value Go's json could not decode into v though
// checkShape let it pass: most likely an integer written as 1.0 or 1e3,
// or one just past its type's bounds, which checkShape cannot see in a
// float64. The body is walked again with each number as written, which
// costs a second decoding on this rare path only. What even that does
// not find (such as a map key that is not a number) is reported at Go's
// own path, the best there is then.
func typeError(body []byte, v any, ute *json.UnmarshalTypeError) error {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var generic any
	if d.Decode(&generic) == nil {
		if p := checkShape(generic, cachedJSONType(reflect.TypeOf(v))); len(p) > 0 {
			return shapeError(p)
		}
	}
	ptr := ""
	if ute.Field != "" {
		ptr = "/" + strings.ReplaceAll(ute.Field, ".", "/")
	}
	msg := fmt.Sprintf("%s must be %s, not %s", fieldName(ptr), jsonKind(ute.Type), ute.Value)
	return &flow.Error{Code: flow.EINVALID, Message: msg, Details: []flow.Problem{{Pointer: ptr, Code: "wrong_type", Message: msg, Severity: flow.SeverityError}}}
}

func syntaxError(body []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line := 1 + bytes.Count(body[:min(int(se.Offset), len(body))], []byte("\n"))
		return flow.Errorf(flow.EINVALID, "request body is not valid JSON (line %d, byte %d): %s", line, se.Offset, strings.TrimPrefix(se.Error(), "json: "))
	}
	return flow.Errorf(flow.EINVALID, "request body is not valid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Float64, reflect.Uint, reflect.Uint64:
		return "a number"
	case reflect.Slice:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return t.String()
}

// fieldName names the value at a JSON pointer in a message: the pointer
// itself, or "the request body" for the root, whose pointer is "".
func fieldName(ptr string) string {
	if ptr == "" {
		return "the request body"
	}
	return ptr
}

// shape is the kind of JSON value a Go type is decoded from.
type shape uint8

const (
	// anyValue: an interface, or a type that decodes itself
	// (json.Unmarshaler), which judges its own input.
	anyValue shape = iota
	// stringValue: a string, or a type decoded from text
	// (encoding.TextUnmarshaler), which Go's json gives only a string.
	stringValue
	boolValue
	intValue
	uintValue
	floatValue
	// bytesValue: []byte, which Go's json decodes from base64 text or
	// from an array of numbers.
	bytesValue
	arrayValue
	// objectValue: a struct or a map.
	objectValue
)

// jsonType is what checkShape needs to know of a Go type: the type with
// its pointers removed, and the shape of JSON value it is decoded from.
type jsonType struct {
	t     reflect.Type
	shape shape
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func newJSONType(t reflect.Type) jsonType {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	// Go's json looks for the methods on a pointer to the value it
	// fills, so either receiver counts.
	pt := reflect.PointerTo(t)
	switch {
	case pt.Implements(jsonUnmarshaler):
		return jsonType{t, anyValue}
	case pt.Implements(textUnmarshaler):
		return jsonType{t, stringValue}
	}
	switch t.Kind() {
	case reflect.String:
		return jsonType{t, stringValue}
	case reflect.Bool:
		return jsonType{t, boolValue}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return jsonType{t, intValue}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return jsonType{t, uintValue}
	case reflect.Float32, reflect.Float64:
		return jsonType{t, floatValue}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return jsonType{t, bytesValue}
		}
		return jsonType{t, arrayValue}
	case reflect.Array:
		return jsonType{t, arrayValue}
	case reflect.Struct, reflect.Map:
		return jsonType{t, objectValue}
	}
	return jsonType{t, anyValue}
}

// typeCache holds newJSONType by type: request types are few and fixed.
var typeCache sync.Map // reflect.Type → jsonType

func cachedJSONType(t reflect.Type) jsonType {
	if jt, ok := typeCache.Load(t); ok {
		return jt.(jsonType)
	}
	jt, _ := typeCache.LoadOrStore(t, newJSONType(t))
	return jt.(jsonType)
}

// checkShape walks a decoded JSON value alongside the Go type it will be
// decoded into, and reports every object member the type does not have
// (unknown_field) and every value of the wrong JSON type (wrong_type),
// each at its JSON pointer, so that a client learns of every mistake at
// once and where it is. A null member or element is accepted (Go's json
// leaves it as it is); a null document where an object is expected is
// not.
func checkShape(v any, jt jsonType) flow.Problems {
	var out flow.Problems
	if v == nil {
		// A null document is no object at all: Go's json would leave the
		// target as it is, and PUT /v1/bots/{id}/flow would save an
		// empty flow over the draft.
		if jt.shape == objectValue {
			addWrongType(&out, "", "an object", v)
		}
		return out
	}
	checkValue(v, jt, "", &out)
	if len(out) > 1 {
		// Members come in map order; a stable order makes the first
		// problem, the one the message names, the same each time.
		slices.SortFunc(out, func(a, b flow.Problem) int { return strings.Compare(a.Pointer, b.Pointer) })
	}
	return out
}

// checkValue checks v, which is not null, as a value of jt at ptr.
func checkValue(v any, jt jsonType, ptr string, out *flow.Problems) {
	if want := mismatch(v, jt); want != "" {
		addWrongType(out, ptr, want, v)
		return
	}
	if jt.shape == anyValue {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		if jt.t.Kind() == reflect.Map {
			el := cachedJSONType(jt.t.Elem())
			for k, val := range x {
				checkChild(val, el, ptr, k, -1, out)
			}
			return
		}
		fields := cachedJSONFields(jt.t)
		for k, val := range x {
			f, ok := fields[k]
			if !ok {
				p := ptr + flow.Pointer(k)
				out.Add(p, "unknown_field", fmt.Sprintf("unknown field %q at %s", k, p))
				continue
			}
			checkChild(val, f, ptr, k, -1, out)
		}
	case []any:
		el := cachedJSONType(jt.t.Elem())
		for i, val := range x {
			checkChild(val, el, ptr, "", i, out)
		}
	}
}

// checkChild checks the member key (or, when i ≥ 0, the element i) of the
// value at parent. A scalar of the right type, by far the most common
// value, costs no pointer: it is built only for a problem or a value to
// walk into.
func checkChild(val any, jt jsonType, parent, key string, i int, out *flow.Problems) {
	if val == nil || jt.shape == anyValue {
		return
	}
	want := mismatch(val, jt)
	if want == "" && !nested(val) {
		return
	}
	var ptr string
	if i >= 0 {
		ptr = parent + "/" + strconv.Itoa(i)
	} else {
		ptr = parent + flow.Pointer(key)
	}
	if want != "" {
		addWrongType(out, ptr, want, val)
		return
	}
	checkValue(val, jt, ptr, out)
}

// nested reports whether v is an object or array, the only values
// checkValue walks into.
func nested(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

// mismatch says what v, a decoded JSON value that is not null, should be
// to decode into jt, or "" when it fits.
func mismatch(v any, jt jsonType) string {
	switch jt.shape {
	case stringValue:
		if _, ok := v.(string); !ok {
			return "a string"
		}
	case boolValue:
		if _, ok := v.(bool); !ok {
			return "true or false"
		}
	case intValue, uintValue:
		return wholeNumber(v, jt)
	case floatValue:
		switch v.(type) {
		case float64, json.Number:
		default:
			return "a number"
		}
	case bytesValue:
		switch v.(type) {
		case string, []any:
		default:
			return "a base64 string"
		}
	case arrayValue:
		if _, ok := v.([]any); !ok {
			return "an array"
		}
	case objectValue:
		if _, ok := v.(map[string]any); !ok {
			return "an object"
		}
	}
	return ""
}

// wholeNumber says what v should be to fit jt, an integer type, or ""
// when it fits. v is a float64 in the first pass over a body, where a
// number near the type's bounds passes (float64 cannot tell it from the
// bound) and 1.0 passes too; Go's json, which reads an integer as
// written, refuses those, and typeError walks the body again with each
// number as written (a json.Number).
func wholeNumber(v any, jt jsonType) string {
	bits, unsigned := jt.t.Bits(), jt.shape == uintValue
	switch x := v.(type) {
	case float64:
		if x != math.Trunc(x) {
			return "a whole number"
		}
		lim := math.Ldexp(1, bits-1)
		lo := -lim
		if unsigned {
			lim, lo = 2*lim, 0
		}
		if x < lo || x > lim {
			return wholeRange(bits, unsigned)
		}
	case json.Number:
		s := string(x)
		if strings.ContainsAny(s, ".eE") {
			if f, err := x.Float64(); err == nil && f == math.Trunc(f) {
				return "a whole number written without a decimal point or exponent"
			}
			return "a whole number"
		}
		var err error
		if unsigned {
			_, err = strconv.ParseUint(s, 10, bits)
		} else {
			_, err = strconv.ParseInt(s, 10, bits)
		}
		if err != nil {
			return wholeRange(bits, unsigned)
		}
	default:
		return "a whole number"
	}
	return ""
}

// wholeRange says which whole numbers an integer type of bits holds.
func wholeRange(bits int, unsigned bool) string {
	if unsigned {
		return "a whole number from 0 to " + strconv.FormatUint(math.MaxUint64>>(64-bits), 10)
	}
	return "a whole number from " + strconv.FormatInt(math.MinInt64>>(64-bits), 10) + " to " + strconv.FormatInt(math.MaxInt64>>(64-bits), 10)
}

// addWrongType reports that the value v at ptr is not what was wanted.
func addWrongType(out *flow.Problems, ptr, want string, v any) {
	out.Add(ptr, "wrong_type", fieldName(ptr)+" must be "+want+", not "+describe(v))
}

// describe names a decoded JSON value in a message: a scalar by its
// value, an object or array by its kind.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case json.Number:
		return string(x)
	case []any:
		return "an array"
	}
	return "an object"
}

// fieldCache holds jsonFields by struct type: request types are few and
// fixed, and every request body of a type walks the same fields.
var fieldCache sync.Map // reflect.Type → map[string]jsonType

// cachedJSONFields is jsonFields, computed once per type. The map is
// shared: callers only read it.
func cachedJSONFields(t reflect.Type) map[string]jsonType {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]jsonType)
	}
	m, _ := fieldCache.LoadOrStore(t, jsonFields(t))
	return m.(map[string]jsonType)
}

// jsonFields returns a struct's JSON member names and types, including the
// members of embedded structs.
func jsonFields(t reflect.Type) map[string]jsonType {
	m := map[string]jsonType{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					m[k] = v
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = newJSONType(f.Type)
	}
	return m
}

// newValidator returns a validator that names fields by their JSON names.
func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		return name
	})
	return v
}

// validate checks a request struct's `validate` tags and turns failures into
// a 422 whose details name each field by JSON pointer.
func (s *Server) validate(v any) error {
	err := s.validator.Struct(v)
	if err == nil {
		return nil
	}
	var ves validator.ValidationErrors
	if !errors.As(err, &ves) {
		return err
	}
	var p flow.Problems
	for _, fe := range ves {
		ns := fe.Namespace()
		if i := strings.IndexByte(ns, '.'); i >= 0 {
			ns = ns[i+1:]
		}
		ptr := "/" + strings.NewReplacer(".", "/", "[", "/", "]", "").Replace(ns)
		p.Add(ptr, fe.Tag(), fieldMessage(ptr, fe))
	}
	return &flow.Error{Code: flow.EUNPROCESSABLE, Message: p[0].Message, Details: p}
}

func fieldMessage(ptr string, fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return fmt.Sprintf("%s is required", ptr)
	case "max":
		return fmt.Sprintf("%s is too long: at most %s characters", ptr, fe.Param())
	case "min":
		return fmt.Sprintf("%s is too short: at least %s characters", ptr, fe.Param())
	case "oneof":
		return fmt.Sprintf("%s must be one of: %s", ptr, fe.Param())
	case "eq":
		return fmt.Sprintf("%s must be %s", ptr, fe.Param())
	}
	return fmt.Sprintf("%s is invalid (%s)", ptr, fe.Tag())
}
