package web

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowbot/flowbot/botstep"
	"github.com/flowbot/flowbot/flow"
	"github.com/google/uuid"
)

// MinHandoffSecretLen is the shortest hand-off signing secret accepted.
const MinHandoffSecretLen = 32

// handoffTranscript is how many of the conversation's latest transcript
// lines a hand-off notice carries: the context an agent reads first.
const handoffTranscript = 50

// Handoff tells a help desk that a conversation was handed to a human: a
// transfer step ran. It POSTs a JSON notice, signed with HMAC-SHA256 over
// "<unix time>.<body>" in the Flowbot-Signature header (t=…,v1=<hex>), to
// URL through the guarded outbound client (no internal addresses), never
// following a redirect, and tries again, with the same notice id, after a
// network error, a 5xx or a 429. Notices go out after
// the turn is stored and do not delay the user's answer; one still being
// tried when the server stops is lost (the conversation stays in the list
// with status transferred).
type Handoff struct {
	// URL is the help desk's webhook (https).
	URL string
	// Secret signs each notice (FLOWBOT_HANDOFF_SECRET).
	Secret []byte
	// Client sends the notices: the guarded outbound client, so the URL
	// cannot reach an internal address.
	Client *http.Client
	// Transcript reads a conversation's transcript.
	Transcript func(ctx context.Context, id string) ([]flow.Entry, error)
	Logger     *slog.Logger
	// Backoff is the wait before each retry; nil: 1 s, 5 s, 30 s, 2 min.
	Backoff []time.Duration

	wg       sync.WaitGroup
	inFlight atomic.Int32
	once     sync.Once
	noFollow *http.Client
	stop     chan struct{}
	stopOnce sync.Once
}

// maxHandoffsInFlight bounds the notices being sent or waiting to be
// tried again: a help desk that is down must not let conversations that
// start with a transfer pile up goroutines. Past it a notice is dropped
// (logged; the conversation stays in the list as transferred).
const maxHandoffsInFlight = 1000

// HandoffNotice is the JSON body of a hand-off notice.
type HandoffNotice struct {
	Event          string       `json:"event"`
	ID             string       `json:"id"`
	At             time.Time    `json:"at"`
	BotID          string       `json:"bot_id"`
	Version        int          `json:"version"`
	ConversationID string       `json:"conversation_id"`
	Reason         string       `json:"reason,omitempty"`
	User           flow.User    `json:"user"`
	Transcript     []flow.Entry `json:"transcript"`
}

// Notify sends the notice of conv's hand-off in the background; it is
// flow.Runtime.OnTransfer.
func (h *Handoff) Notify(conv *flow.Conversation, t *flow.Turn) {
	n := HandoffNotice{Event: "conversation.transferred", ID: uuid.NewString(), At: conv.UpdatedAt.UTC(),
		BotID: conv.BotID, Version: conv.Version, ConversationID: conv.ID, User: conv.User}
	for _, e := range t.Log {
		if e.StepType == flow.TypeTransfer {
			n.Reason = e.Detail["reason"]
		}
	}
	if h.inFlight.Add(1) > maxHandoffsInFlight {
		h.inFlight.Add(-1)
		h.logger().Error("hand-off notice dropped: too many in flight; is the help desk down?", "event_id", n.ID, "conversation_id", n.ConversationID)
		return
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer h.inFlight.Add(-1)
		h.deliver(n)
	}()
}

func (h *Handoff) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

// client is Client without following redirects: a 301, 302 or 303 would
// be followed with a GET and no body, losing the notice while answering
// 2xx. A redirect is an answer that is not tried again.
func (h *Handoff) client() *http.Client {
	h.init()
	return h.noFollow
}

func (h *Handoff) init() {
	h.once.Do(func() {
		c := *h.Client
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		h.noFollow = &c
		h.stop = make(chan struct{})
	})
}

// Close stops the waits between attempts (those notices are given up,
// and logged) and waits, until ctx is done, for attempts under way; the
// server calls it when it shuts down.
func (h *Handoff) Close(ctx context.Context) error {
	h.init()
	h.stopOnce.Do(func() { close(h.stop) })
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Wait returns once every notice in flight was delivered or given up.
func (h *Handoff) Wait() { h.wg.Wait() }

func (h *Handoff) deliver(n HandoffNotice) {
	log := h.logger().With("event_id", n.ID, "conversation_id", n.ConversationID)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	tr, err := h.Transcript(ctx, n.ConversationID)
	cancel()
	if err != nil {
		log.Warn("hand-off notice: transcript not read; sent without it", "err", err.Error())
	}
	if len(tr) > handoffTranscript {
		tr = tr[len(tr)-handoffTranscript:]
	}
	n.Transcript = append([]flow.Entry{}, tr...)
	body, err := json.Marshal(n)
	if err != nil {
		log.Error("hand-off notice: not encoded", "err", err.Error())
		return
	}
	backoff := h.Backoff
	if backoff == nil {
		backoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute}
	}
	for attempt := 0; ; attempt++ {
		status, err := h.post(body)
		if err == nil && status >= 200 && status < 300 {
			log.Info("hand-off notice delivered", "status", status, "attempts", attempt+1)
			return
		}
		retry := err != nil || status >= 500 || status == http.StatusTooManyRequests
		if !retry || attempt >= len(backoff) {
			log.Error("hand-off notice not delivered", "status", status, "attempts", attempt+1, "err", errText(err))
			return
		}
		log.Warn("hand-off notice: trying again", "status", status, "attempt", attempt+1, "err", errText(err))
		h.init()
		t := time.NewTimer(backoff[attempt])
		select {
		case <-t.C:
		case <-h.stop:
			t.Stop()
			log.Error("hand-off notice not delivered: the server stopped before the next try", "attempts", attempt+1)
			return
		}
	}
}

// post sends one attempt and returns the answer's status.
func (h *Handoff) post(body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "flowbot/"+botstep.Version)
	req.Header.Set("Flowbot-Signature", SignHandoff(h.Secret, time.Now(), body))
	resp, err := h.client().Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// SignHandoff is a notice's Flowbot-Signature: t=<unix time>,v1=<hex of
// HMAC-SHA256(secret, "<unix time>.<body>")>. A receiver recomputes it,
// compares in constant time and refuses old times, so a captured notice
// cannot be sent again later.
func SignHandoff(secret []byte, at time.Time, body []byte) string {
	ts := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// errText is err's text without the request URL, which may hold a token
// of the help desk's ("" for nil).
func errText(err error) string {
	if err == nil {
		return ""
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}
