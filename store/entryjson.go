package store

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/flowbot/flowbot/flow"
)

// Transcript and log entries are stored as JSON, the API's shape, and read
// back with encoding/json. They are written by the appenders below rather
// than json.Marshal: a turn of the benchmark bot writes seven entries, and
// reflection-driven encoding was ~6% of the server's CPU. The output
// decodes to the same values as json.Marshal's (TestEntryJSON checks every
// field, filled by reflection, and awkward strings); field order and
// omitempty follow the struct tags.

// appendEntryJSON appends e as a JSON object.
func appendEntryJSON(b []byte, e *flow.Entry) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendInt(b, int64(e.Seq), 10)
	b = appendTimeField(b, `,"at":`, e.At)
	b = appendStringField(b, `,"from":`, e.From)
	b = appendStringField(b, `,"text":`, e.Text)
	if e.OptionID != "" {
		b = appendStringField(b, `,"option_id":`, e.OptionID)
	}
	if e.StepID != "" {
		b = appendStringField(b, `,"step_id":`, e.StepID)
	}
	return append(b, '}')
}

// appendLogEntryJSON appends e as a JSON object.
func appendLogEntryJSON(b []byte, e *flow.LogEntry) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendInt(b, int64(e.Seq), 10)
	b = appendTimeField(b, `,"at":`, e.At)
	b = appendStringField(b, `,"step_id":`, e.StepID)
	b = appendStringField(b, `,"step_type":`, e.StepType)
	b = appendStringField(b, `,"outcome":`, e.Outcome)
	if e.Next != "" {
		b = appendStringField(b, `,"next":`, e.Next)
	}
	if len(e.Detail) > 0 {
		b = appendStringMap(append(b, `,"detail":`...), e.Detail)
	}
	if c := e.APICall; c != nil {
		b = appendStringField(append(b, `,"api_call":{`...), `"method":`, c.Method)
		b = appendStringField(b, `,"url":`, c.URL)
		if len(c.Headers) > 0 {
			b = appendStringMap(append(b, `,"headers":`...), c.Headers)
		}
		if c.Status != 0 {
			b = strconv.AppendInt(append(b, `,"status":`...), int64(c.Status), 10)
		}
		b = appendFloat(append(b, `,"duration_ms":`...), c.DurationMS)
		b = strconv.AppendInt(append(b, `,"bytes":`...), c.Bytes, 10)
		if c.Attempts != 0 {
			b = strconv.AppendInt(append(b, `,"attempts":`...), int64(c.Attempts), 10)
		}
		if len(c.Saved) > 0 {
			b = append(b, `,"variables_saved":[`...)
			for i, s := range c.Saved {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendJSONString(b, s)
			}
			b = append(b, ']')
		}
		b = appendStringField(b, `,"branch":`, c.Branch)
		if c.Error != "" {
			b = appendStringField(b, `,"error":`, c.Error)
		}
		if c.ErrorMsg != "" {
			b = appendStringField(b, `,"error_message":`, c.ErrorMsg)
		}
		if c.RequestBody != "" {
			b = appendStringField(b, `,"request_body":`, c.RequestBody)
		}
		if c.RequestBodyCut {
			b = append(b, `,"request_body_cut":true`...)
		}
		if c.ResponseBody != "" {
			b = appendStringField(b, `,"response_body":`, c.ResponseBody)
		}
		if c.ResponseBodyCut {
			b = append(b, `,"response_body_cut":true`...)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

func appendStringField(b []byte, name, v string) []byte {
	return appendJSONString(append(b, name...), v)
}

// appendTimeField appends t as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds), or JSON null for a year it cannot represent, which
// json.Marshal refuses; such a time never comes from the runtime.
func appendTimeField(b []byte, name string, t time.Time) []byte {
	b = append(b, name...)
	if y := t.Year(); y < 0 || y >= 10000 {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendFloat appends f as a JSON number (NaN and infinities, which JSON
// cannot hold, as 0).
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, '0')
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

// appendStringMap appends m as a JSON object (key order does not matter
// to readers).
func appendStringMap(b []byte, m map[string]string) []byte {
	b = append(b, '{')
	first := true
	for k, v := range m {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONString(append(appendJSONString(b, k), ':'), v)
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD (as
// encoding/json does), everything else as it is.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
