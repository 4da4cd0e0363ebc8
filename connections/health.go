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

// refusalInterval bounds how often a connection's refusal is written: a
// refusal is not recorded within a minute of the connection's last write
// (of either kind), so a bot calling through dead credentials, or traffic
// mixing 2xx and 403 answers, costs at most two writes a minute, not one
// per call. Clearing is never held back, so a connection that works again
// shows so at its first 2xx.
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
// the credentials of conn (as Apply returned it, with the stored state):
// 401 or 403 marks them refused, a 2xx clears that. It writes only when
// the stored state would change (or, while refusals go on, to record the
// latest), a refusal at most once a minute per connection
// (refusalInterval), and never two writes for one connection at a time.
// The write is made on the caller's goroutine, so the one call that sees
// the change waits for it; call it once the answer has been read.
func (s *Service) NoteAnswer(ctx context.Context, conn *Connection, host string, status int) {
	switch {
	case status >= 200 && status <= 299:
		if conn.Refusal != nil {
			s.setRefusal(ctx, conn, nil)
		}
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		s.setRefusal(ctx, conn, &Refusal{
			At: s.now(), Status: status, Host: host,
			Message: host + " answered " + strconv.Itoa(status) + " " + http.StatusText(status) + " to a request carrying these credentials",
		})
	}
}

// noteTokenError records a token endpoint refusing an OAuth connection's
// client credentials (400, 401 or 403, such as invalid_client). Other
// token failures (no answer, a 5xx or 429, an unusable token) say nothing
// about the credentials and are not recorded.
func (s *Service) noteTokenError(ctx context.Context, conn *Connection, tokenURL string, err error) {
	var te *TokenError
	// RFC 6749 §5.2: a refused client is 400 or 401 (invalid_client,
	// unauthorized_client); some servers say 403. A 429 or 404 says
	// nothing about the credentials.
	if !errors.As(err, &te) || (te.Status != 400 && te.Status != 401 && te.Status != 403) {
		return
	}
	now := s.now()
	host := tokenURL
	if u, err := url.Parse(tokenURL); err == nil {
		host = u.Hostname()
	}
	s.setRefusal(ctx, conn, &Refusal{At: now, Status: te.Status, Host: host, Message: "cannot get an OAuth token: " + te.Reason})
}

// setRefusal stores r (nil: clears the refusal) for conn, unless a write
// for the same connection is under way, or r is a refusal and the last
// write was less than refusalInterval ago.
func (s *Service) setRefusal(ctx context.Context, conn *Connection, r *Refusal) {
	now := s.now()
	s.mu.Lock()
	// The limit is per version of the credentials: a report about
	// replaced ones (dropped by the store) does not hold up the new.
	last, seen := s.noted[conn.Name]
	if s.noting[conn.Name] || (r != nil && seen && last.version.Equal(conn.UpdatedAt) && now.Sub(last.at) < refusalInterval) {
		s.mu.Unlock()
		return
	}
	if s.noting == nil {
		s.noting, s.noted = map[string]bool{}, map[string]noted{}
	}
	s.noting[conn.Name] = true
	s.noted[conn.Name] = noted{at: now, version: conn.UpdatedAt}
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

// noted is when a connection's refusal was last written, and for which
// version of its credentials.
type noted struct{ at, version time.Time }
