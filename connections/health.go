package connections

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/flowbot/flowbot/flow"
)

// refusalInterval bounds how often a connection's refusal is stored: a bot
// calling through dead credentials costs one write a minute, not one per
// call.
const refusalInterval = time.Minute

// refusalWriteTimeout bounds one refusal write, whoever waits for it.
const refusalWriteTimeout = 5 * time.Second

// Health returns c's status and its message at the service's clock (see
// Connection.Status).
func (s *Service) Health(c *Connection) (status, message string) {
	now := s.now()
	return c.Status(now), c.StatusMessage(now)
}

// NoteAnswer records how an API at host answered a request that carried
// the credentials of conn (as Apply returned it): 401 or 403 marks them
// refused, a 2xx clears that. It writes only when the stored state
// changes, or at most once a minute while the refusals go on, and never
// two writes for one connection at a time; the write is made on the
// caller's goroutine, so it is the one turn that sees the change that
// waits for it.
func (s *Service) NoteAnswer(ctx context.Context, conn *Connection, host string, status int) {
	switch {
	case status >= 200 && status <= 299:
		if conn.Refusal != nil {
			s.setRefusal(ctx, conn, nil)
		}
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		now := s.now()
		if conn.Refusal == nil || now.Sub(conn.Refusal.At) >= refusalInterval {
			s.setRefusal(ctx, conn, &Refusal{
				At: now, Status: status, Host: host,
				Message: host + " answered " + strconv.Itoa(status) + " " + http.StatusText(status) + " to a request carrying these credentials",
			})
		}
	}
}

// noteTokenError records a token endpoint refusing an OAuth connection's
// client credentials (a 4xx answer, such as invalid_client). Other token
// failures (no answer, a 5xx, an unusable token) say nothing about the
// credentials and are not recorded.
func (s *Service) noteTokenError(ctx context.Context, conn *Connection, tokenURL string, err error) {
	var te *TokenError
	if !errors.As(err, &te) || te.Status < 400 || te.Status > 499 {
		return
	}
	now := s.now()
	if conn.Refusal != nil && now.Sub(conn.Refusal.At) < refusalInterval {
		return
	}
	host := tokenURL
	if u, err := url.Parse(tokenURL); err == nil {
		host = u.Hostname()
	}
	s.setRefusal(ctx, conn, &Refusal{At: now, Status: te.Status, Host: host, Message: "cannot get an OAuth token: " + te.Reason})
}

// setRefusal stores r (nil: clears the refusal) for conn, unless a write
// for the same connection is under way.
func (s *Service) setRefusal(ctx context.Context, conn *Connection, r *Refusal) {
	s.mu.Lock()
	if s.noting[conn.Name] {
		s.mu.Unlock()
		return
	}
	if s.noting == nil {
		s.noting = map[string]bool{}
	}
	s.noting[conn.Name] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.noting, conn.Name)
		s.mu.Unlock()
	}()
	// A turn whose caller went away still records what it saw.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refusalWriteTimeout)
	defer cancel()
	err := s.Store.SetConnectionRefusal(wctx, conn.Name, conn.UpdatedAt, r)
	if err != nil && flow.ErrorCode(err) != flow.ENOTFOUND {
		s.logger().Warn("could not record a connection's refusal", "connection", conn.Name, "err", err.Error())
	}
}

func (s *Service) logger() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}
