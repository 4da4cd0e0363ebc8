package botstep

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/flowbot/flowbot/flow"
)

// credentialHeaders are refused because credentials belong in a
// connection, where they are encrypted and sent only to its domain.
var credentialHeaders = map[string]bool{
	"authorization": true, "proxy-authorization": true, "cookie": true, "x-api-key": true,
}

// framingHeaders are refused because the HTTP client sets them: a
// designer's value would corrupt the request's framing. Beyond SPEC §3's
// four (Host, Content-Length, Transfer-Encoding, Connection) this refuses
// the other hop-by-hop headers of RFC 9110 §7.6.1 for the same reason.
var framingHeaders = map[string]bool{
	"host": true, "content-length": true, "transfer-encoding": true, "connection": true,
	"keep-alive": true, "proxy-connection": true, "te": true, "trailer": true, "upgrade": true,
}

// checkHeaders: at most flow.MaxHeaders; keys are HTTP tokens and not
// credential or framing headers; values are at most
// flow.MaxHeaderValueLen characters, counted as runes (what a designer
// sees; a value of ASCII characters is the same in bytes), hold no
// control character but tab, and are templates of valid variables.
func checkHeaders(p *flow.Problems, hs []flow.Header, ptr string) {
	if len(hs) > flow.MaxHeaders {
		p.Add(ptr, CodeTooManyHeaders, fmt.Sprintf("headers has %d headers; the limit is %d", len(hs), flow.MaxHeaders))
	}
	for i := range hs {
		hp := ptr + "/" + strconv.Itoa(i)
		checkHeaderKey(p, hs[i].Key, hp+"/key")
		checkHeaderValue(p, hs[i].Value, hp+"/value")
	}
}

func checkHeaderKey(p *flow.Problems, k, ptr string) {
	lower := strings.ToLower(k)
	switch {
	case k == "":
		p.Add(ptr, CodeMissingField, "header key is required")
	case !isToken(k):
		p.Add(ptr, CodeInvalidHeaderKey, fmt.Sprintf("header key %s is not a valid header name: use letters, digits and !#$%%&'*+-.^_`|~, without spaces or variables", flow.Quote(k)))
	case credentialHeaders[lower]:
		p.Add(ptr, CodeCredentialHeader, fmt.Sprintf("header %s carries a credential; store it in a connection and select the connection instead", k))
	case framingHeaders[lower]:
		p.Add(ptr, CodeFramingHeader, fmt.Sprintf("header %s is set by the HTTP client and cannot be set by a step", k))
	}
}

func checkHeaderValue(p *flow.Problems, v, ptr string) {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			p.Add(ptr, CodeInvalidHeaderValue, fmt.Sprintf("header value has a control character (%s) at byte %d; line breaks and NUL are not allowed", strconv.QuoteRune(rune(c)), i))
			break
		}
	}
	if len(v) > flow.MaxHeaderValueLen {
		if n := utf8.RuneCountInString(v); n > flow.MaxHeaderValueLen {
			p.Add(ptr, CodeHeaderValueTooLong, fmt.Sprintf("header value is %d characters; the limit is %d", n, flow.MaxHeaderValueLen))
		}
	}
	checkTemplate(p, ptr, "header value", v)
}

// isToken reports whether s is an RFC 7230 token (a valid header name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}
