package botstep

import (
	"fmt"

	"github.com/flowbot/flowbot/connections"
	"github.com/flowbot/flowbot/flow"
)

// ConnectionInfo is what validation needs to know about an existing
// connection: the host its credential may be sent to.
type ConnectionInfo struct {
	AllowedDomain   string
	AllowSubdomains bool
	// Status and StatusMessage are the connection's health (see
	// connections.Connection.Status); anything but ok (or "") is warned
	// about on each step that uses it.
	Status, StatusMessage string
}

// connectionWarnings maps a connection status to its warning code.
var connectionWarnings = map[string]string{
	connections.StatusExpired:  CodeConnectionExpired,
	connections.StatusRefused:  CodeConnectionRefused,
	connections.StatusExpiring: CodeConnectionExpiring,
}

// ValidateAPICall checks one api_call step on its own (SPEC §3 rules 1, 2,
// 3, 5, 6, 7, 8, 11 and the retry settings), as for a test call of an
// unsaved step. ptr is the step's JSON pointer ("/steps/3", or "" for a
// bare step) and prefixes every problem's pointer. conns holds the
// existing connections by name (nil: none exist).
//
// It does not look at on_success and on_failure: that both are set and
// name existing steps is a property of the flow (rule 9), checked by
// Validate, so a designer can test a step before wiring its branches.
func ValidateAPICall(s *flow.Step, ptr string, conns map[string]ConnectionInfo) flow.Problems {
	var p flow.Problems
	if s.Type != flow.TypeAPICall {
		p.Add(ptr+"/type", CodeNotAPICall, fmt.Sprintf("type is %s; only an api_call step can be checked here", flow.Quote(s.Type)))
		return p
	}
	checkFields(&p, s, ptr)
	checkAPICall(&p, s, ptr, conns)
	return p
}

func checkAPICall(p *flow.Problems, s *flow.Step, ptr string, conns map[string]ConnectionInfo) {
	checkMethod(p, s.Method, ptr+"/method")
	t := checkURL(p, s.URL, ptr+"/url")
	checkConnection(p, conns, s.Connection, t, ptr)
	checkHeaders(p, s.Headers, ptr+"/headers")
	checkBody(p, s, ptr)
	checkResponseVariables(p, s.Variables, ptr+"/variables")
	checkTimeout(p, s.TimeoutMS, ptr+"/timeout_ms")
	checkRetry(p, s, ptr+"/retry")
	checkSuccessWhen(p, s.SuccessWhen, ptr+"/success_when")
}

// checkAPICallBranches is rule 9 inside a flow: both branches are set.
func checkAPICallBranches(p *flow.Problems, s *flow.Step, ptr string) {
	if s.OnSuccess == "" {
		p.Add(ptr+"/on_success", CodeMissingField, "on_success is required: name the step that runs after a 2xx response")
	}
	if s.OnFailure == "" {
		p.Add(ptr+"/on_failure", CodeMissingField, "on_failure is required: name the step that runs after an error status, a timeout or a network error")
	}
}

func checkMethod(p *flow.Problems, m, ptr string) {
	switch m {
	case "GET", "POST", "PUT", "PATCH", "DELETE":
	case "":
		p.Add(ptr, CodeMissingField, "method is required; use GET, POST, PUT, PATCH or DELETE")
	default:
		p.Add(ptr, CodeInvalidMethod, fmt.Sprintf("method %s is not allowed; use GET, POST, PUT, PATCH or DELETE (in capitals)", flow.Quote(m)))
	}
}

func checkURL(p *flow.Problems, raw, ptr string) *URLTemplate {
	if raw == "" {
		p.Add(ptr, CodeMissingField, "url is required")
		return nil
	}
	t, err := ParseURLTemplate(raw)
	if err != nil {
		e := err.(*URLError)
		p.Add(ptr, e.Code, e.Message)
		return nil
	}
	return t
}

// checkConnection: the connection exists and allows the URL's host. t is
// nil when the URL is missing or invalid (already reported).
func checkConnection(p *flow.Problems, conns map[string]ConnectionInfo, name string, t *URLTemplate, ptr string) {
	if name == "" {
		return
	}
	c, ok := conns[name]
	if !ok {
		p.Add(ptr+"/connection", CodeUnknownConnection, fmt.Sprintf("connection %s does not exist; an admin creates connections", flow.Quote(name)))
		return
	}
	if code := connectionWarnings[c.Status]; code != "" {
		p.Warn(ptr+"/connection", code, fmt.Sprintf("connection %s: %s", flow.Quote(name), c.StatusMessage))
	}
	if t == nil || connections.HostAllowed(t.Host, c.AllowedDomain, c.AllowSubdomains) {
		return
	}
	allowed := c.AllowedDomain
	if c.AllowSubdomains {
		allowed += " or its subdomains"
	}
	p.Add(ptr+"/url", CodeHostNotAllowed, fmt.Sprintf("url host %s is not allowed by connection %s, which may only be used with %s",
		flow.Quote(t.Host), flow.Quote(name), allowed))
}

func checkTimeout(p *flow.Problems, ms int, ptr string) {
	if ms != 0 && (ms < flow.MinTimeoutMS || ms > flow.MaxTimeoutMS) {
		p.Add(ptr, CodeInvalidTimeout, fmt.Sprintf("timeout_ms is %d; use %d to %d, or 0 for the default (%d)",
			ms, flow.MinTimeoutMS, flow.MaxTimeoutMS, flow.DefaultTimeoutMS))
	}
}

// checkRetry: retries only for idempotent methods, 1 to 5 attempts, a
// backoff of 0 to 10000 ms, an attempt timeout within the call's.
func checkRetry(p *flow.Problems, s *flow.Step, ptr string) {
	r := s.Retry
	if r == nil {
		return
	}
	switch s.Method {
	case "POST", "PATCH": // other bad methods are reported on method
		p.Add(ptr, CodeRetryNotAllowed, fmt.Sprintf("retry is not allowed with %s: only GET, PUT and DELETE may be retried safely", s.Method))
	}
	if r.MaxAttempts < 1 || r.MaxAttempts > flow.MaxRetryAttempts {
		p.Add(ptr+"/max_attempts", CodeInvalidRetryAttempts, fmt.Sprintf("max_attempts is %d; use 1 to %d", r.MaxAttempts, flow.MaxRetryAttempts))
	}
	if r.BackoffMS < 0 || r.BackoffMS > flow.MaxRetryBackoffMS {
		p.Add(ptr+"/backoff_ms", CodeInvalidRetryBackoff, fmt.Sprintf("backoff_ms is %d; use 0 to %d", r.BackoffMS, flow.MaxRetryBackoffMS))
	}
	if ms, whole := r.AttemptTimeoutMS, callTimeoutMS(s); ms != 0 && (ms < flow.MinTimeoutMS || ms > whole) {
		p.Add(ptr+"/attempt_timeout_ms", CodeInvalidAttemptTimeout, fmt.Sprintf(
			"attempt_timeout_ms is %d; use %d to %d (the step's timeout_ms, which bounds the whole call), or 0 for no limit of its own",
			ms, flow.MinTimeoutMS, whole))
	}
}

// callTimeoutMS is the step's timeout_ms, or the default when it is 0.
func callTimeoutMS(s *flow.Step) int {
	if s.TimeoutMS == 0 {
		return flow.DefaultTimeoutMS
	}
	return s.TimeoutMS
}
