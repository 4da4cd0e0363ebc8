package connections

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// Timeouts and pool sizes of the outbound transport. The whole call is
// bounded by the caller's context (an api_call's timeout_ms).
const (
	dialTimeout           = 10 * time.Second
	tlsHandshakeTimeout   = 10 * time.Second
	responseHeaderTimeout = 30 * time.Second
	idleConnTimeout       = 90 * time.Second
)

// BlockedAddressError is returned when an outbound connection would reach
// an address that is not on the public internet (loopback, private,
// link-local, cloud metadata...). It is found with errors.As through the
// *url.Error and *net.OpError the HTTP client wraps it in.
type BlockedAddressError struct {
	// Addr is the resolved address that was refused.
	Addr netip.Addr
	// Reason names the range it is in, e.g. "loopback".
	Reason string
}

// Error implements error.
func (e *BlockedAddressError) Error() string {
	return fmt.Sprintf("address %s is blocked: %s addresses cannot be called", e.Addr, e.Reason)
}

// NewGuardedTransport returns the transport every outbound call goes
// through. Its dialer checks each resolved IP address just before it
// connects (so DNS answers and rebinding are covered) and refuses, with a
// *BlockedAddressError, every address CheckIP blocks. With allowPrivate
// (development and tests only) private and loopback addresses are allowed;
// cloud metadata addresses never are. Proxies from the environment are not
// used, as a proxy would dial on the guard's behalf. Only https is spoken,
// in HTTP/1.1, on connections kept alive and reused per host.
func NewGuardedTransport(allowPrivate bool) *Transport {
	d := &net.Dialer{
		Timeout:   dialTimeout,
		KeepAlive: 30 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			return checkDial(network, address, allowPrivate)
		},
	}
	return &Transport{
		TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12},
		DialContext:     d.DialContext,
	}
}

// NewGuardedClient returns a client on NewGuardedTransport(allowPrivate)
// that follows at most MaxRedirects redirects, to https on the same host.
func NewGuardedClient(allowPrivate bool) *http.Client {
	return &http.Client{
		Transport:     NewGuardedTransport(allowPrivate),
		CheckRedirect: RedirectPolicy(MaxRedirects),
	}
}

// checkDial is the dialer's Control function: address is the resolved
// "ip:port" about to be connected to.
func checkDial(network, address string, allowPrivate bool) error {
	switch network {
	case "tcp4", "tcp6":
	default:
		return fmt.Errorf("network %s is not allowed for outbound calls", network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("cannot check outbound address %q: %w", address, err)
	}
	ip := ap.Addr().WithZone("")
	if allowPrivate {
		if reason := metadataReason(ip); reason != "" {
			return &BlockedAddressError{Addr: ip, Reason: reason}
		}
		return nil
	}
	return CheckIP(ip)
}
