package flow

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// MaxAllowedIPs is how many entries an API key's allowed_ips may hold.
const MaxAllowedIPs = 20

// IPRange is an address or a CIDR range an API key may be used from. It
// is a netip.Prefix with its host bits zero whose address is never an
// IPv4-mapped IPv6 address: "::ffff:203.0.113.7" is read as 203.0.113.7
// and "::ffff:198.51.100.0/120" as 198.51.100.0/24, so one range has one
// form and an IPv4 client matches it however it arrives.
//
// Its text (and JSON) form is canonical: a single address (/32, /128) is
// the bare address ("203.0.113.7", "2001:db8::1"), a range is
// address/bits ("198.51.100.0/24", "2001:db8::/32"), IPv6 as RFC 5952
// writes it (lower case, "::" for the longest run of zeros).
type IPRange struct{ p netip.Prefix }

// Prefix returns the range as a netip.Prefix.
func (r IPRange) Prefix() netip.Prefix { return r.p }

// Contains reports whether addr is in the range. addr is compared
// unmapped and without its zone, so ::ffff:203.0.113.7 is in 203.0.113.0/24.
func (r IPRange) Contains(addr netip.Addr) bool {
	return r.p.Contains(addr.Unmap().WithZone(""))
}

// String returns the canonical text form.
func (r IPRange) String() string {
	if r.p.IsSingleIP() {
		return r.p.Addr().String()
	}
	return r.p.String()
}

// MarshalText implements encoding.TextMarshaler with the canonical form.
func (r IPRange) MarshalText() ([]byte, error) {
	if !r.p.IsValid() {
		return nil, errors.New("flow: invalid IPRange")
	}
	return []byte(r.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler. It accepts what
// ParseIPRange accepts.
func (r *IPRange) UnmarshalText(b []byte) error {
	v, err := ParseIPRange(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// MustParseIPRange is ParseIPRange for constants in tests; it panics on
// an error.
func MustParseIPRange(s string) IPRange {
	r, err := ParseIPRange(s)
	if err != nil {
		panic(err)
	}
	return r
}

// ParseIPRange reads an address ("203.0.113.7", "2001:db8::1") or a CIDR
// range ("198.51.100.0/24", "2001:db8::/32"). It returns EUNPROCESSABLE
// for text that is neither, for an address with a zone ("fe80::1%eth0":
// zones mean nothing to a remote client) and for a range with host bits
// set ("10.0.0.1/8": it would allow 10.0.0.0/8, which the writer may not
// have meant), naming the canonical range in the message.
func ParseIPRange(s string) (IPRange, error) {
	r, code, msg := parseIPRange(s)
	if code != "" {
		return IPRange{}, &Error{Code: EUNPROCESSABLE, Message: msg}
	}
	return r, nil
}

// parseIPRange is ParseIPRange returning a problem code and message.
func parseIPRange(s string) (r IPRange, code, msg string) {
	const shape = "; write an IPv4 or IPv6 address (203.0.113.7, 2001:db8::1) or a CIDR range (198.51.100.0/24, 2001:db8::/32)"
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return r, "invalid_ip", fmt.Sprintf("%s is not an IP address or CIDR range%s", quoteEntry(s), shape)
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return r, "invalid_ip", fmt.Sprintf("%s is not an IP address or CIDR range%s", quoteEntry(s), shape)
		}
		if a.Zone() != "" {
			return r, "invalid_ip", fmt.Sprintf("%s has a zone (%%%s); zones do not apply to remote clients: write %s", quoteEntry(s), a.Zone(), a.WithZone(""))
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	if m := p.Masked(); m != p {
		return r, "host_bits_set", fmt.Sprintf("%s has host bits set: write the range %s, or %s for the one address", quoteEntry(s), IPRange{m}, p.Addr())
	}
	return IPRange{p}, "", ""
}

// quoteEntry quotes a user's entry for a message, cut to a readable length.
func quoteEntry(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// ParseAllowedIPs validates and canonicalises the allowed_ips of a new
// API key (at most MaxAllowedIPs addresses or CIDR ranges, none twice
// once canonical). Each problem points at its entry (/allowed_ips/2) or,
// for too many entries, at /allowed_ips. Without problems the result is
// never nil, and empty when entries is: any address.
func ParseAllowedIPs(entries []string) ([]IPRange, Problems) {
	var p Problems
	if len(entries) > MaxAllowedIPs {
		p.Add("/allowed_ips", "too_many_ips", fmt.Sprintf("/allowed_ips has %d entries; at most %d addresses or ranges are allowed: use a wider CIDR range", len(entries), MaxAllowedIPs))
		return nil, p
	}
	out := make([]IPRange, 0, len(entries))
	seen := make(map[netip.Prefix]int, len(entries))
	for i, s := range entries {
		ptr := "/allowed_ips/" + itoa(i)
		r, code, msg := parseIPRange(s)
		if code != "" {
			p.Add(ptr, code, ptr+": "+msg)
			continue
		}
		if j, dup := seen[r.p]; dup {
			p.Add(ptr, "duplicate_ip", fmt.Sprintf("%s: %s is already at /allowed_ips/%d", ptr, r, j))
			continue
		}
		seen[r.p] = i
		out = append(out, r)
	}
	if len(p) > 0 {
		return nil, p
	}
	return out, nil
}

// AllowsAddr reports whether the key may be used from addr: always when
// it has no allowed IPs, otherwise when one of them contains addr (an
// IPv4-mapped IPv6 addr matches as IPv4).
func (k *APIKey) AllowsAddr(addr netip.Addr) bool {
	if len(k.AllowedIPs) == 0 {
		return true
	}
	for _, r := range k.AllowedIPs {
		if r.Contains(addr) {
			return true
		}
	}
	return false
}
