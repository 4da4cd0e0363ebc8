package connections

import (
	"errors"
	"net"
	"strings"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
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
// the canonical domain, or, when subdomains is set, ends in "."+domain
// and domain is not a public suffix (a connection stored before
// validation refused one keeps only its exact host).
//
// The port is not compared: a credential goes to the allowed host on any
// port (the URL's port is the designer's, written without variables), as
// one host is one operator. A redirect must keep the port as well as the
// host (RedirectPolicy), so an answer cannot move the credential to
// another port.
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
	return subdomains && strings.HasSuffix(h, "."+d) && !isPublicSuffix(d)
}

// isPublicSuffix reports whether domain, in canonical form, is a name
// under which anyone can register one (com, co.uk, github.io: the Public
// Suffix List, its private section included), or a single label. IP
// addresses are not.
func isPublicSuffix(domain string) bool {
	if net.ParseIP(domain) != nil {
		return false
	}
	ps, _ := publicsuffix.PublicSuffix(domain)
	return ps == domain
}
