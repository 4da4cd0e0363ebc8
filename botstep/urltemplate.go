package botstep

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/flowbot/flowbot/connections"
	"github.com/flowbot/flowbot/flow"
)

// URLTemplate is a parsed api_call URL (SPEC §3 rules 2 and 3). Variables
// can sit only in path segments and query values, so the scheme, host,
// port and query keys are literal; user-info and fragments are refused.
// Literals are kept as typed, but for bytes that may not appear in a URL
// (see escapeLiteral); Render fills in the variables.
type URLTemplate struct {
	// Scheme is always "https".
	Scheme string
	// Host is the literal host name or IP address, without the brackets
	// of an IPv6 literal; it is what a connection's allowed domain is
	// checked against.
	Host string
	// Port is the literal port, "" for the default.
	Port string
	// Path holds one segment per "/" of the path; "" and "/" differ in
	// that "/" has one empty segment.
	Path []URLSegment
	// HasQuery reports a "?", even with nothing after it.
	HasQuery bool
	// Query holds the pairs of the query string, split on "&", in order.
	Query []QueryPair
}

// URLSegment is one path segment: literal text and variables in order.
type URLSegment struct {
	Parts []URLPart
}

// URLPart is literal text or, when Var is set, a variable.
type URLPart struct {
	Literal string
	Var     string
}

// QueryPair is one "key=value" of a query string. Key is literal (a
// variable may not name a query key); Value is literal text and
// variables. HasValue reports the "=", so "a" and "a=" stay distinct.
type QueryPair struct {
	Key      string
	HasValue bool
	Value    []URLPart
}

// URLError is why a URL template was refused; Code is one of the URL
// problem codes (CodeVariableInHost, ...) and Message names the part.
type URLError struct {
	Code    string
	Message string
}

// Error implements error.
func (e *URLError) Error() string { return e.Message }

func urlErr(code, format string, args ...any) *URLError {
	return &URLError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ParseURLTemplate parses raw, an absolute https URL that may hold
// {{name}} references, and tells where each sits. It refuses, with a
// *URLError: a control character; an unclosed "{{" or an invalid
// variable name; a variable in
// the scheme, user-info, host, port, a query key or the fragment; a
// scheme other than https; user-info; a fragment (even an empty "#"); a
// missing host; a host written other than plainly; and anything net/url
// cannot parse once the variables are filled in.
func ParseURLTemplate(raw string) (*URLTemplate, error) {
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c < 0x20 || c == 0x7f {
			return nil, urlErr(CodeInvalidURL, "url has a control character (%s) at byte %d; remove it", strconv.QuoteRune(rune(c)), i)
		}
	}
	refs, unclosed := flow.ScanTemplate(raw)
	if unclosed >= 0 {
		return nil, urlErr(CodeUnclosedTemplate, "url has a \"{{\" at byte %d that is never closed with \"}}\"", unclosed)
	}
	for _, r := range refs {
		if !IsReadableVariable(r.Name) {
			return nil, &URLError{Code: CodeInvalidTemplateVar, Message: templateVarProblem("url", r.Name)}
		}
	}
	// From here every reference holds only name characters, spaces and
	// braces, so the delimiters searched for below never fall inside one.
	p := urlParser{raw: raw, refs: refs}
	t, uerr := p.parse()
	if uerr != nil {
		return nil, uerr
	}
	if uerr := t.check(); uerr != nil {
		return nil, uerr
	}
	return t, nil
}

type urlParser struct {
	raw  string
	refs []flow.TemplateRef
}

// refIn returns the first reference overlapping raw[lo:hi].
func (p *urlParser) refIn(lo, hi int) (flow.TemplateRef, bool) {
	for _, r := range p.refs {
		if r.End > lo && r.Start < hi {
			return r, true
		}
	}
	return flow.TemplateRef{}, false
}

func (p *urlParser) parse() (*URLTemplate, *URLError) {
	raw := p.raw
	sep := strings.Index(raw, "://")
	if sep < 0 {
		if len(p.refs) > 0 && p.refs[0].Start == 0 {
			return nil, urlErr(CodeVariableInScheme, "url starts with {{%s}}: it must start with https:// and a literal host; variables may appear only in path segments and query values", p.refs[0].Name)
		}
		return nil, urlErr(CodeInvalidURL, "url must be an absolute URL starting with https://")
	}
	if r, ok := p.refIn(0, sep); ok {
		return nil, urlErr(CodeVariableInScheme, "url has {{%s}} in its scheme; variables may appear only in path segments and query values", r.Name)
	}
	if scheme := raw[:sep]; !strings.EqualFold(scheme, "https") {
		return nil, urlErr(CodeURLNotHTTPS, "url must use https://, not %s://", clip(scheme))
	}
	t := &URLTemplate{Scheme: "https"}

	authStart := sep + 3
	authEnd := len(raw)
	if i := strings.IndexAny(raw[authStart:], "/?#"); i >= 0 {
		authEnd = authStart + i
	}
	hostStart := authStart
	if at := strings.LastIndexByte(raw[authStart:authEnd], '@'); at >= 0 {
		if r, ok := p.refIn(authStart, authStart+at); ok {
			return nil, urlErr(CodeVariableInUserInfo, "url has {{%s}} in its user-info (before \"@\"); variables may appear only in path segments and query values", r.Name)
		}
		return nil, urlErr(CodeURLUserInfo, "url must not contain user-info (user:password@); put credentials in a connection")
	}
	if uerr := p.parseHostPort(t, hostStart, authEnd); uerr != nil {
		return nil, uerr
	}

	pathEnd := len(raw)
	if i := strings.IndexAny(raw[authEnd:], "?#"); i >= 0 {
		pathEnd = authEnd + i
	}
	t.Path = p.parsePath(authEnd, pathEnd)

	queryEnd := len(raw)
	if i := strings.IndexByte(raw[pathEnd:], '#'); i >= 0 {
		queryEnd = pathEnd + i
	}
	if pathEnd < queryEnd && raw[pathEnd] == '?' {
		t.HasQuery = true
		q, uerr := p.parseQuery(pathEnd+1, queryEnd)
		if uerr != nil {
			return nil, uerr
		}
		t.Query = q
	}
	if queryEnd < len(raw) {
		if r, ok := p.refIn(queryEnd, len(raw)); ok {
			return nil, urlErr(CodeVariableInFragment, "url has {{%s}} in its fragment (after \"#\"); variables may appear only in path segments and query values", r.Name)
		}
		return nil, urlErr(CodeURLFragment, "url must not contain a fragment (\"#...\"); it is never sent to the server")
	}
	return t, nil
}

func (p *urlParser) parseHostPort(t *URLTemplate, lo, hi int) *URLError {
	raw := p.raw
	hostEnd, portStart := hi, -1
	if strings.HasPrefix(raw[lo:hi], "[") {
		c := strings.IndexByte(raw[lo:hi], ']')
		if c < 0 {
			return urlErr(CodeInvalidURL, "url has an IPv6 host with no closing \"]\"")
		}
		hostEnd = lo + c + 1
		if hostEnd < hi {
			if raw[hostEnd] != ':' {
				return urlErr(CodeInvalidURL, "url has text after its IPv6 host that is not a port")
			}
			portStart = hostEnd + 1
		}
	} else if c := strings.LastIndexByte(raw[lo:hi], ':'); c >= 0 {
		hostEnd, portStart = lo+c, lo+c+1
	}
	if r, ok := p.refIn(lo, hostEnd); ok {
		return urlErr(CodeVariableInHost, "url has {{%s}} in its host; variables may not set the domain or a subdomain, only path segments and query values", r.Name)
	}
	if portStart >= 0 {
		if r, ok := p.refIn(portStart, hi); ok {
			return urlErr(CodeVariableInPort, "url has {{%s}} in its port; variables may appear only in path segments and query values", r.Name)
		}
		t.Port = raw[portStart:hi]
		if n, err := strconv.Atoi(t.Port); err != nil || n < 1 || n > 65535 || t.Port[0] == '+' || t.Port[0] == '-' {
			return urlErr(CodeInvalidURL, "url port %s is not a number from 1 to 65535", flow.Quote(t.Port))
		}
	}
	t.Host = strings.TrimSuffix(strings.TrimPrefix(raw[lo:hostEnd], "["), "]")
	if t.Host == "" {
		return urlErr(CodeInvalidURL, "url has no host; write it as https://host/path")
	}
	return nil
}

// parseParts splits raw[lo:hi] into literal text and variables.
func (p *urlParser) parseParts(lo, hi int, query bool) []URLPart {
	var parts []URLPart
	for _, r := range p.refs {
		if r.End <= lo || r.Start >= hi {
			continue
		}
		if r.Start > lo {
			parts = append(parts, URLPart{Literal: escapeLiteral(p.raw[lo:r.Start], query)})
		}
		parts = append(parts, URLPart{Var: r.Name})
		lo = r.End
	}
	if lo < hi {
		parts = append(parts, URLPart{Literal: escapeLiteral(p.raw[lo:hi], query)})
	}
	return parts
}

// escapeLiteral percent-encodes the bytes of a path or query literal that
// may not appear in a URL (space, "{", "}", "\\", non-ASCII, ...), as a
// browser would, and keeps every other byte, "%" escapes included, as
// typed. Why: when a path holds such a byte, net/url discards the path's
// encoding and re-encodes the decoded path, which would turn a value's
// "%2F" back into "/" and split the segment.
func escapeLiteral(s string, query bool) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !literalByteOK(s[i], query) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		if c := s[i]; literalByteOK(c, query) {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(b)
}

// literalByteOK: RFC 3986 pchar (unreserved, sub-delims, ":", "@") plus
// "%" and the "[" "]" net/url leaves alone; a query also allows "/" and "?".
func literalByteOK(c byte, query bool) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	case strings.IndexByte("-._~!$&'()*+,;=:@[]%", c) >= 0:
		return true
	case query && (c == '/' || c == '?'):
		return true
	}
	return false
}

func (p *urlParser) parsePath(lo, hi int) []URLSegment {
	var segs []URLSegment
	for lo < hi { // p.raw[lo] == '/'
		end := hi
		if i := strings.IndexByte(p.raw[lo+1:hi], '/'); i >= 0 {
			end = lo + 1 + i
		}
		segs = append(segs, URLSegment{Parts: p.parseParts(lo+1, end, false)})
		lo = end
	}
	return segs
}

func (p *urlParser) parseQuery(lo, hi int) ([]QueryPair, *URLError) {
	var pairs []QueryPair
	for {
		end := hi
		if i := strings.IndexByte(p.raw[lo:hi], '&'); i >= 0 {
			end = lo + i
		}
		keyEnd, hasValue := end, false
		if i := strings.IndexByte(p.raw[lo:end], '='); i >= 0 {
			keyEnd, hasValue = lo+i, true
		}
		if r, ok := p.refIn(lo, keyEnd); ok {
			return nil, urlErr(CodeVariableInQueryKey, "url has {{%s}} in a query key; variables may appear only in query values (after \"=\") and path segments", r.Name)
		}
		q := QueryPair{Key: escapeLiteral(p.raw[lo:keyEnd], true), HasValue: hasValue}
		if hasValue {
			q.Value = p.parseParts(keyEnd+1, end, true)
		}
		pairs = append(pairs, q)
		if end == hi {
			return pairs, nil
		}
		lo = end + 1
	}
}

// check renders t with sample values and has net/url parse the result:
// what net/url sees (and so what the HTTP client dials) must be exactly
// the host the template shows, or connection checks would be fooled.
func (t *URLTemplate) check() *URLError {
	s, _ := t.Render(func(string) (string, bool) { return "x", true })
	u, err := url.Parse(s)
	if err != nil {
		msg := err.Error()
		var ue *url.Error
		if errors.As(err, &ue) {
			msg = ue.Err.Error()
		}
		return urlErr(CodeInvalidURL, "url is not a valid URL: %s", msg)
	}
	if u.Hostname() != t.Host || u.Port() != t.Port || u.User != nil || u.Scheme != "https" || u.Opaque != "" {
		return urlErr(CodeInvalidURL, "url host %s must be written plainly: letters, digits, \"-\" and \".\", or an IP address", flow.Quote(t.Host))
	}
	if net.ParseIP(t.Host) == nil {
		if _, err := connections.CanonicalHost(t.Host); err != nil {
			return urlErr(CodeInvalidURL, "url host %s is not a valid host name: %s", flow.Quote(t.Host), err.Error())
		}
	}
	return nil
}
