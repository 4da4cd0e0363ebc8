package connections

import (
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// Transport is the http.RoundTripper every outbound call goes through
// (NewGuardedTransport). It speaks HTTP/1.1 over TLS with fasthttp's
// client: the calling goroutine writes the request and reads the answer
// on a kept-alive connection to the host, with no hand-off to reader and
// writer goroutines. In the chat-turn benchmark this costs flowbot and
// the API server less CPU per call than net/http's HTTP/2 client
// (bench/README.md).
//
// It sits under http.Client, which keeps doing what it does for any
// transport (redirects through CheckRedirect, *url.Error). Like
// http.Transport it asks for gzip when the request names no encoding and
// decompresses the answer, and it honours the request context's deadline.
// A context cancelled before its deadline is seen before the request is
// sent and when the answer comes, not while waiting for it.
type Transport struct {
	// TLSClientConfig is cloned, with ServerName set to the host, for
	// every new connection. Set fields before the first request.
	TLSClientConfig *tls.Config
	// DialContext opens the TCP connection to "host:port". The guarded
	// dialer checks every resolved address (checkDial).
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	once   sync.Once
	client *fasthttp.Client
}

var _ http.RoundTripper = (*Transport)(nil)

const (
	// maxConnsPerHost bounds the connections to one host; more calls wait
	// for one, within their deadline.
	maxConnsPerHost = 512
	// MaxResponseHeaderBytes bounds an answer's status line and headers
	// (they must fit the connection's read buffer). Proxies commonly stop
	// at 8 KiB.
	MaxResponseHeaderBytes = 16 << 10
)

// ResponseHeaderTooLargeError is returned when an answer's headers are
// over MaxResponseHeaderBytes.
type ResponseHeaderTooLargeError struct{}

// Error implements error.
func (*ResponseHeaderTooLargeError) Error() string {
	return fmt.Sprintf("the response headers are over %d KiB", MaxResponseHeaderBytes>>10)
}

func (t *Transport) fast() *fasthttp.Client {
	t.once.Do(func() {
		t.client = &fasthttp.Client{
			DialTimeout:         t.dialTLS,
			MaxConnsPerHost:     maxConnsPerHost,
			MaxConnWaitTimeout:  responseHeaderTimeout,
			MaxIdleConnDuration: idleConnTimeout,
			// A request goes out again only when not one byte of it was
			// sent: its kept-alive connection turned out to be closed by
			// the server (keepAliveConn). Then any method may be sent on
			// the next connection, as many times as the pool holds dead
			// ones. Any other error is the caller's: a request that may
			// have reached the server is never repeated here.
			MaxIdemponentCallAttempts: maxConnsPerHost + 1,
			RetryIfErr: func(_ *fasthttp.Request, _ int, err error) (bool, bool) {
				return false, errors.Is(err, errStaleConn)
			},
			ReadBufferSize: MaxResponseHeaderBytes,
			// The path goes out as the URL encodes it: a variable's %2F
			// must not turn into a slash.
			DisablePathNormalizing:   true,
			NoDefaultUserAgentHeader: true,
			// The caller reads the body, capped (botstep), so a huge
			// answer is never buffered here.
			StreamResponseBody: true,
		}
	})
	return t.client
}

// dialTLS connects to addr and completes the TLS handshake, so fasthttp
// gets a ready connection and the errors are ours: a *BlockedAddressError
// from the guard, x509 errors from the handshake.
func (t *Transport) dialTLS(addr string, timeout time.Duration) (net.Conn, error) {
	if limit := dialTimeout + tlsHandshakeTimeout; timeout <= 0 || timeout > limit {
		timeout = limit
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	raw, err := t.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		raw.Close()
		return nil, err
	}
	cfg := t.TLSClientConfig.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	cfg.NextProtos = []string{"http/1.1"}
	c := tls.Client(raw, cfg)
	if err := c.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, err
	}
	return newKeepAliveConn(c, raw), nil
}

// CloseIdleConnections closes the kept-alive connections not in use.
func (t *Transport) CloseIdleConnections() {
	t.fast().CloseIdleConnections()
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		defer r.Body.Close()
	}
	if err := CheckURLScheme(r.URL); err != nil {
		return nil, err
	}
	ctx := r.Context()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(responseHeaderTimeout)
	}
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	// Headers exactly as sent and as answered: no Content-Type invented
	// for a request body or an answer without one.
	req.Header.SetNoDefaultContentType(true)
	resp.Header.SetNoDefaultContentType(true)
	release := func() {
		fasthttp.ReleaseRequest(req)
		fasthttp.ReleaseResponse(resp)
	}
	req.SetRequestURI(r.URL.String())
	req.Header.SetMethod(r.Method)
	for k, vs := range r.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	gz := r.Method != http.MethodHead && r.Header.Get("Accept-Encoding") == "" && r.Header.Get("Range") == ""
	if gz {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			release()
			return nil, err
		}
		req.SetBodyRaw(b)
	}
	if err := t.fast().DoDeadline(req, resp, deadline); err != nil {
		release()
		var small *fasthttp.ErrSmallBuffer
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case ok && errors.Is(err, fasthttp.ErrTimeout):
			// fasthttp's own timer, on the context's deadline, can fire
			// just before the context's.
			return nil, context.DeadlineExceeded
		case errors.As(err, &small):
			return nil, &ResponseHeaderTooLargeError{}
		}
		return nil, err
	}
	code := resp.StatusCode()
	status := strconv.Itoa(code)
	if msg := resp.Header.StatusMessage(); len(msg) > 0 {
		status += " " + string(msg)
	} else if text := http.StatusText(code); text != "" {
		status += " " + text
	}
	hr := &http.Response{
		Status: status, StatusCode: code,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        make(http.Header, resp.Header.Len()),
		ContentLength: int64(resp.Header.ContentLength()),
		Request:       r,
	}
	for k, v := range resp.Header.All() {
		key := textproto.CanonicalMIMEHeaderKey(string(k))
		hr.Header[key] = append(hr.Header[key], string(v))
	}
	// As net/http: the framing is not a header of the answer.
	if te := hr.Header.Get("Transfer-Encoding"); te != "" {
		hr.TransferEncoding = []string{te}
		hr.Header.Del("Transfer-Encoding")
	}
	switch {
	case code == http.StatusNoContent || code == http.StatusNotModified || r.Method == http.MethodHead:
		hr.ContentLength = 0 // no body, whatever the headers say
	case hr.ContentLength < 0:
		hr.ContentLength = -1 // chunked, or until the connection closes
	}
	body := &responseBody{req: req, resp: resp, r: resp.BodyStream()}
	if body.r == nil {
		body.r = strings.NewReader("")
	}
	hr.Body = body
	if gz && strings.EqualFold(hr.Header.Get("Content-Encoding"), "gzip") {
		hr.Header.Del("Content-Encoding")
		hr.Header.Del("Content-Length")
		hr.ContentLength, hr.Uncompressed, body.gzip = -1, true, true
	}
	return hr, nil
}

// responseBody is an answer's body as fasthttp streams it. Close hands the
// connection back, or closes it when the body was not read to its end.
type responseBody struct {
	req    *fasthttp.Request
	resp   *fasthttp.Response
	r      io.Reader
	gzip   bool
	zr     *gzip.Reader
	closed bool
}

func (b *responseBody) Read(p []byte) (int, error) {
	if b.closed {
		return 0, errors.New("read on a closed response body")
	}
	if !b.gzip {
		return b.r.Read(p)
	}
	if b.zr == nil {
		zr, err := gzip.NewReader(b.r)
		if err != nil {
			return 0, err
		}
		b.zr = zr
	}
	return b.zr.Read(p)
}

func (b *responseBody) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	err := b.resp.CloseBodyStream()
	fasthttp.ReleaseRequest(b.req)
	fasthttp.ReleaseResponse(b.resp)
	return err
}
