package botstep

import (
	"testing"

	"github.com/flowbot/flowbot/flow"
)

// apiStep is a valid GET api_call step; mod changes it for a case.
func apiStep(mod func(*flow.Step)) flow.Step {
	s := flow.Step{ID: "lookup", Type: flow.TypeAPICall, Name: "Look up order", APICall: flow.APICall{
		Method:     "GET",
		URL:        "https://shop.example.com/api/orders/{{order_number}}.json?fields={{fields}}",
		Headers:    []flow.Header{{Key: "Accept", Value: "application/json"}},
		BodyType:   flow.BodyJSON,
		Connection: "shop_api",
		TimeoutMS:  10000,
		Variables:  []flow.ResponseVariable{{Name: "order_status", Path: "$.order.status"}},
		OnSuccess:  "tell_status",
		OnFailure:  "sorry",
	}}
	if mod != nil {
		mod(&s)
	}
	return s
}

func TestValidateAPICall(t *testing.T) {
	runStepCases(t, []stepCase{
		{name: "OKSpecExample", step: apiStep(nil)},
		{name: "OKMinimal", step: flow.Step{Type: flow.TypeAPICall, APICall: flow.APICall{Method: "GET", URL: "https://example.com"}}},
		{name: "OKEveryMethod", step: apiStep(func(s *flow.Step) { s.Method = "DELETE" })},
		{name: "ErrMissingMethod", step: apiStep(func(s *flow.Step) { s.Method = "" }), want: []string{"/method missing_field"}},
		{name: "ErrLowercaseMethod", step: apiStep(func(s *flow.Step) { s.Method = "get" }), want: []string{"/method invalid_method"}},
		{name: "ErrMethodHEAD", step: apiStep(func(s *flow.Step) { s.Method = "HEAD" }), want: []string{"/method invalid_method"},
			msg: `method "HEAD" is not allowed; use GET, POST, PUT, PATCH or DELETE (in capitals)`},

		{name: "ErrMissingURL", step: apiStep(func(s *flow.Step) { s.URL = "" }), want: []string{"/url missing_field"}},
		{name: "ErrVariableInHost", step: apiStep(func(s *flow.Step) { s.URL = "https://{{shop}}.example.com/x" }),
			want: []string{"/url variable_in_host"}},
		{name: "ErrURLNotHTTPS", step: apiStep(func(s *flow.Step) { s.URL = "http://shop.example.com/x" }), want: []string{"/url url_not_https"}},
		{name: "ErrURLTemplateVariable", step: apiStep(func(s *flow.Step) { s.URL = "https://shop.example.com/{{Order}}" }),
			want: []string{"/url invalid_template_variable"}},

		{name: "OKNoConnection", step: apiStep(func(s *flow.Step) { s.Connection = ""; s.URL = "https://anything.test/" })},
		{name: "OKConnectionHostCase", step: apiStep(func(s *flow.Step) { s.URL = "https://SHOP.example.com./x" })},
		{name: "OKConnectionSubdomain", step: apiStep(func(s *flow.Step) { s.Connection = "wide_api"; s.URL = "https://a.b.example.org/x" })},
		{name: "OKConnectionApex", step: apiStep(func(s *flow.Step) { s.Connection = "wide_api"; s.URL = "https://example.org:8443/x" })},
		{name: "ErrUnknownConnection", step: apiStep(func(s *flow.Step) { s.Connection = "nope" }),
			want: []string{"/connection unknown_connection"}, msg: `connection "nope" does not exist; an admin creates connections`},
		{name: "ErrConnectionHost", step: apiStep(func(s *flow.Step) { s.URL = "https://evil.example.com/x" }),
			want: []string{"/url connection_host_not_allowed"},
			msg:  `url host "evil.example.com" is not allowed by connection "shop_api", which may only be used with shop.example.com`},
		{name: "ErrConnectionSubdomainNotAllowed", step: apiStep(func(s *flow.Step) { s.URL = "https://a.shop.example.com/x" }),
			want: []string{"/url connection_host_not_allowed"}},
		{name: "ErrConnectionSuffixTrick", step: apiStep(func(s *flow.Step) { s.Connection = "wide_api"; s.URL = "https://evilexample.org/x" }),
			want: []string{"/url connection_host_not_allowed"}},

		{name: "OKTimeoutDefault", step: apiStep(func(s *flow.Step) { s.TimeoutMS = 0 })},
		{name: "OKTimeoutMin", step: apiStep(func(s *flow.Step) { s.TimeoutMS = 1000 })},
		{name: "OKTimeoutMax", step: apiStep(func(s *flow.Step) { s.TimeoutMS = 30000 })},
		{name: "ErrTimeout999", step: apiStep(func(s *flow.Step) { s.TimeoutMS = 999 }), want: []string{"/timeout_ms invalid_timeout"},
			msg: "timeout_ms is 999; use 1000 to 30000, or 0 for the default (10000)"},
		{name: "ErrTimeout30001", step: apiStep(func(s *flow.Step) { s.TimeoutMS = 30001 }), want: []string{"/timeout_ms invalid_timeout"}},
		{name: "ErrTimeoutNegative", step: apiStep(func(s *flow.Step) { s.TimeoutMS = -1 }), want: []string{"/timeout_ms invalid_timeout"}},

		{name: "OKRetryEdges", step: apiStep(func(s *flow.Step) { s.Retry = &flow.Retry{MaxAttempts: 5, BackoffMS: 10000} })},
		{name: "OKRetryLowEdges", step: apiStep(func(s *flow.Step) { s.Method = "PUT"; s.Retry = &flow.Retry{MaxAttempts: 1, BackoffMS: 0} })},
		{name: "ErrRetryOnPOST", step: apiStep(func(s *flow.Step) { s.Method = "POST"; s.Retry = &flow.Retry{MaxAttempts: 2} }),
			want: []string{"/retry retry_not_allowed"}},
		{name: "ErrRetryOnPATCH", step: apiStep(func(s *flow.Step) { s.Method = "PATCH"; s.Retry = &flow.Retry{MaxAttempts: 2} }),
			want: []string{"/retry retry_not_allowed"}},
		{name: "ErrRetryAttempts", step: apiStep(func(s *flow.Step) { s.Retry = &flow.Retry{MaxAttempts: 6, BackoffMS: 10001} }),
			want: []string{"/retry/max_attempts invalid_retry_attempts", "/retry/backoff_ms invalid_retry_backoff"}},
		{name: "ErrRetryZero", step: apiStep(func(s *flow.Step) { s.Retry = &flow.Retry{MaxAttempts: 0, BackoffMS: -1} }),
			want: []string{"/retry/max_attempts invalid_retry_attempts", "/retry/backoff_ms invalid_retry_backoff"}},

		{name: "OKAttemptTimeoutEdges", step: apiStep(func(s *flow.Step) {
			s.TimeoutMS = 5000
			s.Retry = &flow.Retry{MaxAttempts: 2, AttemptTimeoutMS: 5000}
		})},
		{name: "OKAttemptTimeoutMin", step: apiStep(func(s *flow.Step) { s.Retry = &flow.Retry{MaxAttempts: 2, AttemptTimeoutMS: 1000} })},
		{name: "OKAttemptTimeoutDefaultCall", step: apiStep(func(s *flow.Step) { s.Retry = &flow.Retry{MaxAttempts: 2, AttemptTimeoutMS: 10000} })},
		{name: "ErrAttemptTimeoutOverCall", step: apiStep(func(s *flow.Step) {
			s.TimeoutMS = 5000
			s.Retry = &flow.Retry{MaxAttempts: 2, AttemptTimeoutMS: 5001}
		}), want: []string{"/retry/attempt_timeout_ms invalid_attempt_timeout"},
			msg: "attempt_timeout_ms is 5001; use 1000 to 5000 (the step's timeout_ms, which bounds the whole call), or 0 for no limit of its own"},
		{name: "ErrAttemptTimeoutOverDefaultCall", step: apiStep(func(s *flow.Step) { s.Retry = &flow.Retry{MaxAttempts: 2, AttemptTimeoutMS: 10001} }),
			want: []string{"/retry/attempt_timeout_ms invalid_attempt_timeout"}},
		{name: "ErrAttemptTimeout999", step: apiStep(func(s *flow.Step) { s.Retry = &flow.Retry{MaxAttempts: 2, AttemptTimeoutMS: 999} }),
			want: []string{"/retry/attempt_timeout_ms invalid_attempt_timeout"}},
		{name: "ErrAttemptTimeoutNegative", step: apiStep(func(s *flow.Step) { s.Retry = &flow.Retry{MaxAttempts: 2, AttemptTimeoutMS: -1} }),
			want: []string{"/retry/attempt_timeout_ms invalid_attempt_timeout"}},

		{name: "ErrFieldNotAllowed", step: apiStep(func(s *flow.Step) { s.Text = "hi"; s.Next = "x"; s.Else = "y" }),
			want: []string{"/text field_not_allowed", "/next field_not_allowed", "/else field_not_allowed"}},
		{name: "OKBranchesNotCheckedOnAStep", step: apiStep(func(s *flow.Step) { s.OnSuccess, s.OnFailure = "", "" })},
	})
}

func TestValidateAPICallBare(t *testing.T) {
	s := apiStep(func(s *flow.Step) { s.OnSuccess, s.OnFailure = "", ""; s.URL = "https://{{h}}/" })
	checkProblems(t, ValidateAPICall(&s, "", testConns), "", []string{"/url variable_in_host"}, "")

	m := flow.Step{Type: flow.TypeMessage, Text: "x"}
	checkProblems(t, ValidateAPICall(&m, "", nil), "", []string{"/type not_api_call"}, "")

	// nil conns: no connection exists.
	ok := apiStep(nil)
	checkProblems(t, ValidateAPICall(&ok, "/step", nil), "/step", []string{"/connection unknown_connection"}, "")
	ok.Connection = ""
	checkProblems(t, ValidateAPICall(&ok, "/step", nil), "/step", nil, "")
}
