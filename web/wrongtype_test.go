package web_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/flowbot/flowbot/web"
)

// TestDecode_WrongTypeAtItsPointer: a value of the wrong JSON type is
// refused with a pointer that exists in the document sent: array indexes
// kept, no Go struct names (a step embeds flow.APICall), member names as
// sent, the root as "".
func TestDecode_WrongTypeAtItsPointer(t *testing.T) {
	e := newEnv(t)
	id, rev := e.createBot(validFlow)
	apiStep := `{"id":"a","type":"api_call","method":"GET","url":"https://a.com","timeout_ms":1.5,"on_success":"","on_failure":""}`
	options := `{"id":"a","type":"options","text":"t","options":[{"id":"o","label":"l","next":5}]}`
	for _, tc := range []struct {
		name, method, path, body, ifMatch string
		pointer, message                  string
	}{
		{"ErrFractionInEmbeddedAPICallField", "POST", "/v1/bots", `{"name":"x","flow":{"start":"a","steps":[` + apiStep + `]}}`, "",
			"/flow/steps/0/timeout_ms", "/flow/steps/0/timeout_ms must be a whole number, not 1.5"},
		{"ErrNumberForOptionNext", "POST", "/v1/bots", `{"name":"x","flow":{"start":"a","steps":[` + options + `]}}`, "",
			"/flow/steps/0/options/0/next", "/flow/steps/0/options/0/next must be a string, not 5"},
		{"ErrNumberForOptionNextInDraft", "PUT", "/v1/bots/" + id + "/flow", `{"start":"a","steps":[` + options + `]}`, "1",
			"/steps/0/options/0/next", "/steps/0/options/0/next must be a string, not 5"},
		{"ErrNumberInAllowedIPs", "POST", "/v1/api-keys", `{"name":"k","role":"designer","allowed_ips":["1.2.3.4",5]}`, "",
			"/allowed_ips/1", "/allowed_ips/1 must be a string, not 5"},
		{"ErrNumberForVariable", "POST", "/v1/bots/" + id + "/conversations", `{"variables":{"n":5}}`, "",
			"/variables/n", "/variables/n must be a string, not 5"},
		{"ErrArrayForBot", "POST", "/v1/bots", `[1,2]`, "",
			"", "the request body must be an object, not an array"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			var hdr []string
			if tc.ifMatch != "" {
				hdr = []string{"If-Match", tc.ifMatch}
			}
			r := e.do(tc.method, tc.path, adminToken, tc.body, hdr...)
			var b web.ErrorBody
			r.json(t, &b)
			if r.Code != 400 || b.Error.Code != "invalid" || len(b.Error.Details) != 1 {
				t.Fatalf("got %d %s", r.Code, r.Body)
			}
			d := b.Error.Details[0]
			if d.Pointer != tc.pointer || d.Code != "wrong_type" || d.Message != tc.message || !strings.HasPrefix(b.Error.Message, tc.message) {
				t.Fatalf("got %+v, message %q; want %q at %q", d, b.Error.Message, tc.message, tc.pointer)
			}
		})
	}
	if r := e.do("GET", "/v1/bots/"+id, adminToken, nil); r.Header.Get("ETag") != `"`+strconv.FormatInt(rev, 10)+`"` {
		t.Fatalf("a refused save changed the draft: ETag %s", r.Header.Get("ETag"))
	}
}
