package connections

import (
	"errors"
	"net"
	"strings"

	"golang.org/x/net/idna"
)

// CanonicalHost returns host in the one form hosts are compared in:
// lower case, without a trailing dot, IDN labels as ASCII (punycode).
// It refuses empty hosts, hosts with a port, scheme, path or user-info, and
// labels that are not valid hostnames.
func CanonicalHost(host string) (string, error) {
	h := strings.TrimSuffix(strings.TrimSpace(host), ".")
	if h == "" {
		return "", errors.New("host is empty")
	}
	if strings.ContainsAny(h, ":/@?#[] \\") {
		return "", errors.New("host must be a hostname without scheme, port, path or user-info")
	}
	a, err := idna.Lookup.ToASCII(h)
	if err != nil {
		return "", errors.New("host is not a valid hostname")
	}
	a = strings.ToLower(a)
	if net.ParseIP(a) != nil {
		return a, nil
	}
	for _, label := range strings.Split(a, ".") {
		if label == "" || len(label) > 63 {
			return "", errors.New("host has an empty or over-long label")
		}
	}
	return a, nil
}

// HostAllowed reports whether an outbound request to host may carry the
// credential of a connection limited to domain: the canonical host equals
// the canonical domain, or, when subdomains is set, ends in "."+domain.
func HostAllowed(host, domain string, subdomains bool) bool {
	if hh, _, err := net.SplitHostPort(host); err == nil {
		host = hh
	}
	h, err := CanonicalHost(host)
	if err != nil {
		return false
	}
	d, err := CanonicalHost(domain)
	if err != nil {
		return false
	}
	if h == d {
		return true
	}
	return subdomains && strings.HasSuffix(h, "."+d)
}
