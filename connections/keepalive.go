package connections

import (
	"crypto/tls"
	"errors"
	"net"
	"syscall"
	"time"
)

// staleAfter is how long a kept-alive connection may sit unused before
// its next request first checks that the server has not closed it.
// Servers close idle connections after as little as a few seconds (Node's
// default is 5 s); under load a connection is reused within milliseconds
// and never pays for the check.
const staleAfter = 250 * time.Millisecond

// errStaleConn is returned by the first write on a kept-alive connection
// the server has closed, before any byte of the request is sent; the
// request then goes out on another connection (Transport's RetryIfErr).
var errStaleConn = errors.New("the kept-alive connection was closed by the server")

// keepAliveConn is an outbound connection (TLS over TCP) that notes when
// it was last used. fasthttp uses a connection from one goroutine at a
// time, so the field needs no lock.
type keepAliveConn struct {
	*tls.Conn                 // handshake done (dialTLS)
	raw       syscall.RawConn // the TCP socket under it, for the check
	last      time.Time
}

// keepAliveConn keeps the *tls.Conn's Handshake method: fasthttp takes a
// connection with one for TLS already and does not wrap it again.
var _ interface{ Handshake() error } = (*keepAliveConn)(nil)

func newKeepAliveConn(c *tls.Conn, tcp net.Conn) net.Conn {
	k := &keepAliveConn{Conn: c, last: time.Now()}
	if sc, ok := tcp.(syscall.Conn); ok {
		k.raw, _ = sc.SyscallConn()
	}
	return k
}

func (c *keepAliveConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.last = time.Now()
	return n, err
}

func (c *keepAliveConn) Write(p []byte) (int, error) {
	if c.raw != nil && time.Since(c.last) > staleAfter && !socketOpen(c.raw) {
		return 0, errStaleConn
	}
	n, err := c.Conn.Write(p)
	c.last = time.Now()
	return n, err
}
