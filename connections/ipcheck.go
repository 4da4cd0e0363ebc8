package connections

import (
	"net/netip"
)

// blockedRange is a range outbound calls may not reach, with the reason
// shown in a *BlockedAddressError.
type blockedRange struct {
	prefix netip.Prefix
	reason string
}

func r(prefix, reason string) blockedRange {
	return blockedRange{netip.MustParsePrefix(prefix), reason}
}

// metadataAddrs are cloud instance-metadata endpoints. They are blocked even
// when private networks are allowed: no development set-up needs them and
// they hand out cloud credentials.
var metadataAddrs = []blockedRange{
	r("169.254.169.254/32", "cloud metadata"), // AWS, GCP, Azure, OpenStack...
	r("fd00:ec2::254/128", "cloud metadata"),  // AWS over IPv6
	r("100.100.100.200/32", "cloud metadata"), // Alibaba Cloud
	r("169.254.170.2/32", "cloud metadata"),   // AWS ECS task credentials
	r("169.254.170.23/32", "cloud metadata"),  // AWS EKS Pod Identity
	r("fd00:ec2::23/128", "cloud metadata"),   // AWS EKS Pod Identity over IPv6
	r("192.0.0.192/32", "cloud metadata"),     // Oracle Cloud
}

// blockedV4 follows the IANA IPv4 special-purpose address registry. The
// first match names the reason, so narrower ranges come first.
var blockedV4 = []blockedRange{
	r("0.0.0.0/8", "unspecified (this network)"),
	r("10.0.0.0/8", "private"),
	r("100.64.0.0/10", "shared (CGNAT)"),
	r("127.0.0.0/8", "loopback"),
	r("169.254.0.0/16", "link-local"),
	r("172.16.0.0/12", "private"),
	r("192.0.0.0/24", "reserved (IETF protocol assignments)"),
	r("192.0.2.0/24", "reserved (documentation)"),
	r("192.31.196.0/24", "reserved (AS112)"),
	r("192.52.193.0/24", "reserved (AMT)"),
	r("192.88.99.0/24", "reserved (6to4 relay anycast)"),
	r("192.168.0.0/16", "private"),
	r("192.175.48.0/24", "reserved (AS112)"),
	r("198.18.0.0/15", "reserved (benchmarking)"),
	r("198.51.100.0/24", "reserved (documentation)"),
	r("203.0.113.0/24", "reserved (documentation)"),
	r("224.0.0.0/4", "multicast"),
	r("255.255.255.255/32", "broadcast"),
	r("240.0.0.0/4", "reserved"),
}

// nat64 is the well-known NAT64 prefix (RFC 6052): the IPv4 address in its
// last 32 bits is what is really reached.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// globalUnicast is the only IPv6 space on the public internet; anything
// outside it (loopback, unspecified, ULA fc00::/7, link-local fe80::/10,
// multicast ff00::/8, IPv4-compatible, local-use NAT64...) is blocked.
var globalUnicast = netip.MustParsePrefix("2000::/3")

// blockedV6 are special-purpose ranges inside 2000::/3 (IANA IPv6
// special-purpose registry), plus names for well-known ranges outside it.
var blockedV6 = []blockedRange{
	r("::/128", "unspecified"),
	r("::1/128", "loopback"),
	r("fe80::/10", "link-local"),
	r("fec0::/10", "site-local"),
	r("fc00::/7", "private (unique local)"),
	r("ff00::/8", "multicast"),
	r("2001::/32", "reserved (Teredo)"),
	r("2001:db8::/32", "reserved (documentation)"),
	r("2001::/23", "reserved (IETF protocol assignments)"),
	r("2002::/16", "reserved (6to4)"),
	r("2620:4f:8000::/48", "reserved (AS112)"),
	r("3fff::/20", "reserved (documentation)"),
}

// CheckIP returns a *BlockedAddressError when outbound calls may not reach
// ip: loopback, private (RFC 1918, fc00::/7), link-local, shared (CGNAT
// 100.64.0.0/10), multicast, unspecified, broadcast, reserved and
// documentation ranges, cloud metadata addresses, IPv6 outside global
// unicast, and IPv4-mapped (::ffff:a.b.c.d) or NAT64 (64:ff9b::a.b.c.d)
// forms of blocked IPv4 addresses. It returns nil for a public address.
func CheckIP(ip netip.Addr) error {
	if reason := blockedReason(ip); reason != "" {
		return &BlockedAddressError{Addr: ip, Reason: reason}
	}
	return nil
}

func blockedReason(ip netip.Addr) string {
	ip = ip.WithZone("")
	if !ip.IsValid() {
		return "invalid"
	}
	if reason := metadataReason(ip); reason != "" {
		return reason
	}
	if ip.Is4In6() {
		if reason := blockedReason(ip.Unmap()); reason != "" {
			return reason + " (IPv4-mapped)"
		}
		return ""
	}
	if ip.Is4() {
		return match(blockedV4, ip)
	}
	if nat64.Contains(ip) {
		b := ip.As16()
		if reason := blockedReason(netip.AddrFrom4([4]byte(b[12:]))); reason != "" {
			return reason + " (NAT64)"
		}
		return ""
	}
	if reason := match(blockedV6, ip); reason != "" {
		return reason
	}
	if !globalUnicast.Contains(ip) {
		return "reserved (not IPv6 global unicast)"
	}
	return ""
}

// metadataReason returns "cloud metadata" for a metadata address, in any of
// its IPv4, IPv4-mapped or NAT64 forms.
func metadataReason(ip netip.Addr) string {
	ip = ip.WithZone("").Unmap()
	if nat64.Contains(ip) {
		b := ip.As16()
		ip = netip.AddrFrom4([4]byte(b[12:]))
	}
	return match(metadataAddrs, ip)
}

func match(rs []blockedRange, ip netip.Addr) string {
	for _, br := range rs {
		if br.prefix.Contains(ip) {
			return br.reason
		}
	}
	return ""
}
