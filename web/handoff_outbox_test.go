package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowbot/flowbot/flow"
	"github.com/flowbot/flowbot/store"
	"github.com/flowbot/flowbot/web"
)

// transferBot hands every conversation over at once.
const transferBot = `{"start":"t","steps":[{"id":"t","type":"transfer","text":"A person will help.","reason":"asked"}]}`

// waitingConversation starts a conversation that waits for input (so no
// notice is made) and returns its id: one a test's own notice can be about.
func waitingConversation(e *env) string {
	e.t.Helper()
	bot := e.publishBot(`{"start":"a","steps":[{"id":"a","type":"ask","text":"Yes?","variable":"x","next":"b"},{"id":"b","type":"end","text":"Bye"}]}`)
	return e.start(bot, nil).ID
}

// waitFor polls cond every 10 ms until it holds, failing the test with
// what (and cleanup, when set, run first) after 10 s.
func waitFor(t *testing.T, what string, cond func() bool, cleanup ...func()) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			for _, f := range cleanup {
				f()
			}
			t.Fatal("timed out waiting: " + what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// countingDesk is a help desk's webhook that answers every notice with
// status and counts them.
func countingDesk(t *testing.T, status int) (*httptest.Server, *atomic.Int32) {
	posts := new(atomic.Int32)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv, posts
}

// outboxIDs lists the notice ids in db's hand-off outbox.
func outboxIDs(t *testing.T, db *store.DB) []string {
	t.Helper()
	var ids []string
	if err := db.Handoffs(context.Background(), func(id, _ string, _ time.Time, _ []byte) bool {
		ids = append(ids, id)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestHandoff_OutboxSurvivesRestart: a notice the help desk could not
// take is still in the outbox when the server stops, and the next start
// sends it, with the same id.
func TestHandoff_OutboxSurvivesRestart(t *testing.T) {
	dk := newDesk(t, http.StatusServiceUnavailable)
	var logs syncBuffer
	var h *web.Handoff
	e := newEnv(t, func(d *web.Deps, e *env) {
		h = &web.Handoff{URL: dk.srv.URL + "/hook", Secret: []byte(handoffSecret), Client: e.client, Transcript: e.db.Transcript,
			Outbox: e.db, Backoff: []time.Duration{time.Hour}, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
		d.Runtime.OnTransfer = h.Notify
	})
	e.trust(dk.srv)
	h.Start()
	bot := e.publishBot(transferBot)
	c := e.start(bot, map[string]any{"user": map[string]any{"name": "Ann"}})
	// The 503 came, and the next try is an hour away.
	waitFor(t, "a first attempt", func() bool { return strings.Contains(string(logs.Bytes()), "trying again") })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}
	ids := outboxIDs(t, e.db)
	if len(ids) != 1 || !strings.Contains(string(logs.Bytes()), "kept in the outbox") {
		t.Fatalf("outbox after the stop: %v; logs %s", ids, logs.Bytes())
	}

	// The next start (a new Handoff on the same database) delivers it.
	h2 := &web.Handoff{URL: dk.srv.URL + "/hook", Secret: []byte(handoffSecret), Client: e.client, Transcript: e.db.Transcript,
		Outbox: e.db, Backoff: []time.Duration{time.Hour}}
	h2.Start()
	t.Cleanup(func() { h2.Close(context.Background()) })
	n := dk.next(t)
	if n.ID != ids[0] || n.ConversationID != c.ID || n.User.Name != "Ann" || n.Reason != "asked" || len(n.Transcript) == 0 {
		t.Fatalf("notice after the restart: %+v; want id %s", n, ids[0])
	}
	h2.Wait()
	if ids := outboxIDs(t, e.db); len(ids) != 0 {
		t.Fatalf("outbox after delivery: %v", ids)
	}
	if dk.bad.Load() != 0 {
		t.Fatalf("%d notices had a bad signature or shape", dk.bad.Load())
	}
}

// TestHandoff_OutboxBeforeTheAnswer: the notice is on disk by the time the
// user's answer comes back, while the help desk is still being called.
func TestHandoff_OutboxBeforeTheAnswer(t *testing.T) {
	release := make(chan struct{})
	var got atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	var h *web.Handoff
	e := newEnv(t, func(d *web.Deps, e *env) {
		h = &web.Handoff{URL: srv.URL, Secret: []byte(handoffSecret), Client: e.client, Transcript: e.db.Transcript, Outbox: e.db}
		d.Runtime.OnTransfer = h.Notify
	})
	e.trust(srv)
	bot := e.publishBot(transferBot)
	if c := e.start(bot, nil); c.Status != "transferred" {
		t.Fatalf("start: %+v", c)
	}
	ids := outboxIDs(t, e.db)
	if len(ids) != 1 || got.Load() != 0 {
		t.Fatalf("outbox at the answer: %v (desk answered %d)", ids, got.Load())
	}
	var body []byte
	e.db.Handoffs(context.Background(), func(_, _ string, _ time.Time, b []byte) bool { body = b; return false })
	var n web.HandoffNotice
	if err := json.Unmarshal(body, &n); err != nil || n.ID != ids[0] || n.Event != "conversation.transferred" {
		t.Fatalf("stored notice %s: %v", body, err)
	}
	close(release)
	h.Wait()
	if ids := outboxIDs(t, e.db); len(ids) != 0 || got.Load() != 1 {
		t.Fatalf("after delivery: outbox %v, %d calls", ids, got.Load())
	}
}

// TestHandoff_OutboxGivesUp: a refused notice (4xx), one that keeps
// failing past MaxAge, and one found older than MaxAge at start leave the
// outbox; a notice that keeps failing is tried at the last interval until
// MaxAge.
func TestHandoff_OutboxGivesUp(t *testing.T) {
	var status atomic.Int32
	var calls atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(int(status.Load()))
	}))
	t.Cleanup(srv.Close)
	var logs syncBuffer
	var h *web.Handoff
	e := newEnv(t, func(d *web.Deps, e *env) {
		h = &web.Handoff{URL: srv.URL, Secret: []byte(handoffSecret), Client: e.client, Transcript: e.db.Transcript, Outbox: e.db,
			Backoff: []time.Duration{0, 10 * time.Millisecond}, MaxAge: 400 * time.Millisecond, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
		d.Runtime.OnTransfer = h.Notify
	})
	e.trust(srv)
	bot := e.publishBot(transferBot)

	status.Store(http.StatusBadRequest)
	e.start(bot, nil)
	h.Wait()
	if n := calls.Load(); n != 1 || len(outboxIDs(t, e.db)) != 0 {
		t.Fatalf("a 400: %d calls, outbox %v", n, outboxIDs(t, e.db))
	}

	calls.Store(0)
	status.Store(http.StatusInternalServerError)
	began := time.Now()
	e.start(bot, nil)
	h.Wait()
	took := time.Since(began)
	// 2 tries from the list, then about one every 10 ms until 400 ms.
	if n := calls.Load(); n < 5 || took < 300*time.Millisecond || len(outboxIDs(t, e.db)) != 0 {
		t.Fatalf("a desk that keeps failing: %d calls in %v, outbox %v", n, took, outboxIDs(t, e.db))
	}

	// Found at start already older than MaxAge: given up unsent.
	calls.Store(0)
	if err := e.db.PutHandoff(context.Background(), "old-notice", waitingConversation(e), time.Now().Add(-time.Second), []byte(`{"id":"old-notice"}`)); err != nil {
		t.Fatal(err)
	}
	h.Start()
	t.Cleanup(func() { h.Close(context.Background()) })
	waitFor(t, "the old notice to leave the outbox", func() bool { return len(outboxIDs(t, e.db)) == 0 })
	if calls.Load() != 0 || !strings.Contains(string(logs.Bytes()), "older than the time it is tried for") {
		t.Fatalf("old notice: %d calls; logs %s", calls.Load(), logs.Bytes())
	}
}

// pausingOutbox is the real store, whose outbox walk waits, on its second
// call, until released: a sweep caught in the middle.
type pausingOutbox struct {
	*store.DB
	calls   atomic.Int32
	entered chan struct{}
	release chan struct{}
}

func (p *pausingOutbox) Handoffs(ctx context.Context, fn func(string, string, time.Time, []byte) bool) error {
	if p.calls.Add(1) == 2 {
		close(p.entered)
		<-p.release
	}
	return p.DB.Handoffs(ctx, fn)
}

// TestHandoff_CloseDuringSweep: a sweep under way when Close is called
// launches nothing after it; the notice it found stays in the outbox.
func TestHandoff_CloseDuringSweep(t *testing.T) {
	srv, posts := countingDesk(t, http.StatusNoContent)
	e := newEnv(t)
	e.trust(srv)
	ob := &pausingOutbox{DB: e.db, entered: make(chan struct{}), release: make(chan struct{})}
	h := &web.Handoff{URL: srv.URL, Secret: []byte(handoffSecret), Client: e.client, Transcript: e.db.Transcript,
		Outbox: ob, SweepEvery: 10 * time.Millisecond}
	conv := waitingConversation(e)
	h.Start() // the first walk: an empty outbox
	if err := e.db.PutHandoff(context.Background(), "n1", conv, time.Now(), []byte(`{"id":"n1","conversation_id":"`+conv+`"}`)); err != nil {
		t.Fatal(err)
	}
	<-ob.entered // the sweeper is walking the outbox
	closed := make(chan error)
	go func() { closed <- h.Close(context.Background()) }()
	time.Sleep(50 * time.Millisecond) // Close has stopped the sweeper's loop and waits for it
	close(ob.release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if n := posts.Load(); n != 0 {
		t.Fatalf("%d notices sent after Close", n)
	}
	if ids := outboxIDs(t, e.db); len(ids) != 1 {
		t.Fatalf("outbox after Close: %v", ids)
	}
}

// TestHandoff_ErasedWithItsConversation: erasing a conversation removes
// its notice from the outbox, and a notice waiting for its next try is not
// sent again; another conversation's notice stays.
func TestHandoff_ErasedWithItsConversation(t *testing.T) {
	srv, posts := countingDesk(t, http.StatusServiceUnavailable)
	var h *web.Handoff
	e := newEnv(t, func(d *web.Deps, e *env) {
		h = &web.Handoff{URL: srv.URL, Secret: []byte(handoffSecret), Client: e.client, Transcript: e.db.Transcript,
			Outbox: e.db, Backoff: []time.Duration{300 * time.Millisecond, time.Hour}}
		d.Runtime.OnTransfer = h.Notify
	})
	t.Cleanup(func() { h.Close(context.Background()) })
	e.trust(srv)
	bot := e.publishBot(transferBot)
	gone := e.start(bot, map[string]any{"user": map[string]any{"name": "Ann"}})
	kept := e.start(bot, map[string]any{"user": map[string]any{"name": "Bob"}})
	if ids := outboxIDs(t, e.db); len(ids) != 2 {
		t.Fatalf("outbox: %v", ids)
	}
	if r := e.do("DELETE", "/v1/conversations/"+gone.ID, adminToken, nil); r.Code != 204 {
		t.Fatalf("erase: %d %s", r.Code, r.Body)
	}
	ids := outboxIDs(t, e.db)
	if len(ids) != 1 {
		t.Fatalf("outbox after the erasure: %v", ids)
	}
	var left web.HandoffNotice
	e.db.Handoffs(context.Background(), func(_, _ string, _ time.Time, b []byte) bool { json.Unmarshal(b, &left); return false })
	if left.ConversationID != kept.ID {
		t.Fatalf("the notice left is about %s, want %s", left.ConversationID, kept.ID)
	}
	// Both were tried once (503); after the wait only the kept one again.
	waitFor(t, "three posts", func() bool { return posts.Load() >= 3 })
	time.Sleep(300 * time.Millisecond)
	if n := posts.Load(); n != 3 {
		t.Fatalf("%d posts; want 3 (two first tries, one retry of the kept notice)", n)
	}
}

// TestHandoff_OverflowWaitsInTheOutbox: past MaxInFlight a notice is not
// dropped: it waits in the outbox and the sweeper sends it once there is
// room. Without an outbox it is dropped, and counted.
func TestHandoff_OverflowWaitsInTheOutbox(t *testing.T) {
	for _, withOutbox := range []bool{true, false} {
		t.Run(map[bool]string{true: "Outbox", false: "MemoryOnly"}[withOutbox], func(t *testing.T) {
			release := make(chan struct{})
			var posts atomic.Int32
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if posts.Add(1) == 1 {
					<-release // the first notice holds the only place
				}
				w.WriteHeader(http.StatusNoContent)
			}))
			t.Cleanup(srv.Close)
			var h *web.Handoff
			e := newEnv(t, func(d *web.Deps, e *env) {
				h = &web.Handoff{URL: srv.URL, Secret: []byte(handoffSecret), Client: e.client, Transcript: e.db.Transcript,
					MaxInFlight: 1, SweepEvery: 20 * time.Millisecond}
				if withOutbox {
					h.Outbox = e.db
				}
				d.Runtime.OnTransfer = h.Notify
			})
			e.trust(srv)
			h.Start()
			bot := e.publishBot(transferBot)
			e.start(bot, nil)
			waitFor(t, "the first notice", func() bool { return posts.Load() >= 1 }, func() { close(release) })
			e.start(bot, nil) // no room
			if withOutbox {
				if ids := outboxIDs(t, e.db); len(ids) != 2 {
					close(release)
					t.Fatalf("outbox with one place taken: %v", ids)
				}
			} else if st := h.Stats(); st.Dropped != 1 || st.InFlight != 1 {
				close(release)
				t.Fatalf("stats %+v, want one dropped, one in flight", st)
			}
			close(release)
			if withOutbox {
				waitFor(t, "the waiting notice to be sent", func() bool { return len(outboxIDs(t, e.db)) == 0 })
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := h.Close(ctx); err != nil {
				t.Fatal(err)
			}
			want := map[bool]int32{true: 2, false: 1}[withOutbox]
			if n := posts.Load(); n != want {
				t.Fatalf("%d posts, want %d", n, want)
			}
		})
	}
}

// TestHandoff_NoNoticeForAnErasedConversation: a conversation erased
// between its transfer turn and its notice gets none: neither when the
// erasure came before the transcript read, nor when it came between that
// read and the outbox write.
func TestHandoff_NoNoticeForAnErasedConversation(t *testing.T) {
	srv, posts := countingDesk(t, http.StatusNoContent)
	e := newEnv(t)
	e.trust(srv)
	for _, readFirst := range []bool{false, true} {
		conv := waitingConversation(e)
		transcript := e.db.Transcript
		if readFirst {
			// The transcript was read before the erasure committed.
			tr, err := e.db.Transcript(context.Background(), conv)
			if err != nil {
				t.Fatal(err)
			}
			transcript = func(context.Context, string) ([]flow.Entry, error) { return tr, nil }
		}
		if r := e.do("DELETE", "/v1/conversations/"+conv, adminToken, nil); r.Code != 204 {
			t.Fatalf("erase: %d %s", r.Code, r.Body)
		}
		h := &web.Handoff{URL: srv.URL, Secret: []byte(handoffSecret), Client: e.client, Transcript: transcript, Outbox: e.db}
		h.Notify(&flow.Conversation{ID: conv, Status: flow.StatusTransferred, User: flow.User{Name: "Ann"}}, &flow.Turn{})
		h.Wait()
		if ids := outboxIDs(t, e.db); len(ids) != 0 || posts.Load() != 0 {
			t.Fatalf("read first %v: outbox %v, %d posts", readFirst, ids, posts.Load())
		}
	}
}

// TestHandoff_LostNoticeMadeOnRetry: a crash between storing a transfer
// turn and storing its notice (here: the turn runs with no hand-off hook)
// leaves a transferred conversation that no help desk heard of. The
// widget got no answer and sends its message again with the same
// Idempotency-Key: the replayed answer makes the notice, once, with the
// transfer step's details from the turn's log.
func TestHandoff_LostNoticeMadeOnRetry(t *testing.T) {
	dk := newDesk(t)
	var h *web.Handoff
	var rt *flow.Runtime
	e := newEnv(t, func(d *web.Deps, e *env) {
		h = &web.Handoff{URL: dk.srv.URL + "/hook", Secret: []byte(handoffSecret), Client: e.client, Transcript: e.db.Transcript, Outbox: e.db}
		rt = d.Runtime // the hook is set after the "crash"
	})
	e.trust(dk.srv)
	h.Start()
	t.Cleanup(func() { h.Close(context.Background()) })
	bot := e.publishBot(`{"start":"a","steps":[{"id":"a","type":"ask","text":"What do you need?","variable":"q","next":"t"},
		{"id":"t","type":"transfer","text":"A person will help.","reason":"asked","group":"billing"}]}`)
	c := e.start(bot, nil)
	const key = "5f0c3c1e-8f4e-4d55-9a4b-0c6f4c1d2e3f"
	if r := e.sendKeyed(c.ID, c.Token, key, map[string]string{"text": "a human please"}); r.Code != 200 || !strings.Contains(string(r.Body), "transferred") {
		t.Fatalf("the transfer turn: %d %s", r.Code, r.Body)
	}
	if made, err := e.db.HandoffMade(context.Background(), c.ID); err != nil || made {
		t.Fatalf("before the retry HandoffMade = %v, %v; want false (the notice was lost)", made, err)
	}

	rt.OnTransfer = h.Notify // the restarted server
	for i := range 2 {
		r := e.sendKeyed(c.ID, c.Token, key, map[string]string{"text": "a human please"})
		if r.Code != 200 || r.Header.Get("Idempotent-Replayed") != "true" || !strings.Contains(string(r.Body), "A person will help.") {
			t.Fatalf("retry %d: %d %v %s", i+1, r.Code, r.Header, r.Body)
		}
		h.Wait()
	}
	n := dk.next(t)
	if n.ConversationID != c.ID || n.Reason != "asked" || n.Group != "billing" || len(n.Transcript) == 0 {
		t.Fatalf("notice made on the retry: %+v", n)
	}
	select {
	case n := <-dk.got:
		t.Fatalf("a second notice for the second retry: %+v", n)
	case <-time.After(200 * time.Millisecond):
	}
	if made, err := e.db.HandoffMade(context.Background(), c.ID); err != nil || !made {
		t.Fatalf("after delivery HandoffMade = %v, %v; want true", made, err)
	}
}

// TestHandoff_OldTransferNotRemadeOnRetry: a replayed answer of a
// conversation transferred longer ago than MaxAge makes no notice, even
// without a record of one (delivered before notices left a mark, or
// transferred before a help desk was configured).
func TestHandoff_OldTransferNotRemadeOnRetry(t *testing.T) {
	dk := newDesk(t)
	var h *web.Handoff
	var rt *flow.Runtime
	e := newEnv(t, func(d *web.Deps, e *env) {
		h = &web.Handoff{URL: dk.srv.URL + "/hook", Secret: []byte(handoffSecret), Client: e.client, Transcript: e.db.Transcript,
			Outbox: e.db, MaxAge: 24 * time.Hour}
		rt = d.Runtime
		rt.Now = func() time.Time { return time.Now().Add(-25 * time.Hour) } // the transfer happened then
	})
	e.trust(dk.srv)
	h.Start()
	t.Cleanup(func() { h.Close(context.Background()) })
	bot := e.publishBot(`{"start":"a","steps":[{"id":"a","type":"ask","text":"What do you need?","variable":"q","next":"t"},
		{"id":"t","type":"transfer","text":"A person will help.","reason":"asked"}]}`)
	c := e.start(bot, nil)
	const key = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
	if r := e.sendKeyed(c.ID, c.Token, key, map[string]string{"text": "a human please"}); r.Code != 200 {
		t.Fatalf("the transfer turn: %d %s", r.Code, r.Body)
	}
	rt.OnTransfer = h.Notify
	if r := e.sendKeyed(c.ID, c.Token, key, map[string]string{"text": "a human please"}); r.Code != 200 || r.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry: %d %v %s", r.Code, r.Header, r.Body)
	}
	h.Wait()
	select {
	case n := <-dk.got:
		t.Fatalf("a notice for a transfer 25 hours old: %+v", n)
	case <-time.After(200 * time.Millisecond):
	}
}

// TestHandoff_LostNoticeMadeAtStart: a crash between storing a transfer
// turn and storing its notice (here: the turn runs with no hand-off hook)
// leaves a transferred conversation no help desk heard of, and the
// widget may never send its message again. The next start finds it and
// makes the notice, once, with the transfer step's details. It leaves
// alone a transfer older than MaxAge, one whose notice was stored, and
// one from before notices were first kept.
func TestHandoff_LostNoticeMadeAtStart(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) (e *env, rt *flow.Runtime, dk *desk, transfer func() *flow.Conversation, handoff func() *web.Handoff) {
		dk = newDesk(t)
		e = newEnv(t, func(d *web.Deps, e *env) { rt = d.Runtime })
		e.trust(dk.srv)
		bot := e.publishBot(`{"start":"a","steps":[{"id":"a","type":"ask","text":"What do you need?","variable":"q","next":"t"},
			{"id":"t","type":"transfer","text":"A person will help.","reason":"asked","group":"billing","priority":"high","tags":["vip"]}]}`)
		transfer = func() *flow.Conversation {
			t.Helper()
			c := e.start(bot, nil)
			if code, tr := e.send(c.ID, c.Token, map[string]string{"text": "a human please"}); code != 200 || tr.Status != flow.StatusTransferred {
				t.Fatalf("the transfer turn: %d %+v", code, tr)
			}
			conv, err := e.db.Conversation(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			return conv
		}
		handoff = func() *web.Handoff {
			return &web.Handoff{URL: dk.srv.URL + "/hook", Secret: []byte(handoffSecret), Client: e.client, Transcript: e.db.Transcript,
				Log: e.db.Log, Outbox: e.db, MaxAge: 24 * time.Hour}
		}
		return
	}
	startAndClose := func(t *testing.T, h *web.Handoff) {
		t.Helper()
		h.Start()
		h.Wait()
		if err := h.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	noNotice := func(t *testing.T, dk *desk, why string) {
		t.Helper()
		select {
		case n := <-dk.got:
			t.Fatalf("%s: a notice %+v", why, n)
		case <-time.After(300 * time.Millisecond):
		}
	}

	t.Run("MadeOnce", func(t *testing.T) {
		e, rt, dk, transfer, handoff := setup(t)
		// A help desk has been configured for two days.
		if _, err := e.db.HandoffsSince(ctx, time.Now().Add(-48*time.Hour)); err != nil {
			t.Fatal(err)
		}
		rt.Now = func() time.Time { return time.Now().Add(-30 * time.Hour) }
		old := transfer() // its notice was lost too, but 30 hours ago
		rt.Now = nil
		lost := transfer()
		hk := handoff()
		rt.OnTransfer = hk.Notify
		kept := transfer()
		rt.OnTransfer = nil
		if n := dk.next(t); n.ConversationID != kept.ID {
			t.Fatalf("the stored notice is about %s; want %s", n.ConversationID, kept.ID)
		}
		hk.Wait() // delivered and out of the outbox before the "crash"

		startAndClose(t, handoff()) // after the crash
		n := dk.next(t)
		if n.ConversationID != lost.ID || n.Reason != "asked" || n.Group != "billing" || n.Priority != "high" ||
			fmt.Sprint(n.Tags) != "[vip]" || len(n.Transcript) == 0 || n.BotID != lost.BotID {
			t.Fatalf("notice made at start: %+v; want one about %s with the transfer's details", n, lost.ID)
		}
		noNotice(t, dk, "one start")
		if made, _ := e.db.HandoffMade(ctx, old.ID); made {
			t.Errorf("a notice about a transfer 30 hours old (MaxAge 24 h)")
		}
		startAndClose(t, handoff()) // the next start: the notice was made
		noNotice(t, dk, "a second start")
	})

	t.Run("NotWhileNoDesk", func(t *testing.T) {
		e, _, dk, transfer, handoff := setup(t)
		if _, err := e.db.HandoffsSince(ctx, time.Now().Add(-48*time.Hour)); err != nil {
			t.Fatal(err)
		}
		// A start without a help desk forgets that time (cmd/flowbot), and
		// its transfers get no notice.
		if err := e.db.ForgetHandoffsSince(ctx); err != nil {
			t.Fatal(err)
		}
		unnoticed := transfer()
		startAndClose(t, handoff()) // the desk is configured again
		noNotice(t, dk, "a transfer made while no desk was configured")
		if made, _ := e.db.HandoffMade(ctx, unnoticed.ID); made {
			t.Errorf("a notice about a transfer made while no desk was configured")
		}
	})

	t.Run("SentFromMemoryNotMadeAgain", func(t *testing.T) {
		e, rt, dk, transfer, handoff := setup(t)
		if _, err := e.db.HandoffsSince(ctx, time.Now().Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		h := handoff()
		h.Outbox = failingPutOutbox{e.db} // the outbox write fails: sent from memory
		rt.OnTransfer = h.Notify
		c := transfer()
		rt.OnTransfer = nil
		if n := dk.next(t); n.ConversationID != c.ID {
			t.Fatalf("notice about %s; want %s", n.ConversationID, c.ID)
		}
		h.Wait()
		if made, err := e.db.HandoffMade(ctx, c.ID); err != nil || !made {
			t.Fatalf("HandoffMade = %v, %v after a notice sent from memory", made, err)
		}
		startAndClose(t, handoff())
		noNotice(t, dk, "a start after a notice sent from memory")
	})

	t.Run("SearchAndTransferMakeOne", func(t *testing.T) {
		e, _, dk, transfer, handoff := setup(t)
		if _, err := e.db.HandoffsSince(ctx, time.Now().Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		a, b := transfer(), transfer() // both lost
		h := handoff()
		// The search holds at a's log; a transfer of this process that
		// notifies b holds at b's transcript, after it has said so and
		// before its notice is stored (as after a clock step back, which
		// puts such a transfer in the searched window).
		atA, releaseA := make(chan struct{}), make(chan struct{})
		h.Log = func(ctx context.Context, id string) ([]flow.LogEntry, error) {
			if id == a.ID {
				close(atA)
				<-releaseA
			}
			return e.db.Log(ctx, id)
		}
		atB, releaseB := make(chan struct{}), make(chan struct{})
		var once sync.Once
		h.Transcript = func(ctx context.Context, id string) ([]flow.Entry, error) {
			if id == b.ID {
				once.Do(func() { close(atB); <-releaseB })
			}
			return e.db.Transcript(ctx, id)
		}
		h.Start()
		<-atA
		notified := make(chan struct{})
		go func() { defer close(notified); h.Notify(b, &flow.Turn{}) }()
		<-atB
		close(releaseA) // the search goes on to b: its notice is being made
		h.Wait()        // the search is over, and a's notice delivered
		close(releaseB)
		<-notified
		h.Wait()
		got := map[string]int{}
		for range 2 {
			got[dk.next(t).ConversationID]++
		}
		noNotice(t, dk, "a third notice")
		if got[a.ID] != 1 || got[b.ID] != 1 {
			t.Errorf("notices %v; want one about each of %s and %s", got, a.ID, b.ID)
		}
		// The other way round: a transfer notified after the search made
		// its notice makes none.
		h.Notify(a, &flow.Turn{})
		h.Wait()
		noNotice(t, dk, "a transfer's notice after the search made it")
		if err := h.Close(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("NotBeforeNoticesWereKept", func(t *testing.T) {
		e, _, dk, transfer, handoff := setup(t)
		before := transfer() // no help desk was ever configured
		startAndClose(t, handoff())
		noNotice(t, dk, "the first start with a help desk")
		if made, _ := e.db.HandoffMade(ctx, before.ID); made {
			t.Errorf("a notice about a transfer from before notices were kept")
		}
		since, err := e.db.HandoffsSince(ctx, time.Now().Add(time.Hour))
		if err != nil || time.Since(since) > time.Minute || since.After(time.Now()) {
			t.Errorf("HandoffsSince = %v, %v; want the first start's time, kept", since, err)
		}
	})
}

// failingPutOutbox is the store with an outbox whose writes fail.
type failingPutOutbox struct{ *store.DB }

func (failingPutOutbox) PutHandoff(context.Context, string, string, time.Time, []byte) error {
	return errors.New("disk full")
}
