package botstep

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/flowbot/flowbot/connections"
	"github.com/flowbot/flowbot/flow"
)

// Executor runs api_call steps. It is the one code path of the runtime and
// the builder's test call. Client must be the SSRF-guarded client with the
// redirect policy of SPEC §3 (connections.NewGuardedClient).
type Executor struct {
	Client      *http.Client
	Connections *connections.Service
	// OmitLogBodies keeps request and response bodies out of the
	// execution log (FLOWBOT_LOG_BODIES=false), for APIs whose answers
	// hold more personal data than the flow saves.
	OmitLogBodies bool

	mu    sync.Mutex
	cache map[string]*prepared
}

var _ flow.APICaller = (*Executor)(nil)

// prepared is the parsed form of a step's URL template and variable paths,
// made once per distinct step and reused on every call.
type prepared struct {
	url   *URLTemplate
	paths []ResponsePath
	// succ are the paths of success_when, in order.
	succ []ResponsePath
	err  error
}

// maxPrepared bounds the cache of prepared steps.
const maxPrepared = 4096

func (x *Executor) prepare(s *flow.Step) *prepared {
	// The key is the URL, each variable's path and each success_when
	// path, every part preceded by its length and the two lists by their
	// counts, so no two steps share a key (a plain separator could be
	// typed into a path). It is built on the stack and converted to a
	// string only to insert: a map lookup with string(bytes) does not
	// allocate.
	var buf [256]byte
	key := appendKeyPart(buf[:0], s.URL)
	key = binary.AppendUvarint(key, uint64(len(s.Variables)))
	for _, v := range s.Variables {
		key = appendKeyPart(key, v.Path)
	}
	if len(s.SuccessWhen) > 0 {
		key = binary.AppendUvarint(key, uint64(len(s.SuccessWhen)))
		for _, c := range s.SuccessWhen {
			key = appendKeyPart(key, c.Path)
		}
	}
	x.mu.Lock()
	p, ok := x.cache[string(key)]
	x.mu.Unlock()
	if ok {
		return p
	}
	k := string(key)
	p = &prepared{}
	p.url, p.err = ParseURLTemplate(s.URL)
	for _, v := range s.Variables {
		rp, err := ParseResponsePath(v.Path)
		if err != nil && p.err == nil {
			p.err = err
		}
		p.paths = append(p.paths, rp)
	}
	for _, c := range s.SuccessWhen {
		rp, err := ParseResponsePath(c.Path)
		if err != nil && p.err == nil {
			p.err = err
		}
		p.succ = append(p.succ, rp)
	}
	x.mu.Lock()
	if x.cache == nil || len(x.cache) >= maxPrepared {
		x.cache = map[string]*prepared{}
	}
	x.cache[k] = p
	x.mu.Unlock()
	return p
}

func appendKeyPart(b []byte, part string) []byte {
	b = binary.AppendUvarint(b, uint64(len(part)))
	return append(b, part...)
}

// Outcome is everything an api_call did.
type Outcome struct {
	Method string
	URL    string
	// RequestHeader is what was sent, credentials redacted.
	RequestHeader http.Header
	RequestBody   []byte
	Status        int
	Header        http.Header
	Body          []byte
	Duration      time.Duration
	Bytes         int64
	Attempts      int
	Success       bool
	Saved         map[string]string
	ErrorCode     string
	ErrorMessage  string
	// data is the parsed JSON body (nil when empty or not JSON), once
	// parsed is set.
	data   any
	parsed bool
	// tooDeep: the body nests deeper than maxAnswerDepth and was not
	// parsed.
	tooDeep bool
	// secrets are the credential strings the request carried
	// (connections.SecretsSent), redacted from the answer.
	secrets   []string
	refreshed bool
	// retryAfter is the last answer's Retry-After (0: none).
	retryAfter time.Duration
}

// Call implements flow.APICaller for the runtime.
func (x *Executor) Call(ctx context.Context, s *flow.Step, vars flow.Lookup) flow.CallResult {
	o := x.Execute(ctx, s, vars)
	l := o.Log()
	if !x.OmitLogBodies {
		l.RequestBody, l.RequestBodyCut = clipBody(o.RequestBody)
		l.ResponseBody, l.ResponseBodyCut = clipBody(o.Body)
	}
	return flow.CallResult{Success: o.Success, Saved: o.Saved, Log: l}
}

// clipBody is the start of b for the execution log: at most
// flow.MaxLoggedBody bytes, cut before a character, as valid UTF-8.
func clipBody(b []byte) (string, bool) {
	cut := len(b) > flow.MaxLoggedBody
	b = b[:cutAt(b, flow.MaxLoggedBody)]
	return strings.ToValidUTF8(string(b), "\uFFFD"), cut
}

// Log is the execution-log record of an outcome; headers are redacted.
func (o *Outcome) Log() flow.APICallLog {
	l := flow.APICallLog{Method: o.Method, URL: o.URL, Status: o.Status, Bytes: o.Bytes, Attempts: o.Attempts,
		DurationMS: float64(o.Duration.Microseconds()) / 1000, Branch: "failure", Error: o.ErrorCode, ErrorMsg: o.ErrorMessage}
	if o.Success {
		l.Branch = "success"
	}
	if len(o.RequestHeader) > 0 {
		l.Headers = make(map[string]string, len(o.RequestHeader))
		for k, v := range o.RequestHeader {
			l.Headers[k] = strings.Join(v, ", ")
		}
	}
	if len(o.Saved) > 0 {
		l.Saved = make([]string, 0, len(o.Saved))
		for k := range o.Saved {
			l.Saved = append(l.Saved, k)
		}
		sort.Strings(l.Saved)
	}
	return l
}

// Execute makes the step's request with the variables in scope and returns
// the outcome. Every failure is an outcome on the failure branch.
func (x *Executor) Execute(ctx context.Context, s *flow.Step, vars flow.Lookup) *Outcome {
	o := &Outcome{Method: s.Method, Saved: make(map[string]string, len(s.Variables))}
	p := x.prepare(s)
	if p.err != nil {
		return o.fail(ErrCodeInvalidStep, p.err.Error())
	}
	br, err := buildRequest(p, s, vars)
	if err != nil {
		var se *StepError
		errors.As(err, &se)
		return o.fail(se.Code, se.Message)
	}
	o.URL, o.RequestBody = br.url, br.body
	attempts := 1
	if s.Retry != nil && idempotent(s.Method) && s.Retry.MaxAttempts > 1 {
		attempts = s.Retry.MaxAttempts
	}
	start := time.Now()
	// timeout_ms bounds the whole call: every attempt, redirect and
	// backoff wait (SPEC §3 rule 11).
	ctx, cancel := context.WithTimeout(ctx, time.Duration(callTimeoutMS(s))*time.Millisecond)
	defer cancel()
	for a := 1; ; a++ {
		o.Attempts = a
		retry := x.attempt(ctx, s, br, o)
		if !retry || a >= attempts || ctx.Err() != nil {
			break
		}
		// A 429 or 503 may say when to come back; never sooner than that.
		wait := max(backoff(s.Retry.BackoffMS, a), o.retryAfter)
		if d, ok := ctx.Deadline(); ok && time.Until(d) <= wait {
			break // the next attempt could not start in time
		}
		if !sleep(ctx, wait) {
			break
		}
	}
	o.Duration = time.Since(start)
	if o.ErrorCode == ErrCodeTimeout {
		if timeUp := flow.TurnTimeUp(ctx); timeUp != nil {
			// Cut by the turn's limit, which came before the step's own.
			o.ErrorMessage = "the API did not answer before the turn ran out of time (" + timeUp.Error() + ")"
		}
	}
	// An answer too deep to read fails only a step that reads it.
	if o.Success && (len(s.Variables) > 0 || len(s.SuccessWhen) > 0) {
		if o.parse(); o.tooDeep {
			o.fail(ErrCodeTooDeep, "the answer's JSON is nested more than "+strconv.Itoa(maxAnswerDepth)+" levels deep; it was not read")
		} else if len(s.SuccessWhen) > 0 {
			o.checkSuccess(s, p, vars)
		}
	}
	if o.Success || o.ErrorCode == ErrCodeHTTPStatus || o.ErrorCode == ErrCodeSuccessCondition {
		// A 4xx/5xx answer read whole fills the variables its JSON has
		// too, so the failure branch can tell the user the API's own
		// message ("no such order") and the test call lists its paths.
		o.save(s, p, vars)
	} else if o.Status != 0 {
		o.saveMeta(s, p)
	}
	return o
}

// attempt sends the request once and fills o; it reports whether a retry
// could help (5xx or timeout).
func (x *Executor) attempt(ctx context.Context, s *flow.Step, br *builtRequest, o *Outcome) (retry bool) {
	o.Status, o.Header, o.Body, o.Bytes, o.ErrorCode, o.ErrorMessage, o.data, o.parsed, o.tooDeep, o.secrets, o.retryAfter = 0, nil, nil, 0, "", "", nil, false, false, nil, 0
	// ctx is bounded by the whole call's timeout (Execute); an attempt
	// timeout bounds this attempt within it.
	if s.Retry != nil && s.Retry.AttemptTimeoutMS > 0 {
		call := ctx
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(s.Retry.AttemptTimeoutMS)*time.Millisecond)
		defer cancel()
		defer func() {
			// Timed out where the attempt's own limit came before the
			// call's: say which limit was hit. (The deadlines are
			// compared: the transport's timer can fire before the
			// context's.)
			ad, _ := ctx.Deadline()
			cd, _ := call.Deadline()
			if o.ErrorCode == ErrCodeTimeout && ad.Before(cd) {
				o.ErrorMessage = "the API did not answer within the attempt timeout (" + strconv.Itoa(s.Retry.AttemptTimeoutMS) + " ms)"
			}
		}()
	}
	req, err := http.NewRequestWithContext(ctx, br.method, br.url, bytes.NewReader(br.body))
	if err != nil {
		o.fail(ErrCodeInvalidStep, "the URL could not be used: "+err.Error())
		return false
	}
	// With a connection, a copy: Authorize adds the credential to it, and
	// br.header, shared by every attempt, must never hold one (a later
	// attempt whose Authorize fails shows its header as it is). Without
	// one nothing writes to the header (the client copies it for a
	// redirect), so it is shared.
	req.Header = br.header
	if len(br.body) == 0 {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	var conn *connections.Connection
	if s.Connection != "" {
		req.Header = br.header.Clone()
		if x.Connections == nil {
			o.fail(ErrCodeConnection, "connection "+s.Connection+" is not available")
			return false
		}
		var err error
		if conn, err = x.Connections.Apply(ctx, req, s.Connection); err != nil {
			o.RequestHeader = req.Header
			return o.classify(err, s.Connection)
		}
		if q := conn.Public["query"]; q != "" && conn.Type == connections.TypeAPIKey {
			// The key went into the URL: show where, never what.
			o.URL = connections.MaskQueryKey(br.url, q)
		}
	}
	o.RequestHeader = connections.RedactHeaders(req.Header, conn)
	resp, err := x.Client.Do(req)
	if err != nil {
		return o.classify(err, s.Connection)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized && conn != nil && conn.Type == connections.TypeOAuth2CC && !o.refreshed {
		// The cached OAuth token may have been revoked: fetch a new one once.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, flow.MaxResponseBytes))
		resp.Body.Close()
		x.Connections.Invalidate(s.Connection)
		o.refreshed = true
		return x.attempt(ctx, s, br, o)
	}
	o.Status, o.Header = resp.StatusCode, resp.Header
	if conn != nil {
		host := req.URL.Hostname()
		if resp.Request != nil {
			host = resp.Request.URL.Hostname() // after any redirect, the host that answered
		}
		// Once the answer is read (and its body closed, so the pooled
		// connection is free): a write it may cost is not counted against
		// reading it within the timeout.
		status := resp.StatusCode
		defer func() {
			resp.Body.Close()
			x.Connections.NoteAnswer(ctx, conn, host, status)
		}()
	}
	o.secrets = connections.SecretsSent(req.Header, req.URL, conn)
	if len(o.secrets) > 0 {
		connections.RedactSecretsInHeaders(o.Header, o.secrets)
	}
	if resp.ContentLength > flow.MaxResponseBytes {
		o.fail(ErrCodeTooLarge, "the response body is "+strconv.FormatInt(resp.ContentLength, 10)+" bytes, over 1 MiB; it was not read")
		return false
	}
	// The transport decompresses gzip itself (and then reports no
	// ContentLength); the cap applies after decompression, so a gzip
	// bomb stops at 1 MiB + 1 byte.
	body, err := readCapped(resp.Body, resp.ContentLength, flow.MaxResponseBytes)
	o.Bytes = int64(len(body))
	if err != nil {
		return o.classify(err, s.Connection)
	}
	if len(body) > flow.MaxResponseBytes {
		o.fail(ErrCodeTooLarge, "the response body is over 1 MiB; it was not read further")
		return false
	}
	// An API may echo the credential (an echo endpoint, an error page
	// quoting the request): it goes no further than here, and parse
	// looks for it again in the parsed answer.
	o.Body = connections.RedactSecrets(body, o.secrets)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		o.Success = true
		return false
	}
	msg := "the API answered " + statusText(resp.StatusCode)
	if conn != nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
		// The likely cause, when the admin said so.
		if status, why := x.Connections.Health(conn); status == connections.StatusExpired {
			msg += "; connection " + conn.Name + ": " + why
		}
	}
	o.fail(ErrCodeHTTPStatus, msg)
	// 429 Too Many Requests: the API did not act on it, so another try
	// after its Retry-After may succeed.
	o.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	return resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
}

// statusText is code with its standard reason phrase ("404 Not Found").
// The phrase the API sent is never shown: it is free text, and an API may
// put in it what it was sent ("401 Unknown key <key>"), which would reach
// the test call and the execution log unredacted.
func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return strconv.Itoa(code) + " " + t
	}
	return strconv.Itoa(code)
}

// parseRetryAfter reads a Retry-After header (RFC 9110 §10.2.3): seconds,
// or an HTTP date. 0 when absent, unreadable or past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n <= 0 || n > 86400 {
			return 0 // over a day: no call waits that long anyway
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// readCapped reads r to its end, but at most max+1 bytes, so a longer body
// is seen to be too long without being read. size is the declared length
// (-1 when unknown, as for a body the transport decompresses): a body that
// declares it is read into one buffer of that size, saving io.ReadAll's
// growing and final copy.
func readCapped(r io.Reader, size int64, max int) ([]byte, error) {
	if size < 0 || size > int64(max) {
		return io.ReadAll(io.LimitReader(r, int64(max)+1))
	}
	b := make([]byte, 0, size+1) // a spare byte, so EOF is read without growing
	for len(b) < cap(b) {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
	// Longer than declared (the transport does not allow it): read on,
	// still capped.
	rest, err := io.ReadAll(io.LimitReader(r, int64(max+1-len(b))))
	return append(b, rest...), err
}

// blockedMessage says why a call was refused by the address guard. For a
// host name it names the kind of address the name resolves to, not the
// address: designers see these messages, and must not learn the inside of
// the network from them.
func blockedMessage(rawURL string, b *connections.BlockedAddressError) string {
	host := rawURL
	if u, err := url.Parse(rawURL); err == nil {
		host = u.Hostname()
	}
	if a, err := netip.ParseAddr(host); err == nil && a.Unmap() == b.Addr.Unmap() {
		return "the address " + host + " is not reachable from flowbot (" + b.Reason + ")"
	}
	return "the host " + host + " is not reachable from flowbot: it resolves to a " + b.Reason + " address"
}

// classify turns a transport error into an error code; it reports whether
// a retry could help.
func (o *Outcome) classify(err error, conn string) bool {
	var blocked *connections.BlockedAddressError
	var redirect *connections.RedirectRefusedError
	var scheme *connections.SchemeError
	var bigHeader *connections.ResponseHeaderTooLargeError
	var notAllowed *connections.HostNotAllowedError
	var queryConflict *connections.QueryKeyConflictError
	var tokenErr *connections.TokenError
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var netErr net.Error
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &blocked):
		o.fail(ErrCodeBlocked, blockedMessage(o.URL, blocked))
	case errors.As(err, &redirect):
		o.fail(ErrCodeRedirect, "a redirect was refused: "+redirect.Reason)
	case errors.As(err, &scheme):
		o.fail(ErrCodeInvalidStep, "only https URLs may be called")
	case errors.As(err, &bigHeader):
		o.fail(ErrCodeTooLarge, bigHeader.Error()+"; they were not read further")
	case errors.As(err, &queryConflict):
		o.fail(ErrCodeCredentialRefused, queryConflict.Error())
	case errors.As(err, &notAllowed):
		o.fail(ErrCodeCredentialRefused, "connection "+conn+" may only be used for "+notAllowed.AllowedDomain+"; the request went to "+notAllowed.Host)
	case errors.As(err, &tokenErr):
		o.fail(ErrCodeConnection, "connection "+conn+" could not get an access token: "+tokenErr.Reason)
	case flow.ErrorCode(err) == flow.ENOTFOUND:
		o.fail(ErrCodeConnection, "connection "+conn+" does not exist")
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()):
		o.fail(ErrCodeTimeout, "the API did not answer within the step's timeout")
		return true
	case errors.As(err, &certErr) || errors.As(err, &unknownAuth) || errors.As(err, &hostErr):
		o.fail(ErrCodeTLS, "the API's TLS certificate was not accepted")
	case errors.Is(err, context.Canceled):
		o.fail(ErrCodeNetwork, "the call was cancelled")
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		o.fail(ErrCodeNetwork, "the host "+dnsErr.Name+" was not found (DNS)")
	case errors.As(err, &dnsErr):
		o.fail(ErrCodeNetwork, "the host "+dnsErr.Name+" could not be looked up (DNS)")
		return true
	case errors.Is(err, syscall.ECONNREFUSED):
		o.fail(ErrCodeNetwork, "the API refused the connection")
		return true
	case errors.Is(err, syscall.ECONNRESET):
		o.fail(ErrCodeNetwork, "the API closed the connection before answering")
		return true
	default:
		o.fail(ErrCodeNetwork, "the API could not be reached")
		return true
	}
	return false
}

func (o *Outcome) fail(code, msg string) *Outcome {
	o.Success, o.ErrorCode, o.ErrorMessage = false, code, msg
	return o
}

func idempotent(m string) bool {
	return m == http.MethodGet || m == http.MethodPut || m == http.MethodDelete
}

// backoff is the wait before retry a (1-based): base·2^(a-1) with ±25 %
// jitter, at most flow.MaxRetryBackoffMS.
func backoff(baseMS, a int) time.Duration {
	if baseMS <= 0 {
		return 0
	}
	d := float64(baseMS) * float64(int(1)<<(a-1))
	d = min(d, flow.MaxRetryBackoffMS)
	d *= 0.75 + rand.Float64()/2
	return time.Duration(d) * time.Millisecond
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
