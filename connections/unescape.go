package connections

import (
	"bytes"
	"html"
	"sort"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// escapeStarts are the bytes that start an escape unescape decodes.
const escapeStarts = `\&%`

// unescaped is a text with its escapes decoded, to look for a secret an
// API wrote escaped; marks lead each part found back to the original.
type unescaped struct {
	text []byte
	// marks are the escapes decoded, in order: where each one's decoded
	// bytes are in text, and where its escaped form was in the original.
	marks []escapeMark
}

type escapeMark struct {
	at, end       int // in text
	rawAt, rawEnd int // in the original
}

// unescape decodes, in one pass, the escapes an API may write a secret
// with: JSON's (\" \\ \/ \b \f \n \r \t \uXXXX, surrogate pairs joined),
// HTML character references (&#43; &#x2B; &plus; &amp; ...) and
// percent-encoding (%2B). A lone surrogate decodes to U+FFFD, anything
// that is not a whole escape is kept as it is. It reports false, and
// allocates nothing, when text holds no escape.
func unescape(text []byte) (unescaped, bool) {
	// Most answers hold none: three vectorised scans say so faster than
	// one IndexAny.
	if bytes.IndexByte(text, '\\') < 0 && bytes.IndexByte(text, '&') < 0 && bytes.IndexByte(text, '%') < 0 {
		return unescaped{}, false
	}
	i := bytes.IndexAny(text, escapeStarts)
	u := unescaped{text: make([]byte, 0, len(text)), marks: make([]escapeMark, 0, 8)}
	u.text = append(u.text, text[:i]...)
	for i < len(text) {
		j := i + 1 + max(bytes.IndexAny(text[i+1:], escapeStarts), -1)
		if j == i { // no other escape start
			j = len(text)
		}
		n, at := 0, len(u.text)
		switch text[i] {
		case '\\':
			n, u.text = jsonEscape(text[i:], u.text)
		case '&':
			n, u.text = htmlReference(text[i:], u.text)
		case '%':
			if len(text) > i+2 && isHex(text[i+1]) && isHex(text[i+2]) {
				n, u.text = 3, append(u.text, unhex(text[i+1])<<4|unhex(text[i+2]))
			}
		}
		if n == 0 {
			u.text = append(u.text, text[i]) // not an escape
			i++
		} else {
			u.marks = append(u.marks, escapeMark{at: at, end: len(u.text), rawAt: i, rawEnd: i + n})
			i += n
		}
		if i < j {
			u.text = append(u.text, text[i:j]...)
			i = j
		}
	}
	return u, len(u.marks) > 0
}

// raw is where position p of u.text was in the original: for the start
// of a part (end false) a position inside an escape's decoded bytes is
// the escape's start; for its end, the escape's end.
func (u *unescaped) raw(p int, end bool) int {
	// The last escape that starts before p (at p, for a start).
	k := sort.Search(len(u.marks), func(k int) bool {
		if end {
			return u.marks[k].at >= p
		}
		return u.marks[k].at > p
	}) - 1
	if k < 0 {
		return p
	}
	m := u.marks[k]
	switch {
	case !end && p < m.end:
		return m.rawAt
	case end && p <= m.end:
		return m.rawEnd
	}
	return m.rawEnd + p - m.end
}

// jsonEscape decodes the JSON escape at the start of b, appending it to
// dst; n is its length in b, 0 when b does not start with one.
func jsonEscape(b, dst []byte) (n int, out []byte) {
	if len(b) < 2 {
		return 0, dst
	}
	switch c := b[1]; c {
	case '"', '\\', '/':
		return 2, append(dst, c)
	case 'b':
		return 2, append(dst, '\b')
	case 'f':
		return 2, append(dst, '\f')
	case 'n':
		return 2, append(dst, '\n')
	case 'r':
		return 2, append(dst, '\r')
	case 't':
		return 2, append(dst, '\t')
	case 'u':
		r, ok := hex4(b[2:])
		if !ok {
			return 0, dst
		}
		n = 6
		if utf16.IsSurrogate(r) {
			r2, ok := rune(0), len(b) >= 12 && b[6] == '\\' && b[7] == 'u'
			if ok {
				r2, ok = hex4(b[8:])
			}
			if r = utf16.DecodeRune(r, r2); ok && r != utf8.RuneError {
				n = 12
			}
		}
		return n, utf8.AppendRune(dst, r)
	}
	return 0, dst
}

// htmlReference decodes the HTML character reference at the start of b
// ("&#43;", "&#x2b;", "&amp;": terminated by ";"), appending it to dst;
// n is its length in b, 0 when b does not start with one.
func htmlReference(b, dst []byte) (n int, out []byte) {
	// The longest reference names are 32 bytes (&CounterClockwiseContourIntegral;).
	end := bytes.IndexByte(b[:min(len(b), 40)], ';')
	if end < 2 {
		return 0, dst
	}
	ref := b[1:end]
	if ref[0] == '#' {
		base, digits := 10, ref[1:]
		if len(digits) > 0 && (digits[0] == 'x' || digits[0] == 'X') {
			base, digits = 16, digits[1:]
		}
		v, err := strconv.ParseUint(string(digits), base, 21)
		if err != nil {
			return 0, dst
		}
		r := rune(v)
		if !utf8.ValidRune(r) || r == 0 {
			r = utf8.RuneError
		}
		return end + 1, utf8.AppendRune(dst, r)
	}
	for _, c := range ref {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return 0, dst
		}
	}
	s := string(b[:end+1])
	if d := html.UnescapeString(s); d != s {
		return end + 1, append(dst, d...)
	}
	return 0, dst
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		if !isHex(c) {
			return 0, false
		}
		r = r<<4 | rune(unhex(c))
	}
	return r, true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
