package web

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flowbot/flowbot/flow"
)

// shapeSample has a member of every shape decodeBytes checks.
type shapeSample struct {
	Name  string          `json:"name"`
	Small int8            `json:"small"`
	Count uint16          `json:"count"`
	Ratio float64         `json:"ratio"`
	On    bool            `json:"on"`
	IPs   []flow.IPRange  `json:"ips"`
	Raw   json.RawMessage `json:"raw"`
	Any   any             `json:"any"`
	Bytes []byte          `json:"bytes"`
	Map   map[string]int  `json:"map"`
	Inner *struct {
		X string `json:"x"`
	} `json:"inner"`
	At *time.Time `json:"at"`
}

// TestDecodeBytes_Shapes: each value of the wrong JSON type is refused at
// its own JSON pointer, array indexes and member names included; what
// decodes itself (json.Unmarshaler, interfaces) is left to itself, and a
// type decoded from text (encoding.TextUnmarshaler) needs a string.
func TestDecodeBytes_Shapes(t *testing.T) {
	type want struct{ pointer, code, message string }
	for _, tc := range []struct {
		name, body string
		want       []want
	}{
		{"OKEveryShape", `{"name":"n","small":-128,"count":65535,"ratio":0.5,"on":true,"ips":["10.0.0.0/8"],
			"raw":[1,"x"],"any":{"a":[1]},"bytes":"aGk=","map":{"a":1},"inner":{"x":"y"},"at":"2030-01-02T03:04:05Z"}`, nil},
		{"OKNullMembers", `{"name":null,"small":null,"ips":[null],"inner":null,"map":{"a":null},"at":null}`, nil},
		{"OKBytesAsArray", `{"bytes":[104,105]}`, nil},
		{"OKWholeNumberAsWritten", `{"small":127,"count":0}`, nil},
		{"ErrStringForNumber", `{"small":"1"}`, []want{{"/small", "wrong_type", "/small must be a whole number, not a string"}}},
		{"ErrFraction", `{"small":1.5}`, []want{{"/small", "wrong_type", "/small must be a whole number, not 1.5"}}},
		{"ErrWholeButWrittenAsFloat", `{"count":1.0}`, []want{{"/count", "wrong_type", "/count must be a whole number written without a decimal point or exponent, not 1.0"}}},
		{"ErrWholeButWrittenWithExponent", `{"count":1e3}`, []want{{"/count", "wrong_type", "/count must be a whole number written without a decimal point or exponent, not 1e3"}}},
		{"ErrAboveRange", `{"small":128}`, []want{{"/small", "wrong_type", "/small must be a whole number from -128 to 127, not 128"}}},
		{"ErrNegativeUnsigned", `{"count":-1}`, []want{{"/count", "wrong_type", "/count must be a whole number from 0 to 65535, not -1"}}},
		{"ErrBool", `{"on":"yes"}`, []want{{"/on", "wrong_type", "/on must be true or false, not a string"}}},
		{"ErrNumber", `{"ratio":true}`, []want{{"/ratio", "wrong_type", "/ratio must be a number, not true"}}},
		{"ErrTextUnmarshalerNeedsAString", `{"ips":["10.0.0.0/8",5]}`, []want{{"/ips/1", "wrong_type", "/ips/1 must be a string, not 5"}}},
		{"ErrArray", `{"ips":"10.0.0.0/8"}`, []want{{"/ips", "wrong_type", "/ips must be an array, not a string"}}},
		{"ErrBytes", `{"bytes":true}`, []want{{"/bytes", "wrong_type", "/bytes must be a base64 string, not true"}}},
		{"ErrMapValueEscaped", `{"map":{"a/b~c":"x"}}`, []want{{"/map/a~1b~0c", "wrong_type", "/map/a~1b~0c must be a whole number, not a string"}}},
		{"ErrObject", `{"inner":[]}`, []want{{"/inner", "wrong_type", "/inner must be an object, not an array"}}},
		{"ErrEveryProblemAtOnce", `{"inner":{"x":1,"y":2},"name":false}`, []want{
			{"/inner/x", "wrong_type", "/inner/x must be a string, not 1"},
			{"/inner/y", "unknown_field", `unknown field "y" at /inner/y`},
			{"/name", "wrong_type", "/name must be a string, not false"}}},
		{"ErrRootArray", `[1,2]`, []want{{"", "wrong_type", "the request body must be an object, not an array"}}},
		{"ErrRootString", `"x"`, []want{{"", "wrong_type", "the request body must be an object, not a string"}}},
		{"ErrRootNull", `null`, []want{{"", "wrong_type", "the request body must be an object, not null"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v shapeSample
			err := decodeBytes([]byte(tc.body), &v)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var fe *flow.Error
			if !errors.As(err, &fe) || fe.Code != flow.EINVALID {
				t.Fatalf("got %v, want a 400", err)
			}
			var got []want
			for _, d := range fe.Details {
				got = append(got, want{d.Pointer, d.Code, d.Message})
			}
			if len(got) != len(tc.want) {
				t.Fatalf("details %q, want %q", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("detail %d: %q, want %q", i, got[i], tc.want[i])
				}
			}
			if !strings.HasPrefix(fe.Message, tc.want[0].message) {
				t.Errorf("message %q does not start with the first detail's", fe.Message)
			}
		})
	}
}
