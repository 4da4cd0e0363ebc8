package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/flowbot/flowbot/flow"
	"github.com/go-playground/validator/v10"
	"github.com/labstack/echo/v4"
)

// decodeJSON reads the request body into v strictly: malformed JSON, a
// value of the wrong type and an unknown field are each a 400 naming the
// field by JSON pointer. Fields listed in readOnly (top level only) are
// accepted and ignored, so a client may send back what it read.
func decodeJSON(c echo.Context, v any, readOnly ...string) error {
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
	if p := unknownFields(generic, reflect.TypeOf(v), "", readOnly); len(p) > 0 {
		return &flow.Error{Code: flow.EINVALID, Message: p[0].Message, Details: p}
	}
	// The body is known to be one valid JSON value, so Unmarshal reports
	// what a Decoder would, without copying the body into its buffer.
	if err := json.Unmarshal(body, v); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			ptr := "/" + strings.ReplaceAll(ute.Field, ".", "/")
			msg := fmt.Sprintf("field %s must be %s, not %s", ptr, jsonKind(ute.Type), ute.Value)
			return &flow.Error{Code: flow.EINVALID, Message: msg, Details: []flow.Problem{{Pointer: ptr, Code: "wrong_type", Message: msg, Severity: flow.SeverityError}}}
		}
		return flow.Errorf(flow.EINVALID, "request body is not valid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
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

// unknownFields walks a decoded JSON value alongside the Go type it will
// be decoded into and reports every object member the type does not have.
func unknownFields(v any, t reflect.Type, ptr string, skip []string) flow.Problems {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out flow.Problems
	switch x := v.(type) {
	case map[string]any:
		switch t.Kind() {
		case reflect.Struct:
			fields := cachedJSONFields(t)
			for k, val := range x {
				ft, ok := fields[k]
				if !ok {
					if ptr == "" && slices.Contains(skip, k) {
						continue
					}
					p := ptr + flow.Pointer(k)
					out.Add(p, "unknown_field", fmt.Sprintf("unknown field %q at %s", k, p))
					continue
				}
				if nested(val) {
					out = append(out, unknownFields(val, ft, ptr+flow.Pointer(k), nil)...)
				}
			}
		case reflect.Map:
			for k, val := range x {
				if nested(val) {
					out = append(out, unknownFields(val, t.Elem(), ptr+flow.Pointer(k), nil)...)
				}
			}
		}
	case []any:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for i, val := range x {
				if nested(val) {
					out = append(out, unknownFields(val, t.Elem(), ptr+"/"+strconv.Itoa(i), nil)...)
				}
			}
		}
	}
	return out
}

// nested reports whether v is an object or array, the only values in
// which unknownFields can find anything; the pointer of a scalar member
// is not built.
func nested(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

// fieldCache holds jsonFields by struct type: request types are few and
// fixed, and every request body of a type walks the same fields.
var fieldCache sync.Map // reflect.Type → map[string]reflect.Type

// cachedJSONFields is jsonFields, computed once per type. The map is
// shared: callers only read it.
func cachedJSONFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m, _ := fieldCache.LoadOrStore(t, jsonFields(t))
	return m.(map[string]reflect.Type)
}

// jsonFields returns a struct's JSON member names and types, including the
// members of embedded structs.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
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
		m[name] = f.Type
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
