// Package web is flowbot's HTTP layer: the echo router, authentication and
// roles, request decoding, the one error mapping, and the embedded UI.
package web

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/flowbot/flowbot/botstep"
	"github.com/flowbot/flowbot/connections"
	"github.com/flowbot/flowbot/flow"
	"github.com/go-playground/validator/v10"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// DefaultBodyLimit caps request bodies. A flow of flow.MaxStepsPerFlow
// typical steps is about 4 MiB (TestBots_LargestFlowFits).
const DefaultBodyLimit = 8 << 20

// WidgetBodyLimit caps the bodies of the routes called without an API key
// (starting a conversation, sending a message): a widget sends a few
// kilobytes, and anyone may send them. Under the flow documents' limit,
// one anonymous 8 MiB body cost 338 MiB of allocation to decode.
const WidgetBodyLimit = 64 << 10

// Deps are what the server needs; cmd/flowbot wires them.
type Deps struct {
	Bots          flow.BotStore
	Conversations flow.ConversationStore
	Runtime       *flow.Runtime
	// Executor runs api_call steps for the test call (the runtime's own).
	Executor *botstep.Executor
	// IPRateLimit limits conversation starts per client address;
	// ConversationRateLimit limits messages per conversation.
	IPRateLimit           RateLimit
	ConversationRateLimit RateLimit
	// TrustedProxies are the reverse proxies in front of flowbot whose
	// X-Forwarded-For is believed, for the client address of the rate
	// limit, the request log and API keys' allowed_ips. Empty: the TCP
	// peer is the client, and X-Forwarded-For, which any client can send,
	// is ignored.
	TrustedProxies []netip.Prefix
	Keys           flow.APIKeyStore
	Audit          flow.AuditStore
	Connections    *connections.Service
	// AdminToken is the bootstrap admin token (FLOWBOT_ADMIN_TOKEN); empty
	// disables it.
	AdminToken string
	// UserTokenSecret (FLOWBOT_USER_TOKEN_SECRET), when set, verifies the
	// user_token a conversation may start with (HS256), and is then the
	// only way to give user.external_id and user.email.
	UserTokenSecret []byte
	OpenAPI         []byte
	Logger          *slog.Logger
	Now             func() time.Time
	// Ready reports whether the service can serve (the store answers).
	Ready func(ctx context.Context) error
	// Handoff, when set, is the hand-off notifier; its totals go on
	// /metrics.
	Handoff *Handoff
	// StoreStats, when set, gives the store's running totals for /metrics.
	StoreStats func() StoreStats
	// Backup, when set, makes a consistent copy of the database (a bbolt
	// file) and returns it with its size; GET /v1/backup serves it.
	Backup    func(ctx context.Context) (io.ReadCloser, int64, error)
	BodyLimit int64
}

// Server serves flowbot's HTTP API.
type Server struct {
	Deps
	e          *echo.Echo
	log        *slog.Logger
	validator  *validator.Validate
	routes     []Route
	adminHash  []byte
	metrics    *metrics
	ipLimits   *limiters
	convLimits *limiters
	// conversationPrincipal resolves a conversation token (set by the
	// conversation routes).
	conversationPrincipal func(c echo.Context, tok string, hash []byte) (*Principal, error)
	// startKey derives the token of a start sent with an Idempotency-Key.
	startKey []byte
}

// Route describes one registered route and who may call it.
type Route struct {
	Method string
	Path   string
	Access Access
}

// Access is who may call a route.
type Access int

// Access levels, from least to most privileged.
const (
	Public Access = iota
	// ConversationToken: only the conversation's own token.
	ConversationToken
	// ConversationHolder: the conversation's own token, or a designer.
	ConversationHolder
	Designer
	Admin
)

// New builds the server and registers every route.
func New(d Deps) *Server {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.BodyLimit == 0 {
		d.BodyLimit = DefaultBodyLimit
	}
	s := &Server{Deps: d, e: echo.New(), log: d.Logger, validator: newValidator(), metrics: newMetrics(d.StoreStats)}
	s.ipLimits, s.convLimits = newLimiters(d.IPRateLimit, addressBucket), newLimiters(d.ConversationRateLimit, nil)
	if d.AdminToken != "" {
		s.adminHash = hashToken(d.AdminToken)
	}
	e := s.e
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = clientIP(d.TrustedProxies)
	e.Use(middleware.RequestIDWithConfig(middleware.RequestIDConfig{Generator: newRequestID}))
	e.Use(s.logRequests)
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisableStackAll: true, LogErrorFunc: s.logPanic}))
	e.Use(widgetCORS)
	e.Use(limitBody(d.BodyLimit))

	s.registerOps()
	s.registerMetrics()
	s.registerMe()
	s.registerBots()
	s.registerAPIKeys()
	s.registerAudit()
	if d.Connections != nil {
		s.registerConnections()
	}
	if d.Executor != nil {
		s.registerTestCall()
	}
	if d.Runtime != nil {
		s.registerConversations()
	}
	if d.Backup != nil {
		s.registerBackup()
	}
	s.registerUI()
	return s
}

// ServeHTTP makes the server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.e.ServeHTTP(w, r) }

// Routes lists every registered route with its access level.
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

// handle registers a route behind the authentication its access needs.
// A route that needs no API key takes at most WidgetBodyLimit.
func (s *Server) handle(method, path string, access Access, h echo.HandlerFunc) {
	s.routes = append(s.routes, Route{Method: method, Path: path, Access: access})
	if access < Designer {
		s.e.Add(method, path, h, limitBody(min(s.BodyLimit, WidgetBodyLimit)), s.authenticate(access))
		return
	}
	s.e.Add(method, path, h, s.authenticate(access))
}

func (s *Server) logPanic(c echo.Context, err error, stack []byte) error {
	s.log.ErrorContext(c.Request().Context(), "panic", "err", err.Error(), "request_id", requestID(c), "stack", string(stack))
	return err
}

// clientIP finds the client's address: the TCP peer, or, when the peer is
// one of the trusted proxies, the nearest address in X-Forwarded-For that
// is not one of them.
func clientIP(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		p = p.Masked()
		opts = append(opts, echo.TrustIPRange(&net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// limitBody caps request bodies at limit bytes: a declared length over it
// is refused at once (413), and reading past it fails, which decodeJSON
// answers with 413 too.
func limitBody(limit int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if r.ContentLength > limit {
				return flow.Errorf(flow.ETOOLARGE, "request body is %d bytes; the limit is %d", r.ContentLength, limit)
			}
			r.Body = http.MaxBytesReader(c.Response(), r.Body, limit)
			return next(c)
		}
	}
}

func (s *Server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		status := c.Response().Status
		s.metrics.observeRequest(c.Path(), c.Request().Method, status, time.Since(start))
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		if !s.log.Enabled(c.Request().Context(), level) {
			return nil
		}
		s.log.LogAttrs(c.Request().Context(), level, "request",
			slog.String("request_id", requestID(c)),
			slog.String("method", c.Request().Method),
			slog.String("route", c.Path()),
			slog.Int("status", status),
			slog.Int64("bytes", c.Response().Size),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("remote", c.RealIP()),
		)
		return nil
	}
}

func requestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}
