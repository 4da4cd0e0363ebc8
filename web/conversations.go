package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/flowbot/flowbot/flow"
	"github.com/labstack/echo/v4"
)

func (s *Server) registerConversations() {
	s.conversationPrincipal = s.conversationToken
	if s.Connections != nil && s.Connections.Keyring != nil {
		s.startKey = s.Connections.Keyring.Subkey("conversation start tokens")
	} else { // no secret key: keyed starts are idempotent within this process only
		s.startKey = make([]byte, 32)
		_, _ = rand.Read(s.startKey)
	}
	s.handle(http.MethodPost, "/v1/bots/:id/conversations", Public, s.startConversation)
	s.handle(http.MethodPost, "/v1/conversations/:id/messages", ConversationToken, s.sendMessage)
	s.handle(http.MethodGet, "/v1/conversations/:id", ConversationHolder, s.getConversation)
	s.handle(http.MethodGet, "/v1/conversations/:id/log", Designer, s.conversationLog)
	s.handle(http.MethodGet, "/v1/bots/:id/conversations", Designer, s.recentConversations)
	s.handle(http.MethodGet, "/v1/bots/:id/conversations/export", Designer, s.exportConversations)
	s.handle(http.MethodGet, "/v1/bots/:id/stats", Designer, s.botStats)
	s.handle(http.MethodDelete, "/v1/conversations/:id", Admin, s.deleteConversation)
}

// deleteConversation erases one conversation (state, transcript, log,
// token), for a person who asks to be forgotten. Admins only; audited.
func (s *Server) deleteConversation(c echo.Context) error {
	ctx := c.Request().Context()
	conv, err := s.Conversations.Conversation(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	if err := s.Conversations.DeleteConversation(ctx, conv.ID); err != nil {
		return err
	}
	s.audit(c, flow.AuditConversationDeleted, conv.ID, map[string]string{"bot_id": conv.BotID})
	return c.NoContent(http.StatusNoContent)
}

type startRequest struct {
	User      *startUser        `json:"user"`
	Variables map[string]string `json:"variables"`
	// UserToken verifies who the user is (identify).
	UserToken *string `json:"user_token"`
}

type startUser struct {
	ExternalID    string `json:"external_id"`
	Name          string `json:"name"`
	Email         string `json:"email"`
	Authenticated bool   `json:"authenticated"`
	Locale        string `json:"locale"`
}

type messageRequest struct {
	Text     string `json:"text"`
	OptionID string `json:"option_id"`
}

// turnResponse is what a widget gets after each turn (SPEC §5).
type turnResponse struct {
	ID       string         `json:"id,omitempty"`
	Token    string         `json:"token,omitempty"`
	Status   string         `json:"status"`
	Messages []flow.Message `json:"messages"`
	Awaiting flow.Awaiting  `json:"awaiting"`
}

func (s *Server) startConversation(c echo.Context) error {
	if err := s.ipLimits.allow(c.RealIP(), s.Now(), "from this address"); err != nil {
		return err
	}
	var req startRequest
	if c.Request().ContentLength != 0 {
		if err := decodeJSON(c, &req); err != nil && !isEmptyBody(err) {
			return err
		}
	}
	sr := flow.StartRequest{Variables: req.Variables}
	if req.User != nil {
		sr.User = flow.User(*req.User)
	}
	if err := s.identify(&req, &sr.User); err != nil {
		return err
	}
	key, err := idempotencyKey(c.Request().Header)
	if err != nil {
		return err
	}
	if key != "" && len(key) < minStartKey {
		return paramError("Idempotency-Key", "Idempotency-Key header of a start must have at least "+strconv.Itoa(minStartKey)+
			" characters (a random UUID): whoever sends the key again gets the conversation's token")
	}
	tok := NewToken(conversationPrefix)
	if key != "" {
		tok, sr.Key = s.startToken(c.Param("id"), key), key
	}
	sr.TokenHash = hashToken(tok)
	began := time.Now()
	conv, turn, err := s.Runtime.Start(turnContext(c), c.Param("id"), sr)
	if err != nil {
		return err
	}
	if turn.Replayed {
		c.Response().Header().Set("Idempotent-Replayed", "true")
	} else {
		s.metrics.observeTurn("start", conv, turn, time.Since(began))
	}
	c.Response().Header().Set(echo.HeaderLocation, "/v1/conversations/"+conv.ID)
	return c.JSON(http.StatusCreated, turnResponse{ID: conv.ID, Token: tok, Status: conv.Status, Messages: messages(turn), Awaiting: conv.Awaiting})
}

// minStartKey is the shortest Idempotency-Key a start takes: the key
// finds the conversation and its token again, so it must be as hard to
// guess as a random UUID (22 characters hold 128 bits in base64).
const minStartKey = 22

// startToken is the token of a conversation started on bot with an
// Idempotency-Key: derived from both with the server's secret, so a start
// sent again computes the same token, finds its conversation by the
// token's hash, and hands back the same token (which is stored only
// hashed). Without the secret the key tells nothing of the token.
func (s *Server) startToken(bot, key string) string {
	mac := hmac.New(sha256.New, s.startKey)
	mac.Write([]byte(bot))
	mac.Write([]byte{0})
	mac.Write([]byte(key))
	return conversationPrefix + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// turnContext is the context a turn runs in: the request's, without its
// cancellation. A widget that goes away mid-turn (a closed tab, a dropped
// connection) must not cut an API call that the API may already have acted
// on, nor leave the turn unstored: the turn runs to its end, bounded by its
// steps' timeouts and the turn's time limit (flow.Runtime.TurnTimeout). A
// widget that lost the answer sends the message again with the same
// Idempotency-Key and gets the stored answer (flow.Runtime.Send).
func turnContext(c echo.Context) context.Context {
	return context.WithoutCancel(c.Request().Context())
}

func isEmptyBody(err error) bool {
	return flow.ErrorCode(err) == flow.EINVALID && strings.Contains(flow.ErrorMessage(err), "body is empty")
}

func (s *Server) sendMessage(c echo.Context) error {
	id := c.Param("id")
	if err := s.convLimits.allow(id, s.Now(), "in this conversation"); err != nil {
		return err
	}
	var req messageRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Text) == "" && req.OptionID == "" {
		return ruleError("/text", "required", "send text or option_id")
	}
	key, err := idempotencyKey(c.Request().Header)
	if err != nil {
		return err
	}
	began := time.Now()
	conv, turn, err := s.Runtime.Send(turnContext(c), id, flow.Input{Text: req.Text, OptionID: req.OptionID, Key: key})
	if err != nil {
		return err
	}
	if turn.Replayed {
		c.Response().Header().Set("Idempotent-Replayed", "true")
	} else {
		s.metrics.observeTurn("message", conv, turn, time.Since(began))
	}
	return c.JSON(http.StatusOK, turnResponse{Status: conv.Status, Messages: messages(turn), Awaiting: conv.Awaiting})
}

// maxIdempotencyKey bounds an Idempotency-Key header: a UUID is 36
// characters; 255 leaves room for any client's scheme.
const maxIdempotencyKey = 255

// idempotencyKey reads a message's Idempotency-Key header: "" when absent,
// else 1 to 255 visible ASCII characters. A message sent again with the
// key of the conversation's latest turn gets that turn's answer instead of
// a second run (flow.Runtime.Send).
func idempotencyKey(h http.Header) (string, error) {
	vs := h.Values("Idempotency-Key")
	if len(vs) == 0 {
		return "", nil
	}
	bad := func(why string) error { return paramError("Idempotency-Key", "Idempotency-Key header "+why) }
	k := vs[0]
	switch {
	case len(vs) > 1:
		return "", bad("must be sent once")
	case k == "":
		return "", bad("must not be empty; leave the header out to send without one")
	case len(k) > maxIdempotencyKey:
		return "", bad("is " + strconv.Itoa(len(k)) + " characters; the limit is " + strconv.Itoa(maxIdempotencyKey))
	}
	for i := range len(k) {
		if k[i] < 0x21 || k[i] > 0x7e {
			return "", bad("may hold only visible ASCII characters (a UUID is a good key)")
		}
	}
	return k, nil
}

func messages(t *flow.Turn) []flow.Message {
	if t.Messages == nil {
		return []flow.Message{}
	}
	return t.Messages
}

// conversationView is a conversation as its token holder sees it; designers
// also see the variables and the user.
type conversationView struct {
	ID         string            `json:"id"`
	BotID      string            `json:"bot_id"`
	Version    int               `json:"version"`
	Status     string            `json:"status"`
	Awaiting   flow.Awaiting     `json:"awaiting"`
	Transcript []flow.Entry      `json:"transcript"`
	Variables  map[string]string `json:"variables,omitempty"`
	User       *flow.User        `json:"user,omitempty"`
	CreatedAt  string            `json:"created_at"`
	UpdatedAt  string            `json:"updated_at"`
}

func (s *Server) getConversation(c echo.Context) error {
	ctx := c.Request().Context()
	conv, err := s.Conversations.Conversation(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	tr, err := s.Conversations.Transcript(ctx, conv.ID)
	if err != nil {
		return err
	}
	if p := principalOf(c); p != nil && p.Kind != "conversation" {
		return c.JSON(http.StatusOK, designerView(conv, tr))
	}
	return c.JSON(http.StatusOK, holderView(conv, tr))
}

// holderView is a conversation as its token holder sees it: no
// variables, no user fields.
func holderView(conv *flow.Conversation, tr []flow.Entry) conversationView {
	if tr == nil {
		tr = []flow.Entry{}
	}
	return conversationView{ID: conv.ID, BotID: conv.BotID, Version: conv.Version, Status: conv.Status, Awaiting: conv.Awaiting,
		Transcript: tr, CreatedAt: conv.CreatedAt.UTC().Format(timeFormat), UpdatedAt: conv.UpdatedAt.UTC().Format(timeFormat)}
}

// designerView is a conversation as designers see it: with its
// variables and user.
func designerView(conv *flow.Conversation, tr []flow.Entry) conversationView {
	v := holderView(conv, tr)
	v.Variables, v.User = conv.Vars, &conv.User
	if v.Variables == nil {
		v.Variables = map[string]string{}
	}
	return v
}

// conversationSummary is one line of a bot's conversation list.
type conversationSummary struct {
	ID        string    `json:"id"`
	Version   int       `json:"version"`
	Status    string    `json:"status"`
	Turns     int       `json:"turns"`
	User      flow.User `json:"user"`
	CreatedAt string    `json:"created_at"`
	UpdatedAt string    `json:"updated_at"`
}

// recentConversations lists a bot's conversations, most recently updated
// first, a page at a time (?limit=1..100, default 20; ?cursor= from the
// previous page's next_cursor), for designers to see how the bot is used.
func (s *Server) recentConversations(c echo.Context) error {
	ctx := c.Request().Context()
	limit, err := intParam(c, "limit", 20, 1, 100)
	if err != nil {
		return err
	}
	// The bot must exist; PublishedVersion checks that without decoding
	// its flow (which may hold thousands of steps).
	if _, err := s.Bots.PublishedVersion(ctx, c.Param("id")); err != nil {
		return err
	}
	status, err := statusParam(c)
	if err != nil {
		return err
	}
	convs, next, err := s.Conversations.RecentConversations(ctx, c.Param("id"), flow.ConversationFilter{Status: status}, c.QueryParam("cursor"), limit)
	if err != nil {
		return err
	}
	items := make([]conversationSummary, 0, len(convs))
	for _, cv := range convs {
		items = append(items, conversationSummary{ID: cv.ID, Version: cv.Version, Status: cv.Status, Turns: cv.Turns, User: cv.User,
			CreatedAt: cv.CreatedAt.UTC().Format(timeFormat), UpdatedAt: cv.UpdatedAt.UTC().Format(timeFormat)})
	}
	out := map[string]any{"items": items}
	if next != "" {
		out["next_cursor"] = next
	}
	return c.JSON(http.StatusOK, out)
}

// statusParam reads the ?status= filter of a conversation list: "" for
// all.
func statusParam(c echo.Context) (string, error) {
	status := c.QueryParam("status")
	switch status {
	case "", flow.StatusActive, flow.StatusEnded, flow.StatusTransferred, flow.StatusError:
		return status, nil
	}
	return "", paramError("status", fmt.Sprintf("status must be active, ended, transferred or error, got %q", status))
}

// Bounds of one conversation export.
const (
	defaultExportConversations = 10_000
	maxExportConversations     = 100_000
)

// exportConversations streams a bot's conversations, most recently
// updated first, as JSON lines: each one as GET /v1/conversations/{id}
// shows it to a designer (transcript, variables, user). ?status= as the
// list; ?since= (RFC 3339) stops at conversations last updated before it;
// ?limit=1..100000 (default 10000). Each export is audited: it carries
// personal data. A failure once lines were sent ends the stream with one
// line {"error": {...}}.
func (s *Server) exportConversations(c echo.Context) error {
	ctx := c.Request().Context()
	bot := c.Param("id")
	if _, err := s.Bots.PublishedVersion(ctx, bot); err != nil {
		return err
	}
	status, err := statusParam(c)
	if err != nil {
		return err
	}
	limit, err := intParam(c, "limit", defaultExportConversations, 1, maxExportConversations)
	if err != nil {
		return err
	}
	var since time.Time
	if v := c.QueryParam("since"); v != "" {
		if since, err = time.Parse(time.RFC3339, v); err != nil {
			return paramError("since", fmt.Sprintf("since must be an RFC 3339 time such as 2026-11-01T00:00:00Z, got %q", v))
		}
	}
	// Like a backup, a large export over a slow link outlasts the
	// server's write timeout for API answers.
	_ = http.NewResponseController(c.Response()).SetWriteDeadline(time.Now().Add(backupWriteTimeout))
	w := c.Response()
	w.Header().Set(echo.HeaderContentType, "application/x-ndjson")
	w.Header().Set(echo.HeaderContentDisposition, `attachment; filename="flowbot-conversations-`+s.Now().UTC().Format("20060102T150405Z")+`.jsonl"`)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	n := 0
	seen := map[string]bool{}
	// walk exports, newest first, the conversations not exported yet,
	// down to the first one last updated before stop. It reports how
	// many it exported.
	walk := func(stop time.Time) (int, error) {
		got, cursor := 0, ""
		for n < limit {
			convs, next, err := s.Conversations.RecentConversations(ctx, bot, flow.ConversationFilter{Status: status}, cursor, min(100, limit-n))
			if err != nil {
				return got, err
			}
			for _, cv := range convs {
				if cv.UpdatedAt.Before(stop) {
					return got, nil
				}
				if seen[cv.ID] || n == limit {
					continue
				}
				tr, err := s.Conversations.Transcript(ctx, cv.ID)
				if flow.ErrorCode(err) == flow.ENOTFOUND {
					continue // erased meanwhile
				} else if err != nil {
					return got, err
				}
				if err := enc.Encode(designerView(cv, tr)); err != nil {
					return got, err
				}
				seen[cv.ID] = true
				n, got = n+1, got+1
			}
			w.Flush()
			if next == "" {
				return got, nil
			}
			cursor = next
		}
		return got, nil
	}
	// The list is ordered by the last update, and read a page at a time:
	// a conversation updated while the export runs moves to the top, above
	// the pages already read. Each walk after the first looks again at
	// those updated since the previous walk began (a second of slack for
	// clocks), so none is missed; one exported already is not repeated.
	// Each line is a conversation as it was when read.
	began := time.Now()
	_, err = walk(since)
	for pass := 0; err == nil && pass < 3 && n < limit; pass++ {
		again := time.Now()
		var got int
		stop := began.Add(-time.Second)
		if stop.Before(since) {
			stop = since
		}
		if got, err = walk(stop); got == 0 {
			break
		}
		began = again
	}
	complete := err == nil
	if err != nil && ctx.Err() == nil {
		s.log.Error("conversation export cut short", "bot_id", bot, "err", err.Error(), "request_id", requestID(c))
		_ = enc.Encode(map[string]any{"error": map[string]string{"code": "internal", "message": "the export stopped early; the lines before this one are whole"}})
	}
	s.audit(c, flow.AuditConversationsExported, bot, map[string]string{"conversations": strconv.Itoa(n), "status": status,
		"since": c.QueryParam("since"), "complete": strconv.FormatBool(complete)})
	return nil
}

// botStatsView is GET /v1/bots/{id}/stats.
type botStatsView struct {
	Version       int              `json:"version"`
	Conversations int              `json:"conversations"`
	Since         string           `json:"since,omitempty"`
	More          bool             `json:"more"`
	ByStatus      map[string]int   `json:"by_status"`
	Steps         []flow.StepStats `json:"steps"`
}

// Bounds of one stats request: conversations counted, and log entries
// read (a conversation's log has no fixed size).
const (
	maxStatsConversations = 1000
	maxStatsEntries       = 100_000
)

// botStats sums up the most recently updated conversations of one
// published version of the bot (?version=, default the latest;
// ?conversations=1..1000, default 200), step by step (flow.BotStats).
func (s *Server) botStats(c echo.Context) error {
	ctx := c.Request().Context()
	id := c.Param("id")
	n, err := intParam(c, "conversations", 200, 1, maxStatsConversations)
	if err != nil {
		return err
	}
	published, err := s.Bots.PublishedVersion(ctx, id)
	if err != nil {
		return err
	}
	if published == 0 && c.QueryParam("version") != "" {
		return paramError("version", "the bot has no published version yet")
	}
	version, err := intParam(c, "version", published, 1, published)
	if err != nil {
		return err
	}
	st := flow.NewBotStats()
	out := botStatsView{Version: version}
	entries, cursor := 0, ""
	// Each call looks at a bounded number of conversations of all bots;
	// ten calls look far enough back for any bot with some traffic.
	for calls := 0; version > 0 && st.Conversations < n && entries < maxStatsEntries; calls++ {
		convs, next, err := s.Conversations.RecentConversations(ctx, id, flow.ConversationFilter{Version: version}, cursor, n-st.Conversations)
		if err != nil {
			return err
		}
		out.More = next != ""
		for _, cv := range convs {
			if err := ctx.Err(); err != nil {
				return err
			}
			if entries >= maxStatsEntries {
				out.More = true
				break
			}
			log, err := s.Conversations.Log(ctx, cv.ID)
			if flow.ErrorCode(err) == flow.ENOTFOUND {
				continue // erased meanwhile
			} else if err != nil {
				return err
			}
			entries += len(log)
			st.Add(cv, log)
		}
		if cursor = next; next == "" || calls == 9 {
			break
		}
	}
	out.Conversations, out.ByStatus, out.Steps = st.Conversations, st.ByStatus, st.Steps()
	if !st.Oldest.IsZero() {
		out.Since = st.Oldest.UTC().Format(timeFormat)
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) conversationLog(c echo.Context) error {
	ctx := c.Request().Context()
	conv, err := s.Conversations.Conversation(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	log, err := s.Conversations.Log(ctx, conv.ID)
	if err != nil {
		return err
	}
	if log == nil {
		log = []flow.LogEntry{}
	}
	return c.JSON(http.StatusOK, map[string]any{"id": conv.ID, "bot_id": conv.BotID, "version": conv.Version, "status": conv.Status, "items": log})
}

// conversationToken resolves a conversation token to its conversation.
func (s *Server) conversationToken(c echo.Context, _ string, h []byte) (*Principal, error) {
	id, err := s.Conversations.ConversationIDByTokenHash(c.Request().Context(), h)
	if flow.ErrorCode(err) == flow.ENOTFOUND {
		return nil, flow.Errorf(flow.EUNAUTHORIZED, "unknown conversation token")
	} else if err != nil {
		return nil, err
	}
	return &Principal{Kind: "conversation", ID: id, Name: "conversation " + id}, nil
}
