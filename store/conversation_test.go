package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/flowbot/flowbot/flow"
	bolt "go.etcd.io/bbolt"
)

var convEpoch = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// sampleConversation is an active conversation last updated at updated.
func sampleConversation(id, token string, updated time.Time) *flow.Conversation {
	c := &flow.Conversation{
		ID: id, BotID: "0190a6b6-0000-7000-8000-000000000001", Version: 2,
		Status: flow.StatusActive, Waiting: "ask_order",
		Awaiting:  flow.Awaiting{Type: flow.AwaitOptions, Options: []flow.AwaitOption{{ID: "yes", Label: "Yes"}}},
		Vars:      map[string]string{"order_number": "1234"},
		User:      flow.User{ExternalID: "u1", Name: "Ada", Authenticated: true},
		CreatedAt: convEpoch, UpdatedAt: updated,
		Last: flow.LastTurn{Key: "key-" + id, Input: "\x00\xffdigest", Seq: 7, Earlier: []string{"older", "oldest"}},
	}
	if token != "" {
		c.TokenHash = []byte(token)
	}
	return c
}

// nextTurn advances c by one turn: a user and a bot line in the
// transcript and one api_call in the log, with the next three seqs.
func nextTurn(c *flow.Conversation) *flow.TurnRecord {
	c.Turns++
	at := c.UpdatedAt
	t := &flow.TurnRecord{Conversation: c}
	c.Seq++
	t.Transcript = append(t.Transcript, flow.Entry{Seq: c.Seq, At: at, From: "user", Text: fmt.Sprint("reply ", c.Turns), OptionID: "yes"})
	c.Seq++
	t.Log = append(t.Log, flow.LogEntry{
		Seq: c.Seq, At: at, StepID: "lookup", StepType: flow.TypeAPICall, Outcome: "success", Next: "tell",
		APICall: &flow.APICallLog{
			Method: "GET", URL: "https://shop.example.com/api/orders/1234.json",
			Headers: map[string]string{"Accept": "application/json"}, Status: 200,
			DurationMS: 12.5, Bytes: 321, Saved: []string{"order_status"}, Branch: "success",
		},
	})
	c.Seq++
	t.Transcript = append(t.Transcript, flow.Entry{Seq: c.Seq, At: at, From: "bot", Text: fmt.Sprint("turn ", c.Turns), StepID: "tell"})
	return t
}

// copyConversation returns c as a reader gets it back.
func copyConversation(c *flow.Conversation) *flow.Conversation {
	out := *c
	out.Vars = map[string]string{}
	for k, v := range c.Vars {
		out.Vars[k] = v
	}
	return &out
}

func mustSaveTurn(tb testing.TB, db *DB, t *flow.TurnRecord) {
	tb.Helper()
	if err := db.SaveTurn(context.Background(), t); err != nil {
		tb.Fatal(err)
	}
}

func mustTranscript(tb testing.TB, db *DB, id string) []flow.Entry {
	tb.Helper()
	got, err := db.Transcript(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	return got
}

func mustLog(tb testing.TB, db *DB, id string) []flow.LogEntry {
	tb.Helper()
	got, err := db.Log(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	return got
}

// blockCommitter holds the turn log's committer inside the commit of a
// first turn (conversation "blocker") until the returned func is called,
// so the turns that follow pile up in the queue and form the next batch.
func blockCommitter(tb testing.TB, db *DB) (release func()) {
	tb.Helper()
	return blockCommitterOn(tb, db, nextTurn(sampleConversation("blocker", "", convEpoch)))
}

// blockCommitterOn is blockCommitter with the first turn given.
func blockCommitterOn(tb testing.TB, db *DB, first *flow.TurnRecord) (release func()) {
	tb.Helper()
	inside, rel, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var once sync.Once
	hook := func() { once.Do(func() { close(inside); <-rel }) }
	db.turns.beforeCommit.Store(&hook)
	go func() {
		defer close(done)
		if err := db.SaveTurn(context.Background(), first); err != nil {
			tb.Errorf("held turn: %v", err)
		}
	}()
	<-inside
	var relOnce sync.Once
	release = func() { relOnce.Do(func() { close(rel); <-done }) }
	tb.Cleanup(release)
	return release
}

// waitQueued waits until n turns wait in the turn log's queue.
func waitQueued(tb testing.TB, db *DB, n int) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(db.turns.reqs) < n {
		if time.Now().After(deadline) {
			tb.Fatalf("%d turns queued, want %d", len(db.turns.reqs), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// journalStats returns how many journal writes (each one fdatasync) the
// turn log made and how many turns they held.
func journalStats(db *DB) (syncs, turns uint64) {
	return db.turns.stats.syncs.Load(), db.turns.stats.turns.Load()
}

func TestSaveTurn(t *testing.T) {
	ctx := context.Background()

	t.Run("RoundTrip", func(t *testing.T) {
		db := mustOpen(t)
		c := sampleConversation("c1", "hash-1", convEpoch)
		t1 := nextTurn(c)
		mustSaveTurn(t, db, t1)
		c.UpdatedAt = convEpoch.Add(time.Minute)
		c.Vars["order_status"] = "shipped"
		t2 := nextTurn(c)
		mustSaveTurn(t, db, t2)

		got, err := db.Conversation(ctx, "c1")
		if err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "conversation", got, copyConversation(c))
		mustEqual(t, "transcript", mustTranscript(t, db, "c1"), append(t1.Transcript, t2.Transcript...))
		mustEqual(t, "log", mustLog(t, db, "c1"), append(t1.Log, t2.Log...))
		mustCheck(t, db)
	})

	t.Run("TokenLookup", func(t *testing.T) {
		db := mustOpen(t)
		c1 := sampleConversation("c1", "hash-1", convEpoch)
		c2 := sampleConversation("c2", "hash-2", convEpoch)
		mustSaveTurn(t, db, nextTurn(c1))
		mustSaveTurn(t, db, nextTurn(c2))
		got, err := db.ConversationByTokenHash(ctx, []byte("hash-2"))
		if err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "conversation by token", got, copyConversation(c2))
	})

	t.Run("EmptyTurnGivesEmptySlices", func(t *testing.T) {
		db := mustOpen(t)
		mustSaveTurn(t, db, &flow.TurnRecord{Conversation: sampleConversation("c1", "", convEpoch)})
		if got := mustTranscript(t, db, "c1"); got == nil || len(got) != 0 {
			t.Errorf("transcript = %#v, want an empty non-nil slice", got)
		}
		if got := mustLog(t, db, "c1"); got == nil || len(got) != 0 {
			t.Errorf("log = %#v, want an empty non-nil slice", got)
		}
	})

	t.Run("KeepsTokenWhenTurnHasNone", func(t *testing.T) {
		db := mustOpen(t)
		c := sampleConversation("c1", "hash-1", convEpoch)
		mustSaveTurn(t, db, nextTurn(c))
		c.TokenHash = nil
		mustSaveTurn(t, db, nextTurn(c))
		got, err := db.ConversationByTokenHash(ctx, []byte("hash-1"))
		if err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "token hash", got.TokenHash, []byte("hash-1"))
		mustEqual(t, "turns", got.Turns, 2)
	})

	t.Run("RotatesToken", func(t *testing.T) {
		db := mustOpen(t)
		c := sampleConversation("c1", "hash-1", convEpoch)
		mustSaveTurn(t, db, nextTurn(c))
		c.TokenHash = []byte("hash-2")
		mustSaveTurn(t, db, nextTurn(c))
		_, err := db.ConversationByTokenHash(ctx, []byte("hash-1"))
		wantCode(t, err, flow.ENOTFOUND, "")
		got, err := db.ConversationByTokenHash(ctx, []byte("hash-2"))
		if err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "conversation", got, copyConversation(c))
	})

	t.Run("StampsZeroTimes", func(t *testing.T) {
		db := mustOpen(t)
		c := sampleConversation("c1", "", time.Time{})
		c.CreatedAt = time.Time{}
		mustSaveTurn(t, db, nextTurn(c))
		if c.CreatedAt.IsZero() || !c.UpdatedAt.Equal(c.CreatedAt) {
			t.Fatalf("created %v, updated %v: want both set to the store's clock", c.CreatedAt, c.UpdatedAt)
		}
		got, err := db.Conversation(ctx, "c1")
		if err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "conversation", got, copyConversation(c))
	})

	t.Run("ErrTokenInUse", func(t *testing.T) {
		db := mustOpen(t)
		mustSaveTurn(t, db, nextTurn(sampleConversation("c1", "hash-1", convEpoch)))
		err := db.SaveTurn(ctx, nextTurn(sampleConversation("c2", "hash-1", convEpoch)))
		wantCode(t, err, flow.ECONFLICT, "token is already in use")
		_, err = db.Conversation(ctx, "c2")
		wantCode(t, err, flow.ENOTFOUND, "")
		got, err := db.ConversationByTokenHash(ctx, []byte("hash-1"))
		if err != nil || got.ID != "c1" {
			t.Fatalf("token owner = %v, %v; want c1", got, err)
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		db := mustOpen(t)
		negative := nextTurn(sampleConversation("c1", "", convEpoch))
		negative.Log[0].Seq = -1
		for name, tc := range map[string]struct {
			turn *flow.TurnRecord
			msg  string
		}{
			"NilTurn":          {nil, "no conversation"},
			"NilConversation":  {&flow.TurnRecord{}, "no conversation"},
			"EmptyID":          {nextTurn(sampleConversation("", "", convEpoch)), "id is empty"},
			"NULInID":          {nextTurn(sampleConversation("a\x00b", "", convEpoch)), "NUL"},
			"LongID":           {nextTurn(sampleConversation(string(make([]byte, 129)), "", convEpoch)), "longer than 128"},
			"LongTokenHash":    {nextTurn(sampleConversation("c1", string(make([]byte, 256)), convEpoch)), "longer than 255"},
			"NegativeEntrySeq": {negative, "negative"},
		} {
			t.Run(name, func(t *testing.T) {
				wantCode(t, db.SaveTurn(ctx, tc.turn), flow.EINVALID, tc.msg)
			})
		}
		_, err := db.Conversation(ctx, "c1")
		wantCode(t, err, flow.ENOTFOUND, "")
	})

	t.Run("ErrCanceledBeforeQueued", func(t *testing.T) {
		db := mustOpen(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		err := db.SaveTurn(cctx, nextTurn(sampleConversation("c1", "", convEpoch)))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		_, err = db.Conversation(ctx, "c1")
		wantCode(t, err, flow.ENOTFOUND, "")
	})

	t.Run("ErrClosed", func(t *testing.T) {
		db := mustOpen(t)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- db.SaveTurn(ctx, nextTurn(sampleConversation("c1", "", convEpoch))) }()
		select {
		case err := <-done:
			if !errors.Is(err, bolt.ErrDatabaseNotOpen) {
				t.Fatalf("err = %v, want one wrapping bolt.ErrDatabaseNotOpen", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("SaveTurn after Close hangs")
		}
		if err := db.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}

func TestConversationNotFound(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	mustSaveTurn(t, db, nextTurn(sampleConversation("c1", "hash-1", convEpoch)))
	_, err := db.Conversation(ctx, "nope")
	wantCode(t, err, flow.ENOTFOUND, "conversation nope not found")
	_, err = db.ConversationByTokenHash(ctx, []byte("hash-2"))
	wantCode(t, err, flow.ENOTFOUND, "")
	_, err = db.ConversationByTokenHash(ctx, nil)
	wantCode(t, err, flow.ENOTFOUND, "")
	_, err = db.Transcript(ctx, "nope")
	wantCode(t, err, flow.ENOTFOUND, "conversation nope not found")
	_, err = db.Log(ctx, "nope")
	wantCode(t, err, flow.ENOTFOUND, "conversation nope not found")
	// "c" is a prefix of "c1" but not a conversation.
	_, err = db.Transcript(ctx, "c")
	wantCode(t, err, flow.ENOTFOUND, "")
}

func TestSaveTurnConcurrent(t *testing.T) {
	ctx := context.Background()
	const goroutines, turns = 50, 6

	t.Run("ManyConversations", func(t *testing.T) {
		db := mustOpen(t)
		want := make([][]flow.Entry, goroutines)
		var wg sync.WaitGroup
		errs := make(chan error, goroutines)
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := sampleConversation(fmt.Sprint("c", g), fmt.Sprint("hash-", g), convEpoch)
				for range turns {
					c.UpdatedAt = c.UpdatedAt.Add(time.Second)
					turn := nextTurn(c)
					if err := db.SaveTurn(ctx, turn); err != nil {
						errs <- err
						return
					}
					want[g] = append(want[g], turn.Transcript...)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		for g := range goroutines {
			id := fmt.Sprint("c", g)
			mustEqual(t, "transcript of "+id, mustTranscript(t, db, id), want[g])
			if n := len(mustLog(t, db, id)); n != turns {
				t.Errorf("log of %s has %d entries, want %d", id, n, turns)
			}
			c, err := db.ConversationByTokenHash(ctx, []byte(fmt.Sprint("hash-", g)))
			if err != nil || c.ID != id || c.Turns != turns {
				t.Fatalf("conversation by token of %s = %+v, %v", id, c, err)
			}
		}
		mustIndexSize(t, db, goroutines)
		mustCheck(t, db)
	})

	t.Run("OneConversation", func(t *testing.T) {
		// Each goroutine writes its own seq range; every entry must land.
		db := mustOpen(t)
		var wg sync.WaitGroup
		errs := make(chan error, goroutines)
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range turns {
					seq := g*turns + i + 1
					c := sampleConversation("shared", "hash-shared", convEpoch.Add(time.Duration(seq)*time.Second))
					c.Seq = seq
					turn := &flow.TurnRecord{
						Conversation: c,
						Transcript:   []flow.Entry{{Seq: seq, At: c.UpdatedAt, From: "user", Text: fmt.Sprint(seq)}},
						Log:          []flow.LogEntry{{Seq: seq, At: c.UpdatedAt, StepID: "s", StepType: flow.TypeMessage, Outcome: "sent"}},
					}
					if err := db.SaveTurn(ctx, turn); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		tr, lg := mustTranscript(t, db, "shared"), mustLog(t, db, "shared")
		if len(tr) != goroutines*turns || len(lg) != goroutines*turns {
			t.Fatalf("%d transcript and %d log entries, want %d each", len(tr), len(lg), goroutines*turns)
		}
		for i := range tr {
			if tr[i].Seq != i+1 || lg[i].Seq != i+1 || tr[i].Text != fmt.Sprint(i+1) {
				t.Fatalf("entry %d: transcript seq %d (%q), log seq %d", i, tr[i].Seq, tr[i].Text, lg[i].Seq)
			}
		}
		// The retention index holds only the last save's key.
		mustIndexSize(t, db, 1)
		mustCheck(t, db)
	})
}

// mustIndexSize checks that the conversation buckets and their indexes
// each hold n keys.
func mustIndexSize(tb testing.TB, db *DB, n int) {
	tb.Helper()
	if err := db.turns.checkpoint(context.Background()); err != nil {
		tb.Fatal(err)
	}
	err := db.db.View(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketConversations, bucketConversationsByUpdated} {
			if got := tx.Bucket(name).Stats().KeyN; got != n {
				return fmt.Errorf("bucket %s holds %d keys, want %d", name, got, n)
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

func TestGroupCommit(t *testing.T) {
	ctx := context.Background()

	t.Run("WaitingTurnsShareOneCommit", func(t *testing.T) {
		const savers = 64
		db := mustOpen(t)
		release := blockCommitter(t, db)
		errs := make(chan error, savers)
		for g := range savers {
			go func() {
				errs <- db.SaveTurn(ctx, nextTurn(sampleConversation(fmt.Sprint("c", g), "", convEpoch)))
			}()
		}
		waitQueued(t, db, savers)
		release()
		for range savers {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		commits, writes := journalStats(db)
		// The blocker took one commit, the savers one more.
		if writes != savers+1 || commits != 2 {
			t.Fatalf("%d writes in %d commits, want %d in 2", writes, commits, savers+1)
		}
		mustIndexSize(t, db, savers+1) // the savers' conversations and the blocker's
	})

	t.Run("ConcurrentSaversBatch", func(t *testing.T) {
		const savers, turns = 64, 4
		db := mustOpen(t)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := range savers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				c := sampleConversation(fmt.Sprint("c", g), "", convEpoch)
				for range turns {
					if err := db.SaveTurn(ctx, nextTurn(c)); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		close(start)
		wg.Wait()
		commits, writes := journalStats(db)
		t.Logf("%d turns in %d commits", writes, commits)
		if writes != savers*turns || commits >= writes {
			t.Fatalf("%d turns in %d commits: want fewer commits than turns", writes, commits)
		}
	})

	t.Run("IdleTurnCommitsAlone", func(t *testing.T) {
		db := mustOpen(t)
		c := sampleConversation("c1", "", convEpoch)
		for i := 1; i <= 3; i++ {
			mustSaveTurn(t, db, nextTurn(c))
			if commits, writes := journalStats(db); commits != uint64(i) || writes != uint64(i) {
				t.Fatalf("after %d turns: %d commits of %d turns", i, commits, writes)
			}
		}
	})

	t.Run("ConflictFailsOnlyItsTurn", func(t *testing.T) {
		db := mustOpen(t)
		mustSaveTurn(t, db, nextTurn(sampleConversation("owner", "hash-1", convEpoch)))
		release := blockCommitter(t, db)
		errs := make(chan error, 3)
		for _, c := range []*flow.Conversation{
			sampleConversation("a", "hash-a", convEpoch),
			sampleConversation("thief", "hash-1", convEpoch),
			sampleConversation("b", "hash-b", convEpoch),
		} {
			go func() { errs <- db.SaveTurn(ctx, nextTurn(c)) }()
		}
		waitQueued(t, db, 3)
		release()
		var conflicts int
		for range 3 {
			if err := <-errs; flow.ErrorCode(err) == flow.ECONFLICT {
				conflicts++
			} else if err != nil {
				t.Fatal(err)
			}
		}
		if conflicts != 1 {
			t.Fatalf("%d conflicts, want 1", conflicts)
		}
		// The owner's turn, the blocker, then one batch of three.
		if commits, _ := journalStats(db); commits != 3 {
			t.Errorf("%d commits, want 3 (the conflict must not break the batch)", commits)
		}
		for _, id := range []string{"a", "b"} {
			if _, err := db.Conversation(ctx, id); err != nil {
				t.Errorf("conversation %s: %v", id, err)
			}
		}
		_, err := db.Conversation(ctx, "thief")
		wantCode(t, err, flow.ENOTFOUND, "")
	})

	t.Run("JournalFailureStopsTurnsKeepsReads", func(t *testing.T) {
		db := mustOpen(t)
		mustSaveTurn(t, db, nextTurn(sampleConversation("c1", "hash-1", convEpoch)))
		// Make the next journal write fail, as a full or failing disk would.
		if err := db.turns.j.cur.f.Close(); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"c2", "c3"} {
			if err := db.SaveTurn(ctx, nextTurn(sampleConversation(id, "", convEpoch))); err == nil || flow.ErrorCode(err) != flow.EINTERNAL {
				t.Fatalf("turn %s after a failed journal write: err = %v, want EINTERNAL", id, err)
			}
			_, err := db.Conversation(ctx, id)
			wantCode(t, err, flow.ENOTFOUND, "")
		}
		if err := db.Ping(ctx); err == nil {
			t.Error("Ping passes with a failed journal")
		}
		if c, err := db.ConversationByTokenHash(ctx, []byte("hash-1")); err != nil || c.ID != "c1" {
			t.Errorf("read after journal failure: %v, %v", c, err)
		}
	})

	t.Run("CloseCommitsQueuedTurns", func(t *testing.T) {
		const savers = 8
		db := mustOpen(t)
		path := db.Path()
		release := blockCommitter(t, db)
		errs := make(chan error, savers)
		for g := range savers {
			go func() {
				errs <- db.SaveTurn(ctx, nextTurn(sampleConversation(fmt.Sprint("c", g), "", convEpoch)))
			}()
		}
		waitQueued(t, db, savers)
		closed := make(chan error, 1)
		go func() { closed <- db.Close() }()
		// Close must wait for the queued turns, which wait for the writer.
		select {
		case err := <-closed:
			t.Fatalf("Close returned (%v) before the queued turns committed", err)
		case <-time.After(50 * time.Millisecond):
		}
		release()
		if err := <-closed; err != nil {
			t.Fatal(err)
		}
		for range savers {
			if err := <-errs; err != nil {
				t.Fatalf("queued turn: %v", err)
			}
		}
		db = mustOpenPath(t, path)
		mustIndexSize(t, db, savers+1) // the savers' conversations and the blocker's
	})
}

func TestDeleteConversationsBefore(t *testing.T) {
	ctx := context.Background()

	t.Run("DeletesOnlyOldOnes", func(t *testing.T) {
		db := mustOpen(t)
		convs := make([]*flow.Conversation, 6)
		for i := range convs {
			convs[i] = sampleConversation(fmt.Sprint("c", i), fmt.Sprint("hash-", i), convEpoch.Add(time.Duration(i)*time.Hour))
			mustSaveTurn(t, db, nextTurn(convs[i]))
			mustSaveTurn(t, db, nextTurn(convs[i]))
		}
		// c0 was old, but a new turn makes it recent.
		convs[0].UpdatedAt = convEpoch.Add(10 * time.Hour)
		mustSaveTurn(t, db, nextTurn(convs[0]))

		n, err := db.DeleteConversationsBefore(ctx, convEpoch.Add(3*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Fatalf("deleted %d, want 2 (c1, c2)", n)
		}
		for i, c := range convs {
			_, err := db.Conversation(ctx, c.ID)
			_, terr := db.ConversationByTokenHash(ctx, c.TokenHash)
			_, trerr := db.Transcript(ctx, c.ID)
			_, lerr := db.Log(ctx, c.ID)
			if i == 1 || i == 2 {
				for _, err := range []error{err, terr, trerr, lerr} {
					wantCode(t, err, flow.ENOTFOUND, "")
				}
				continue
			}
			for _, err := range []error{err, terr, trerr, lerr} {
				if err != nil {
					t.Fatalf("%s: %v", c.ID, err)
				}
			}
		}
		mustEqual(t, "transcript of c0", len(mustTranscript(t, db, "c0")), 6)
		// Nothing of c1 and c2 is left in any bucket.
		err = db.db.View(func(tx *bolt.Tx) error {
			// c0 has three turns; c3, c4 and c5 two each: one turns-bucket
			// value per turn.
			for name, want := range map[string]int{
				"conversations": 4, "conversations_by_token": 4, "conversations_by_updated": 4,
				"turns": 3 + 3*2, "transcripts": 0, "logs": 0,
			} {
				if got := tx.Bucket([]byte(name)).Stats().KeyN; got != want {
					return fmt.Errorf("bucket %s holds %d keys, want %d", name, got, want)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := db.DeleteConversationsBefore(ctx, convEpoch.Add(3*time.Hour)); n != 0 || err != nil {
			t.Fatalf("second sweep deleted %d (%v), want 0", n, err)
		}
		mustCheck(t, db)
	})

	t.Run("DeletesInChunks", func(t *testing.T) {
		// More conversations than one chunk, written in one transaction
		// to keep the test fast.
		const total = deleteChunkConversations*2 + 5
		db := mustOpen(t)
		err := db.db.Update(func(tx *bolt.Tx) error {
			for i := range total {
				c := sampleConversation(fmt.Sprintf("c%05d", i), fmt.Sprint("hash-", i), convEpoch.Add(time.Duration(i)*time.Second))
				p, err := db.prepareTurn(nextTurn(c))
				if err != nil {
					return err
				}
				if err := applyState(tx, p.id, p.state, p.turn); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		n, err := db.DeleteConversationsBefore(ctx, convEpoch.Add(time.Duration(total-1)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if n != total-1 {
			t.Fatalf("deleted %d, want %d", n, total-1)
		}
		mustIndexSize(t, db, 1)
		last := fmt.Sprintf("c%05d", total-1)
		if _, err := db.Conversation(ctx, last); err != nil {
			t.Fatal(err)
		}
		err = db.db.View(func(tx *bolt.Tx) error {
			if got := tx.Bucket(bucketTurns).Stats().KeyN; got != 1 {
				return fmt.Errorf("%d turns left, want 1", got)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ErrCanceled", func(t *testing.T) {
		db := mustOpen(t)
		mustSaveTurn(t, db, nextTurn(sampleConversation("c1", "", convEpoch)))
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		n, err := db.DeleteConversationsBefore(cctx, convEpoch.Add(time.Hour))
		if n != 0 || !errors.Is(err, context.Canceled) {
			t.Fatalf("deleted %d, err %v; want 0 and context.Canceled", n, err)
		}
	})
}

func TestConversationReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "flowbot.db")
	db := mustOpenPath(t, path)
	c := sampleConversation("c1", "hash-1", convEpoch)
	t1, t2 := nextTurn(c), nextTurn(c)
	mustSaveTurn(t, db, t1)
	mustSaveTurn(t, db, t2)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = mustOpenPath(t, path)
	got, err := db.ConversationByTokenHash(ctx, []byte("hash-1"))
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "conversation", got, copyConversation(c))
	mustEqual(t, "transcript", mustTranscript(t, db, "c1"), append(t1.Transcript, t2.Transcript...))
	mustEqual(t, "log", mustLog(t, db, "c1"), append(t1.Log, t2.Log...))
}
