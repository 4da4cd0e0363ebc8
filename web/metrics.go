package web

import (
	"context"
	"net/url"
	"strconv"
	"time"

	"github.com/flowbot/flowbot/connections"
	"github.com/flowbot/flowbot/flow"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the service's Prometheus metrics, on a registry of its own
// (no global state), served at /metrics.
type metrics struct {
	reg           *prometheus.Registry
	requests      *prometheus.CounterVec
	requestTime   *prometheus.HistogramVec
	turns         *prometheus.CounterVec
	turnTime      *prometheus.HistogramVec
	steps         *prometheus.CounterVec
	apiCalls      *prometheus.HistogramVec
	conversations *prometheus.CounterVec
}

// StoreStats are the store's running totals, exported on /metrics.
type StoreStats struct {
	// JournalWrites counts journal writes, each one fdatasync.
	JournalWrites uint64
	// JournalTurns counts the turns those writes carried.
	JournalTurns uint64
	// Checkpoints counts the transactions that moved journaled turns
	// into the database file.
	Checkpoints uint64
}

func newMetrics(storeStats func() StoreStats) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	if storeStats != nil {
		for _, c := range []struct {
			name, help string
			get        func(StoreStats) uint64
		}{
			{"flowbot_journal_writes_total", "Journal writes, each one fdatasync; turns that arrive together share one.", func(s StoreStats) uint64 { return s.JournalWrites }},
			{"flowbot_journal_turns_total", "Turns made durable by journal writes.", func(s StoreStats) uint64 { return s.JournalTurns }},
			{"flowbot_checkpoints_total", "Checkpoints that moved journaled turns into the database file.", func(s StoreStats) uint64 { return s.Checkpoints }},
		} {
			m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: c.name, Help: c.help},
				func() float64 { return float64(c.get(storeStats())) }))
		}
	}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowbot_http_requests_total", Help: "HTTP requests by route, method and status."}, []string{"route", "method", "status"})
	m.requestTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "flowbot_http_request_duration_seconds", Help: "HTTP request latency by route.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}, []string{"route"})
	m.turns = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowbot_turns_total", Help: "Conversation turns (start or message) by resulting conversation status."}, []string{"kind", "status"})
	m.turnTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "flowbot_turn_duration_seconds", Help: "Turn latency, stored durably, by kind.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"kind"})
	m.steps = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowbot_step_runs_total", Help: "Step runs by step type and outcome."}, []string{"type", "outcome"})
	m.apiCalls = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "flowbot_api_call_duration_seconds", Help: "api_call duration by upstream host and outcome (success, failure_4xx, failure_5xx, timeout, blocked, error).", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}, []string{"host", "outcome"})
	m.conversations = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowbot_conversations_total", Help: "Conversations started, and finished by final status."}, []string{"status"})
	m.reg.MustRegister(m.requests, m.requestTime, m.turns, m.turnTime, m.steps, m.apiCalls, m.conversations,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (s *Server) registerMetrics() {
	if s.Connections != nil {
		s.metrics.reg.MustRegister(connectionCollector{list: s.Connections.List})
	}
	if h := s.Handoff; h != nil {
		for _, c := range []struct {
			result string
			get    func(HandoffStats) uint64
		}{
			{"delivered", func(st HandoffStats) uint64 { return st.Delivered }},
			{"given_up", func(st HandoffStats) uint64 { return st.GivenUp }},
			{"dropped", func(st HandoffStats) uint64 { return st.Dropped }},
		} {
			s.metrics.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "flowbot_handoff_notices_total", Help: "Hand-off notices by how they ended: delivered, given_up (refused, or tried too long) or dropped (no outbox to wait in: too many in flight, or the server stopping).",
				ConstLabels: prometheus.Labels{"result": c.result},
			}, func() float64 { return float64(c.get(h.Stats())) }))
		}
		s.metrics.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "flowbot_handoff_in_flight", Help: "Hand-off notices being sent or waiting for their next try; more wait in the outbox past 1,000.",
		}, func() float64 { return float64(h.Stats().InFlight) }))
	}
	// A collector that fails (the connections' store read) costs its own
	// series, not the whole scrape.
	h := promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	s.handle("GET", "/metrics", Public, echo.WrapHandler(h))
}

// observeRequest counts one HTTP request.
func (m *metrics) observeRequest(route, method string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.requestTime.WithLabelValues(route).Observe(d.Seconds())
}

// observeTurn counts a turn, its steps and api_calls, from the turn's log.
func (m *metrics) observeTurn(kind string, conv *flow.Conversation, t *flow.Turn, d time.Duration) {
	m.turns.WithLabelValues(kind, conv.Status).Inc()
	m.turnTime.WithLabelValues(kind).Observe(d.Seconds())
	if kind == "start" {
		m.conversations.WithLabelValues("started").Inc()
	}
	if conv.Status != flow.StatusActive {
		m.conversations.WithLabelValues(conv.Status).Inc()
	}
	for _, e := range t.Log {
		m.steps.WithLabelValues(e.StepType, e.Outcome).Inc()
		if e.APICall != nil {
			host := "invalid"
			if u, err := url.Parse(e.APICall.URL); err == nil && u.Host != "" {
				host = u.Hostname()
			}
			m.apiCalls.WithLabelValues(host, apiOutcome(e.APICall)).Observe(e.APICall.DurationMS / 1000)
		}
	}
}

func apiOutcome(c *flow.APICallLog) string {
	switch {
	case c.Branch == "success":
		return "success"
	case c.Status >= 500:
		return "failure_5xx"
	case c.Status >= 400:
		return "failure_4xx"
	case c.Error == "timeout":
		return "timeout"
	case c.Error == "blocked_address":
		return "blocked"
	}
	return "error"
}

// connectionCollector exports each connection's expiry date and refusal,
// read at scrape time, so an alert can fire before credentials break
// (flowbot_connection_expires_timestamp_seconds - time() < 7 * 86400) or
// as soon as an API refuses them (flowbot_connection_refused == 1).
type connectionCollector struct {
	list func(context.Context) ([]*connections.Connection, error)
}

var (
	connExpiresDesc = prometheus.NewDesc("flowbot_connection_expires_timestamp_seconds",
		"When a connection's credentials expire (Unix time); only connections with an expiry date.", []string{"connection"}, nil)
	connRefusedDesc = prometheus.NewDesc("flowbot_connection_refused",
		"1 while an API's latest verdict on a connection's credentials is a refusal (401 or 403, or the OAuth token endpoint's 400, 401 or 403), else 0.", []string{"connection"}, nil)
)

func (c connectionCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- connExpiresDesc
	ch <- connRefusedDesc
}

func (c connectionCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	list, err := c.list(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(connRefusedDesc, err)
		return
	}
	for _, conn := range list {
		if conn.ExpiresAt != nil {
			ch <- prometheus.MustNewConstMetric(connExpiresDesc, prometheus.GaugeValue, float64(conn.ExpiresAt.Unix()), conn.Name)
		}
		refused := 0.0
		if conn.Refusal != nil {
			refused = 1
		}
		ch <- prometheus.MustNewConstMetric(connRefusedDesc, prometheus.GaugeValue, refused, conn.Name)
	}
}
