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
	"strings"
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
// network error, a 5xx or a 429.
//
// With an Outbox, each notice is on disk before the turn's answer goes out
// and stays there until it is delivered or given up: a restart, or a help
// desk that is down for hours, loses none (Start resumes them). Without
// one, a notice lives in memory only and is lost when the server stops.
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
	// Log reads a conversation's execution log: a notice made again after
	// a crash takes the transfer step's reason, group, priority and tags
	// from it. nil: such a notice goes without them.
	Log func(ctx context.Context, id string) ([]flow.LogEntry, error)
	// Outbox keeps notices until they are delivered or given up; nil:
	// memory only.
	Outbox HandoffOutbox
	Logger *slog.Logger
	// Backoff is the wait before each retry; nil: DefaultHandoffBackoff.
	Backoff []time.Duration
	// MaxAge, when set, keeps a notice tried at Backoff's last interval,
	// once the list is used up, until MaxAge after it was made. 0: the
	// notice is given up when the list is.
	MaxAge time.Duration
	// SweepEvery is how often Start's sweeper looks in the outbox for
	// notices no goroutine is sending; 0: a minute.
	SweepEvery time.Duration
	// MaxInFlight bounds the notices being sent or waiting for their next
	// try; 0: maxHandoffsInFlight.
	MaxInFlight int

	wg       sync.WaitGroup
	mu       sync.Mutex
	active   map[string]struct{} // notices being sent or waiting for their next try
	once     sync.Once
	noFollow *http.Client
	stop     chan struct{}
	stopOnce sync.Once
	swept    chan struct{} // closed when the outbox sweeper ends
	// recovered is closed when Start's search for notices lost to a
	// crash ends. remakeMu makes that search, a replayed answer and a
	// transfer check and make a notice one at a time, so it is made once:
	// remade holds the conversations whose lost notice was made again in
	// this process; notified, while the search runs (searching), those
	// notified by a transfer of this process.
	recovered chan struct{}
	remakeMu  sync.Mutex
	remade    map[string]struct{}
	notified  map[string]struct{}
	searching bool

	delivered, givenUp, dropped atomic.Uint64
}

// HandoffStats are a Handoff's running totals, exported on /metrics.
type HandoffStats struct {
	// Delivered, GivenUp and Dropped count notices by how they ended:
	// the help desk took them; they were refused, or tried past MaxAge
	// or the backoff; or they were dropped past MaxInFlight
	// without an outbox to wait in.
	Delivered, GivenUp, Dropped uint64
	// InFlight is how many are being sent or waiting for their next try.
	InFlight int
}

// Stats returns the running totals.
func (h *Handoff) Stats() HandoffStats {
	h.mu.Lock()
	n := len(h.active)
	h.mu.Unlock()
	return HandoffStats{Delivered: h.delivered.Load(), GivenUp: h.givenUp.Load(), Dropped: h.dropped.Load(), InFlight: n}
}

// HandoffOutbox keeps hand-off notices on disk (store.DB is one).
type HandoffOutbox interface {
	// PutHandoff stores a notice about a conversation, on disk before it
	// returns; ENOTFOUND when the conversation was erased meanwhile.
	PutHandoff(ctx context.Context, id, conversationID string, made time.Time, body []byte) error
	// Handoffs calls fn with stored notices until it returns false; fn
	// must not write to the store.
	Handoffs(ctx context.Context, fn func(id, conversationID string, made time.Time, body []byte) bool) error
	// DeleteHandoff removes a delivered or given-up notice.
	DeleteHandoff(ctx context.Context, id string) error
	// HasHandoff reports whether a notice is still stored: one erased
	// with its conversation is not sent again.
	HasHandoff(ctx context.Context, id string) (bool, error)
	// HandoffMade reports whether a notice about a conversation was ever
	// stored (it may be delivered or given up since).
	HandoffMade(ctx context.Context, conversationID string) (bool, error)
	// TransferredBetween returns the transferred conversations last
	// updated at or after from and before to, oldest first.
	TransferredBetween(ctx context.Context, from, to time.Time) ([]*flow.Conversation, error)
	// HandoffsSince returns since when notices have been kept without a
	// break, recording now on the first call.
	HandoffsSince(ctx context.Context, now time.Time) (time.Time, error)
	// MarkHandoffDone records that a conversation had a notice that was
	// sent without being stored (HandoffMade then says so).
	MarkHandoffDone(ctx context.Context, id, conversationID string) error
}

// DefaultHandoffBackoff is the wait before each retry of a notice when
// Handoff.Backoff is nil.
var DefaultHandoffBackoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour}

// maxHandoffsInFlight is the default bound on the notices being sent or
// waiting to be tried again, so a help desk that is down does not pile up
// goroutines.
// Past it a notice waits in the outbox for a free place (the sweeper
// looks every SweepEvery); without an outbox it is dropped (logged; the
// conversation stays in the list as transferred).
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
	Group          string       `json:"group,omitempty"`
	Priority       string       `json:"priority,omitempty"`
	Tags           []string     `json:"tags,omitempty"`
	User           flow.User    `json:"user"`
	Transcript     []flow.Entry `json:"transcript"`
}

// Notify makes the notice of conv's hand-off, stores it in the outbox (so
// the turn's answer waits for that write) and sends it in the background;
// it is flow.Runtime.OnTransfer. For a replayed answer it makes the
// notice only when none was ever stored for conv (one lost to a crash
// between the turn and its write); without an outbox it cannot tell, and
// makes none.
func (h *Handoff) Notify(conv *flow.Conversation, t *flow.Turn) {
	if t.Replayed {
		// Only a transfer recent enough that its notice would still be
		// tried: a conversation transferred long ago, or before notices
		// were kept (delivered ones left no mark then), or before a help
		// desk was configured, gets none on a replay.
		if h.Outbox == nil || time.Since(conv.UpdatedAt) > h.remakeWindow() {
			return
		}
		h.remakeMu.Lock()
		defer h.remakeMu.Unlock()
		if _, ok := h.notified[conv.ID]; ok {
			return // a transfer of this process made it (a clock step put it in the search)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		made, err := h.Outbox.HandoffMade(ctx, conv.ID)
		cancel()
		if err != nil {
			h.logger().Error("hand-off notice: outbox not read; a notice lost to a crash is not made again", "conversation_id", conv.ID, "err", err.Error())
			return
		}
		if made {
			return
		}
		h.logger().Warn("hand-off notice made again: the conversation was transferred, but its notice was never stored", "conversation_id", conv.ID)
		if h.remade == nil {
			h.remade = map[string]struct{}{}
		}
		h.remade[conv.ID] = struct{}{}
	} else {
		h.remakeMu.Lock()
		_, done := h.remade[conv.ID]
		if !done && h.searching {
			h.notified[conv.ID] = struct{}{}
		}
		h.remakeMu.Unlock()
		if done {
			h.logger().Warn("hand-off notice not made: the start's search for lost notices made it already", "conversation_id", conv.ID)
			return
		}
	}
	// A UUIDv7, so the outbox (ordered by id) is walked oldest first.
	id, err := uuid.NewV7()
	if err != nil {
		id = uuid.New()
	}
	n := HandoffNotice{Event: "conversation.transferred", ID: id.String(), At: conv.UpdatedAt.UTC(),
		BotID: conv.BotID, Version: conv.Version, ConversationID: conv.ID, User: conv.User}
	for _, e := range t.Log {
		if e.StepType == flow.TypeTransfer {
			n.Reason, n.Group, n.Priority = e.Detail["reason"], e.Detail["group"], e.Detail["priority"]
			if t := e.Detail["tags"]; t != "" {
				n.Tags = strings.Split(t, ",")
			}
		}
	}
	log := h.logger().With("event_id", n.ID, "conversation_id", n.ConversationID)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := h.Transcript(ctx, n.ConversationID)
	if flow.ErrorCode(err) == flow.ENOTFOUND {
		log.Info("hand-off notice not sent: the conversation was erased")
		return
	} else if err != nil {
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
	made := time.Now()
	stored := false
	if h.Outbox != nil {
		if err := h.Outbox.PutHandoff(ctx, n.ID, n.ConversationID, made, body); flow.ErrorCode(err) == flow.ENOTFOUND {
			// Erased between its turn and here: the notice, with its
			// user and transcript, must not outlive it.
			log.Info("hand-off notice not sent: the conversation was erased")
			return
		} else if err != nil {
			log.Error("hand-off notice: not stored in the outbox; sending it from memory only", "err", err.Error())
		} else {
			stored = true
		}
	}
	h.launch(n.ID, n.ConversationID, made, body, stored)
}

// launch sends a notice in the background unless it is being sent
// already or too many are; stored tells whether it is in the outbox.
func (h *Handoff) launch(id, convID string, made time.Time, body []byte, stored bool) {
	log := h.logger().With("event_id", id, "conversation_id", convID)
	// notNow: the notice waits in the outbox for later, or, without one, is
	// dropped. Called with mu held.
	notNow := func(why string) {
		h.mu.Unlock()
		if stored {
			log.Warn("hand-off notice waits in the outbox: " + why)
		} else {
			h.dropped.Add(1)
			log.Error("hand-off notice dropped: " + why)
		}
	}
	h.init()
	h.mu.Lock()
	if _, ok := h.active[id]; ok {
		h.mu.Unlock()
		return
	}
	select {
	case <-h.stop:
		// Closed: Close may have waited for the others already.
		notNow("the server is stopping; it is sent after the restart")
		return
	default:
	}
	if len(h.active) >= h.maxInFlight() {
		notNow("too many in flight; is the help desk down?")
		return
	}
	if h.active == nil {
		h.active = map[string]struct{}{}
	}
	h.active[id] = struct{}{}
	h.wg.Add(1)
	h.mu.Unlock()
	go func() {
		defer h.wg.Done()
		defer func() {
			h.mu.Lock()
			delete(h.active, id)
			h.mu.Unlock()
		}()
		h.deliver(log, id, convID, made, body, stored)
	}()
}

// Start sends the notices left in the outbox (by a restart, or by too many
// in flight), makes those a crash lost between a transfer turn and its
// notice (recoverLost), and, until Close, looks in the outbox every
// minute.
func (h *Handoff) Start() {
	h.init()
	if h.Outbox == nil {
		return
	}
	h.resume()
	started := time.Now()
	h.remakeMu.Lock() // before any transfer of this process can be notified
	h.searching, h.notified = true, map[string]struct{}{}
	h.remakeMu.Unlock()
	h.recovered = make(chan struct{})
	go func() {
		defer close(h.recovered)
		h.recoverLost(started)
	}()
	h.swept = make(chan struct{})
	go func() {
		defer close(h.swept)
		every := h.SweepEvery
		if every <= 0 {
			every = time.Minute
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				h.resume()
			case <-h.stop:
				return
			}
		}
	}()
}

// remakeWindow is how old a transfer may be for a notice lost to a crash
// to be made again: MaxAge, or an hour.
func (h *Handoff) remakeWindow() time.Duration {
	if h.MaxAge > 0 {
		return h.MaxAge
	}
	return time.Hour
}

// recoverLost makes the notices a crash lost: of conversations
// transferred before this start (and within remakeWindow, and since
// notices are kept) with no notice ever stored. A crash between a
// transfer turn and its notice's write leaves one; a widget that sends
// its message again gets it made by the replayed answer, and this finds
// the rest. Notify checks each again under remakeMu.
func (h *Handoff) recoverLost(started time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	go func() { // Close stops the search, a checkpoint it waits for included
		select {
		case <-h.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	defer func() {
		h.remakeMu.Lock()
		h.searching, h.notified = false, nil
		h.remakeMu.Unlock()
	}()
	log := h.logger()
	since, err := h.Outbox.HandoffsSince(ctx, started)
	if err != nil {
		log.Error("hand-off notices lost to a crash: not looked for", "err", err.Error())
		return
	}
	from := started.Add(-h.remakeWindow())
	if since.After(from) {
		from = since
	}
	convs, err := h.Outbox.TransferredBetween(ctx, from, started)
	if err != nil {
		log.Error("hand-off notices lost to a crash: not looked for in full", "err", err.Error())
	}
	for _, conv := range convs {
		select {
		case <-h.stop:
			return
		default:
		}
		// Nearly all had their notice: skip those before reading a log.
		if made, err := h.Outbox.HandoffMade(ctx, conv.ID); err == nil && made {
			continue
		}
		t := &flow.Turn{Replayed: true}
		if h.Log != nil {
			entries, err := h.Log(ctx, conv.ID)
			if err != nil {
				log.Warn("hand-off notice: log not read; a notice made again goes without the transfer's details", "conversation_id", conv.ID, "err", err.Error())
			}
			for _, e := range entries {
				if e.Seq > conv.Last.Seq { // the transfer turn's
					t.Log = append(t.Log, e)
				}
			}
		}
		h.Notify(conv, t)
	}
}

// resume launches the outbox's notices that no goroutine is sending, as
// many as there is room for.
func (h *Handoff) resume() {
	type pending struct {
		id, conv string
		made     time.Time
		body     []byte
	}
	var due []pending
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := h.Outbox.Handoffs(ctx, func(id, conv string, made time.Time, body []byte) bool {
		h.mu.Lock()
		_, busy := h.active[id]
		room := h.maxInFlight() - len(h.active) - len(due)
		h.mu.Unlock()
		if room <= 0 {
			return false
		}
		if !busy {
			due = append(due, pending{id, conv, made, body})
		}
		return true
	})
	if err != nil {
		h.logger().Error("hand-off outbox: not read in full", "err", err.Error())
	}
	for _, p := range due {
		h.launch(p.id, p.conv, p.made, p.body, true)
	}
}

func (h *Handoff) maxInFlight() int {
	if h.MaxInFlight > 0 {
		return h.MaxInFlight
	}
	return maxHandoffsInFlight
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

// Close stops the sweeper and the waits between attempts (those notices
// stay in the outbox for the next start or, without one, are given up;
// both logged) and waits, until ctx is done, for attempts under way; the
// server calls it when it shuts down.
func (h *Handoff) Close(ctx context.Context) error {
	h.init()
	// Under mu, so no launch is between its check of stop and wg.Add.
	h.mu.Lock()
	h.stopOnce.Do(func() { close(h.stop) })
	h.mu.Unlock()
	done := make(chan struct{})
	go func() {
		// The sweeper and the search for lost notices first: they may be
		// launching notices.
		if h.swept != nil {
			<-h.swept
		}
		if h.recovered != nil {
			<-h.recovered
		}
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Wait returns once Start's search for notices lost to a crash has
// ended and every notice in flight was delivered or given up.
func (h *Handoff) Wait() {
	if h.recovered != nil {
		<-h.recovered
	}
	h.wg.Wait()
}

func (h *Handoff) deliver(log *slog.Logger, id, convID string, made time.Time, body []byte, stored bool) {
	// finish ends the notice's life: out of the outbox, logged. One sent
	// from memory because the outbox write failed leaves the mark that
	// its conversation had a notice, so a start does not make another.
	finish := func(level slog.Level, msg string, args ...any) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if stored {
			if err := h.Outbox.DeleteHandoff(ctx, id); err != nil {
				log.Error("hand-off notice: not removed from the outbox; it may be sent again", "err", err.Error())
			}
		} else if h.Outbox != nil {
			if err := h.Outbox.MarkHandoffDone(ctx, id, convID); err != nil {
				log.Error("hand-off notice: not marked as made; a start may make it again", "err", err.Error())
			}
		}
		cancel()
		log.Log(context.Background(), level, msg, args...)
	}
	if h.MaxAge > 0 && time.Since(made) > h.MaxAge {
		h.givenUp.Add(1)
		finish(slog.LevelError, "hand-off notice not delivered: older than the time it is tried for", "made", made, "max_age", h.MaxAge.String())
		return
	}
	backoff := h.Backoff
	if backoff == nil {
		backoff = DefaultHandoffBackoff
	}
	for attempt := 0; ; attempt++ {
		if stored {
			// Gone from the outbox: erased with its conversation, or
			// delivered by a goroutine a sweep started just before.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			still, err := h.Outbox.HasHandoff(ctx, id)
			cancel()
			if err == nil && !still {
				log.Info("hand-off notice not sent: it is no longer in the outbox (erased with its conversation, or delivered)", "attempts", attempt)
				return
			}
		}
		status, err := h.post(body)
		if err == nil && status >= 200 && status < 300 {
			h.delivered.Add(1)
			finish(slog.LevelInfo, "hand-off notice delivered", "status", status, "attempts", attempt+1)
			return
		}
		retry := err != nil || status >= 500 || status == http.StatusTooManyRequests
		var wait time.Duration
		switch {
		case !retry:
		case attempt < len(backoff):
			wait = backoff[attempt]
		case h.MaxAge > 0 && len(backoff) > 0 && time.Since(made)+backoff[len(backoff)-1] <= h.MaxAge:
			wait = backoff[len(backoff)-1]
		default:
			retry = false
		}
		if !retry {
			h.givenUp.Add(1)
			finish(slog.LevelError, "hand-off notice not delivered", "status", status, "attempts", attempt+1, "err", errText(err))
			return
		}
		log.Warn("hand-off notice: trying again", "status", status, "attempt", attempt+1, "err", errText(err), "wait", wait.String())
		h.init()
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-h.stop:
			t.Stop()
			if stored {
				log.Warn("hand-off notice kept in the outbox: the server stopped before the next try; it is sent after the restart", "attempts", attempt+1)
			} else {
				log.Error("hand-off notice not delivered: the server stopped before the next try", "attempts", attempt+1)
			}
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
