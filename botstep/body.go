package botstep

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"

	"github.com/flowbot/flowbot/flow"
)

// checkBody (SPEC §3 rule 6): a body only with POST, PUT or PATCH;
// body_type json (the default) or text; at most flow.MaxBodyBytes bytes;
// a json body is valid JSON once its variables are filled in and each
// variable sits inside a string literal; a text body has a content_type.
// An empty body counts as no body, and body_type alone (with no body) is
// accepted, as in SPEC §3's example.
func checkBody(p *flow.Problems, s *flow.Step, ptr string) {
	switch s.BodyType {
	case "", flow.BodyJSON, flow.BodyText:
	default:
		p.Add(ptr+"/body_type", CodeInvalidBodyType, fmt.Sprintf("body_type %s is not a body type; use json or text", flow.Quote(s.BodyType)))
	}
	if s.Body == nil || *s.Body == "" {
		if s.ContentType != "" {
			p.Add(ptr+"/content_type", CodeFieldNotAllowed, "content_type is set but there is no body; remove it")
		}
		return
	}
	body := *s.Body
	switch s.Method {
	case "GET", "DELETE":
		p.Add(ptr+"/body", CodeBodyNotAllowed, fmt.Sprintf("body is not allowed with %s; only POST, PUT and PATCH send a body", s.Method))
		return
	}
	if len(body) > flow.MaxBodyBytes {
		p.Add(ptr+"/body", CodeBodyTooLarge, fmt.Sprintf("body is %d bytes; the limit is %d (64 KiB)", len(body), flow.MaxBodyBytes))
		return
	}
	if s.ContentType != "" {
		checkContentType(p, s.ContentType, ptr+"/content_type")
	}
	switch s.BodyType {
	case "", flow.BodyJSON:
		// Names are checked by checkTypedRefs: a JSON body may also say
		// which JSON type a value is sent as ("{{qty:number}}").
		refs, unclosed := flow.ScanTemplate(body)
		if unclosed >= 0 {
			p.Add(ptr+"/body", CodeUnclosedTemplate, fmt.Sprintf("body has a \"{{\" at byte %d that is never closed with \"}}\"", unclosed))
			return // the JSON check would only repeat the problem
		}
		checkTypedRefs(p, ptr+"/body", body, refs)
		checkJSONTemplate(p, body, refs, ptr+"/body")
	case flow.BodyText:
		checkTemplate(p, ptr+"/body", "body", body)
		if s.ContentType == "" {
			p.Add(ptr+"/content_type", CodeMissingField, "content_type is required for a text body, for example text/plain or application/xml")
		}
	}
}

func checkContentType(p *flow.Problems, ct, ptr string) {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || !strings.Contains(mt, "/") || strings.ContainsAny(ct, "\r\n\x00") {
		p.Add(ptr, CodeInvalidContentType, fmt.Sprintf("content_type %s is not a media type such as text/plain or application/json", flow.Quote(ct)))
	}
}

// checkJSONTemplate checks a JSON body template in one pass. It walks the
// body tracking whether it is inside a string literal, reports a variable
// met outside one, and fills each variable in with a sample of the same
// length (letters inside a string, a quoted string outside one) so the
// JSON parser's error offsets match the designer's text.
func checkJSONTemplate(p *flow.Problems, body string, refs []flow.TemplateRef, ptr string) {
	sample := []byte(body)
	inString, escaped := false, false
	r := 0
	for i := 0; i < len(body); i++ {
		if r < len(refs) && i == refs[r].Start {
			ref := refs[r]
			fill := sample[ref.Start:ref.End]
			for j := range fill {
				fill[j] = 'x'
			}
			if !inString || escaped {
				if !inString {
					fill[0], fill[len(fill)-1] = '"', '"'
					p.Add(ptr, CodeVariableOutsideString, fmt.Sprintf("body has {{%s}} outside a JSON string at %s; put it inside quotes, for example \"{{%s}}\"",
						clip(ref.Name), lineCol(body, ref.Start), clip(ref.Name)))
				}
			}
			escaped = false
			i = ref.End - 1
			r++
			continue
		}
		c := body[i]
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		}
	}
	var raw json.RawMessage
	if err := json.Unmarshal(sample, &raw); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			at := int(se.Offset)
			if at > 0 {
				at-- // Offset counts the byte that failed
			}
			p.Add(ptr, CodeInvalidJSONBody, fmt.Sprintf("body is not valid JSON at %s: %s", lineCol(body, at), se.Error()))
			return
		}
		p.Add(ptr, CodeInvalidJSONBody, "body is not valid JSON: "+err.Error())
	}
}

// lineCol describes byte offset at of s as "line L, column C" (both from 1).
func lineCol(s string, at int) string {
	if at > len(s) {
		at = len(s)
	}
	line := 1 + strings.Count(s[:at], "\n")
	col := at - strings.LastIndexByte(s[:at], '\n')
	return fmt.Sprintf("line %d, column %d", line, col)
}
