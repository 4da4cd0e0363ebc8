package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowbot/flowbot/flow"
	bolt "go.etcd.io/bbolt"
)

// noCheckpoints keeps every turn in the journal only: no checkpoint runs
// unless a test asks for one.
var noCheckpoints = turnLogOptions{maxTurns: 1 << 30, maxBytes: 1 << 30, maxAge: time.Hour, segmentSize: defaultSegmentSize}

func mustOpenWith(tb testing.TB, path string, opts turnLogOptions) *DB {
	tb.Helper()
	db, err := openWith(path, defaultLockTimeout, opts)
	if err != nil {
		tb.Fatal(err)
	}
	db.Now = newTestClock().Now
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

// crashImage copies the database file and its journal, as a process
// killed at this moment would leave them, into a new folder and returns
// the copy's database path. The caller makes sure no checkpoint runs.
func crashImage(tb testing.TB, db *DB) string {
	tb.Helper()
	dst := filepath.Join(tb.TempDir(), "flowbot.db")
	copyFile(tb, db.Path(), dst)
	if err := os.Mkdir(journalDir(dst), 0o700); err != nil {
		tb.Fatal(err)
	}
	segs, err := filepath.Glob(filepath.Join(journalDir(db.Path()), "*.wal"))
	if err != nil {
		tb.Fatal(err)
	}
	for _, s := range segs {
		copyFile(tb, s, filepath.Join(journalDir(dst), filepath.Base(s)))
	}
	return dst
}

func copyFile(tb testing.TB, src, dst string) {
	tb.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		tb.Fatal(err)
	}
}

// storedConversations counts the conversations in the bbolt file at path
// itself, without the journal.
func storedConversations(tb testing.TB, path string) int {
	tb.Helper()
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	defer bdb.Close()
	n := 0
	_ = bdb.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketConversations).Stats().KeyN
		return nil
	})
	return n
}

// saveConversations saves turns for n conversations, turns each, and
// returns them as saved.
func saveConversations(tb testing.TB, db *DB, n, turns int) []*flow.Conversation {
	tb.Helper()
	convs := make([]*flow.Conversation, n)
	for i := range convs {
		convs[i] = sampleConversation(fmt.Sprint("c", i), fmt.Sprint("hash-", i), convEpoch)
	}
	for range turns {
		for _, c := range convs {
			c.UpdatedAt = c.UpdatedAt.Add(time.Minute)
			mustSaveTurn(tb, db, nextTurn(c))
		}
	}
	return convs
}

// wantConversation checks that db holds conversation c at turn turns, with
// its token, transcript and log.
func wantConversation(tb testing.TB, db *DB, c *flow.Conversation, turns int) {
	tb.Helper()
	got, err := db.ConversationByTokenHash(context.Background(), c.TokenHash)
	if err != nil {
		tb.Fatalf("%s: %v", c.ID, err)
	}
	if got.ID != c.ID || got.Turns != turns {
		tb.Fatalf("%s: got %s at turn %d, want turn %d", c.ID, got.ID, got.Turns, turns)
	}
	// When c is the newest state, its time must have survived too.
	if turns == c.Turns && !got.UpdatedAt.Equal(c.UpdatedAt) {
		tb.Fatalf("%s: updated_at %s, want %s", c.ID, got.UpdatedAt, c.UpdatedAt)
	}
	if tr, lg := mustTranscript(tb, db, c.ID), mustLog(tb, db, c.ID); len(tr) != 2*turns || len(lg) != turns {
		tb.Fatalf("%s: %d transcript and %d log entries, want %d and %d", c.ID, len(tr), len(lg), 2*turns, turns)
	}
}

func TestJournalReplay(t *testing.T) {
	t.Run("TurnsOnlyInTheJournalSurviveACrash", func(t *testing.T) {
		db := mustOpenWith(t, filepath.Join(t.TempDir(), "flowbot.db"), noCheckpoints)
		convs := saveConversations(t, db, 5, 3)
		img := crashImage(t, db)
		if n := storedConversations(t, img); n != 0 {
			t.Fatalf("the bbolt file already holds %d conversations: the test would not exercise replay", n)
		}
		re := mustOpenPath(t, img)
		for _, c := range convs {
			wantConversation(t, re, c, 3)
		}
		mustIndexSize(t, re, len(convs))
		mustCheck(t, re)
		// Replay moved everything into bbolt: a second open replays
		// nothing and sees the same.
		if err := re.Close(); err != nil {
			t.Fatal(err)
		}
		if n := storedConversations(t, img); n != len(convs) {
			t.Fatalf("bbolt holds %d conversations after replay and close, want %d", n, len(convs))
		}
		again := mustOpenPath(t, img)
		for _, c := range convs {
			wantConversation(t, again, c, 3)
		}
	})

	t.Run("SkipsWhatACheckpointStored", func(t *testing.T) {
		db := mustOpenWith(t, filepath.Join(t.TempDir(), "flowbot.db"), noCheckpoints)
		convs := saveConversations(t, db, 4, 2)
		if err := db.turns.checkpoint(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, c := range convs[:2] {
			c.UpdatedAt = c.UpdatedAt.Add(time.Minute)
			mustSaveTurn(t, db, nextTurn(c))
		}
		img := crashImage(t, db)
		if n := storedConversations(t, img); n != 4 {
			t.Fatalf("bbolt holds %d conversations after the checkpoint, want 4", n)
		}
		re := mustOpenPath(t, img)
		// Replaying the first two turns again would double their entries.
		wantConversation(t, re, convs[0], 3)
		wantConversation(t, re, convs[1], 3)
		wantConversation(t, re, convs[2], 2)
		wantConversation(t, re, convs[3], 2)
		mustIndexSize(t, re, 4)
		mustCheck(t, re)
	})

	t.Run("TornTailIsDropped", func(t *testing.T) {
		for name, damage := range map[string]func(b []byte) []byte{
			"Truncated":  func(b []byte) []byte { return b[:len(b)-3] },
			"BitFlipped": func(b []byte) []byte { b[len(b)-5] ^= 0x40; return b },
		} {
			t.Run(name, func(t *testing.T) {
				db := mustOpenWith(t, filepath.Join(t.TempDir(), "flowbot.db"), noCheckpoints)
				convs := saveConversations(t, db, 3, 2)
				last := convs[2]
				img := crashImage(t, db)
				seg := filepath.Join(journalDir(img), segmentName(0))
				b, err := os.ReadFile(seg)
				if err != nil {
					t.Fatal(err)
				}
				// The last record is the second turn of the last
				// conversation: the write that was torn.
				if err := os.WriteFile(seg, damage(b), 0o600); err != nil {
					t.Fatal(err)
				}
				re := mustOpenPath(t, img)
				wantConversation(t, re, convs[0], 2)
				wantConversation(t, re, convs[1], 2)
				got, err := re.Conversation(context.Background(), last.ID)
				if err != nil || got.Turns != 1 {
					t.Fatalf("%s after a torn last turn: %+v, %v; want its first turn", last.ID, got, err)
				}
				mustCheck(t, re)
				// New turns go on after the torn record.
				last.Turns = 1
				mustSaveTurn(t, re, nextTurn(last))
				wantConversation(t, re, last, 2)
			})
		}
	})

	t.Run("AcrossRecycledSegments", func(t *testing.T) {
		// Tiny segments and a checkpoint every 7 turns: the journal moves
		// through many segments and writes over old ones, which still
		// hold records of their earlier use.
		opts := turnLogOptions{maxTurns: 7, maxBytes: 1 << 30, maxAge: time.Hour, segmentSize: 4 << 10}
		db := mustOpenWith(t, filepath.Join(t.TempDir(), "flowbot.db"), opts)
		convs := saveConversations(t, db, 6, 40)
		segs, err := filepath.Glob(filepath.Join(journalDir(db.Path()), "*.wal"))
		if err != nil {
			t.Fatal(err)
		}
		// The current segment, the spares, and the few full segments a
		// running checkpoint may still need.
		if len(segs) > 1+maxSpareSegments+4 {
			t.Fatalf("%d journal segments after 240 turns: segments are not reused", len(segs))
		}
		if syncs, _ := journalStats(db); syncs != 240 {
			t.Fatalf("%d journal writes, want 240", syncs)
		}
		// Checkpoint everything (so the bbolt file is not copied in the
		// middle of a transaction), then add one turn per conversation,
		// fewer than maxTurns, that only the journal holds.
		if err := db.turns.checkpoint(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, c := range convs {
			c.UpdatedAt = c.UpdatedAt.Add(time.Minute)
			mustSaveTurn(t, db, nextTurn(c))
		}
		img := crashImage(t, db)
		re := mustOpenPath(t, img)
		for _, c := range convs {
			wantConversation(t, re, c, 41)
		}
		mustCheck(t, re)
	})
}

func TestCheckpoint(t *testing.T) {
	t.Run("IdleTurnsLeaveMemory", func(t *testing.T) {
		opts := defaultTurnLogOptions
		opts.maxAge = 20 * time.Millisecond
		db := mustOpenWith(t, filepath.Join(t.TempDir(), "flowbot.db"), opts)
		convs := saveConversations(t, db, 3, 1)
		deadline := time.Now().Add(10 * time.Second)
		for {
			db.turns.mu.RLock()
			empty := db.turns.active.turns == 0 && db.turns.frozen == nil
			db.turns.mu.RUnlock()
			if empty {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("waiting turns still in memory after 10 s")
			}
			time.Sleep(5 * time.Millisecond)
		}
		err := db.db.View(func(tx *bolt.Tx) error {
			for _, c := range convs {
				if tx.Bucket(bucketConversations).Get([]byte(c.ID)) == nil {
					return fmt.Errorf("%s is not in bbolt", c.ID)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range convs {
			wantConversation(t, db, c, 1)
		}
	})

	t.Run("ReadsMergeBboltAndJournal", func(t *testing.T) {
		db := mustOpenWith(t, filepath.Join(t.TempDir(), "flowbot.db"), noCheckpoints)
		c := saveConversations(t, db, 1, 2)[0]
		if err := db.turns.checkpoint(context.Background()); err != nil {
			t.Fatal(err)
		}
		c.UpdatedAt = c.UpdatedAt.Add(time.Minute)
		mustSaveTurn(t, db, nextTurn(c)) // in the overlay only
		wantConversation(t, db, c, 3)
		tr := mustTranscript(t, db, c.ID)
		for i := 1; i < len(tr); i++ {
			if tr[i].Seq <= tr[i-1].Seq {
				t.Fatalf("transcript out of order at %d: %d after %d", i, tr[i].Seq, tr[i-1].Seq)
			}
		}
	})

	t.Run("CloseCheckpointsEverything", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "flowbot.db")
		db := mustOpenWith(t, path, noCheckpoints)
		convs := saveConversations(t, db, 4, 2)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if n := storedConversations(t, path); n != len(convs) {
			t.Fatalf("bbolt holds %d conversations after Close, want %d", n, len(convs))
		}
	})
}

// TestJournalSegments drives the journal directly: a segment is reused
// after its records are applied, and the records of its earlier use
// that lie beyond the new ones, whole and with valid CRCs, are not read
// back.
func TestJournalSegments(t *testing.T) {
	dir := t.TempDir()
	payload := func(lsn int) []byte {
		b := make([]byte, 100)
		copy(b, fmt.Sprintf("record %d", lsn))
		return b
	}
	const rec = recordHeaderSize + 100
	j, err := openJournal(dir, 1, nil, segmentHeaderSize+3*rec)
	if err != nil {
		t.Fatal(err)
	}
	defer j.close()
	appendLSN := func(lsns ...int) {
		t.Helper()
		var ps [][]byte
		for _, n := range lsns {
			ps = append(ps, payload(n))
		}
		first, err := j.append(ps)
		if err != nil {
			t.Fatal(err)
		}
		if first != uint64(lsns[0]) {
			t.Fatalf("append gave LSN %d, want %d", first, lsns[0])
		}
	}
	appendLSN(1, 2, 3) // fills segment 0
	appendLSN(4)       // segment 1
	if err := j.release(3); err != nil {
		t.Fatal(err)
	}
	if len(j.spare) != 1 || j.spare[0].path != filepath.Join(dir, segmentName(0)) {
		t.Fatalf("spares after release: %+v", j.spare)
	}
	appendLSN(5)
	appendLSN(6) // segment 1 is full
	appendLSN(7) // reuses segment 0; records 2 and 3 of its first use follow
	if j.cur.path != filepath.Join(dir, segmentName(0)) {
		t.Fatalf("record 7 went to %s, want the reused %s", j.cur.path, segmentName(0))
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*.wal")); len(files) != 2 {
		t.Fatalf("%d segment files, want 2", len(files))
	}

	var got []string
	next, files, err := replayJournal(dir, 3, func(lsn uint64, p []byte) error {
		got = append(got, fmt.Sprintf("%d:%s", lsn, p[:8]))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"4:record 4", "5:record 5", "6:record 6", "7:record 7"}
	if fmt.Sprint(got) != fmt.Sprint(want) || next != 8 || len(files) != 2 {
		t.Fatalf("replay after 3 = %v, next %d, %d files; want %v, next 8, 2 files", got, next, len(files), want)
	}
	// Nothing to replay past the end.
	got = nil
	if next, _, err := replayJournal(dir, 7, func(lsn uint64, p []byte) error {
		got = append(got, string(p[:8]))
		return nil
	}); err != nil || next != 8 || len(got) != 0 {
		t.Fatalf("replay after 7: %v, next %d, err %v", got, next, err)
	}
}

func TestSweepAndTurns(t *testing.T) {
	ctx := context.Background()
	t.Run("ClaimedConversationRefusesTurns", func(t *testing.T) {
		db := mustOpenWith(t, filepath.Join(t.TempDir(), "flowbot.db"), noCheckpoints)
		x := saveConversations(t, db, 1, 1)[0]
		if err := db.turns.checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		y := sampleConversation("y", "hash-y", convEpoch)
		mustSaveTurn(t, db, nextTurn(y)) // only in the overlay

		claimed := db.turns.beginDelete([][]byte{[]byte(x.ID), []byte(y.ID)})
		if len(claimed) != 1 || string(claimed[0]) != x.ID {
			t.Fatalf("claimed %q, want only %s (y's newest state is not in bbolt)", claimed, x.ID)
		}
		turn := nextTurn(x)
		turn.MustExist = true
		wantCode(t, db.SaveTurn(ctx, turn), flow.ENOTFOUND, "removed (retention)")
		db.turns.endDelete(claimed)
		x.Turns-- // the refused turn did not happen
		turn = nextTurn(x)
		turn.MustExist = true
		mustSaveTurn(t, db, turn)
		wantConversation(t, db, x, 2)
	})

	t.Run("TurnInFlightIsNotClaimed", func(t *testing.T) {
		db := mustOpenWith(t, filepath.Join(t.TempDir(), "flowbot.db"), noCheckpoints)
		x := saveConversations(t, db, 1, 1)[0]
		if err := db.turns.checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		// The committer holds x's next turn between its checks and the
		// journal write: a sweep must not take x now, or the turn would
		// bring back part of a deleted conversation.
		turn := nextTurn(x)
		turn.MustExist = true
		release := blockCommitterOn(t, db, turn)
		if claimed := db.turns.beginDelete([][]byte{[]byte(x.ID)}); len(claimed) != 0 {
			t.Fatalf("claimed %q while its turn is in flight", claimed)
		}
		release()
		wantConversation(t, db, x, 2)
	})

	t.Run("ConcurrentSweepLeavesWholeConversations", func(t *testing.T) {
		// Turns on conversations whose times are all old race with
		// sweeps. Each conversation must end either gone entirely or
		// whole: its state, index keys, transcript and log in step.
		opts := defaultTurnLogOptions
		opts.maxAge = 5 * time.Millisecond
		db := mustOpenWith(t, filepath.Join(t.TempDir(), "flowbot.db"), opts)
		const n = 20
		convs := saveConversations(t, db, n, 1)
		done := make(chan struct{})
		acked := make([]int, n)
		go func() {
			defer close(done)
			for round := 0; round < 30; round++ {
				for i, c := range convs {
					turn := nextTurn(c)
					turn.MustExist = true
					err := db.SaveTurn(ctx, turn)
					switch flow.ErrorCode(err) {
					case "":
						acked[i] = c.Turns
					case flow.ENOTFOUND:
						c.Turns--
					default:
						t.Error(err)
						return
					}
				}
			}
		}()
		swept := 0
		for {
			select {
			case <-done:
			default:
				k, err := db.DeleteConversationsBefore(ctx, convEpoch.Add(24*time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				swept += k
				continue
			}
			break
		}
		t.Logf("swept %d of %d conversations while turns ran", swept, n)
		for i, c := range convs {
			got, err := db.Conversation(ctx, c.ID)
			if flow.ErrorCode(err) == flow.ENOTFOUND {
				for _, err := range []error{
					func() error { _, err := db.Transcript(ctx, c.ID); return err }(),
					func() error { _, err := db.ConversationByTokenHash(ctx, c.TokenHash); return err }(),
				} {
					wantCode(t, err, flow.ENOTFOUND, "")
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Turns != acked[i] {
				t.Errorf("%s at turn %d, acknowledged %d", c.ID, got.Turns, acked[i])
			}
			if tr := mustTranscript(t, db, c.ID); len(tr) != 2*got.Turns {
				t.Errorf("%s at turn %d has %d transcript entries: a sweep removed part of it", c.ID, got.Turns, len(tr))
			}
		}
		if err := db.turns.checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		mustCheck(t, db)
	})
}

func TestOpenWith(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flowbot.db")
	if _, err := OpenWith(path, Options{CommitDelay: -time.Millisecond}); err == nil || !strings.Contains(err.Error(), "commit delay") {
		t.Fatalf("negative commit delay: err = %v", err)
	}
	db, err := OpenWith(path, Options{CommitDelay: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.turns.limits.minSyncInterval != 0 {
		t.Fatalf("commit delay %s, want 0", db.turns.limits.minSyncInterval)
	}
	if DefaultOptions().CommitDelay != time.Millisecond {
		t.Fatalf("default commit delay %s, want 1ms", DefaultOptions().CommitDelay)
	}
}

func TestTurnLogFaults(t *testing.T) {
	ctx := context.Background()

	t.Run("FullQueueDoesNotDeadlock", func(t *testing.T) {
		// More savers than the queue holds wait while the committer is
		// busy; none of them may hold a lock the committer or readers
		// need.
		db := mustOpen(t)
		release := blockCommitter(t, db)
		const savers = maxBatch + 50
		errs := make(chan error, savers)
		for g := range savers {
			go func() {
				errs <- db.SaveTurn(ctx, nextTurn(sampleConversation(fmt.Sprint("q", g), "", convEpoch)))
			}()
		}
		waitQueued(t, db, maxBatch)
		read := make(chan error, 1)
		go func() { _, err := db.Conversation(ctx, "nope"); read <- err }()
		select {
		case err := <-read:
			wantCode(t, err, flow.ENOTFOUND, "")
		case <-time.After(10 * time.Second):
			t.Fatal("a read hangs while the turn queue is full")
		}
		release()
		for range savers {
			select {
			case err := <-errs:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("turns hang after the committer was released")
			}
		}
	})

	t.Run("FailingCheckpointLosesNothing", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "flowbot.db")
		db := mustOpenWith(t, path, noCheckpoints)
		// The checkpoint holding a's turn (LSN 1) fails, every time; later
		// ones would succeed. Committing a later one would record LSN 2 as
		// stored and lose a's turn.
		boom := errors.New("disk says no")
		fault := func(lastLSN uint64) error {
			if lastLSN == 1 {
				return boom
			}
			return nil
		}
		db.turns.checkpointFault.Store(&fault)
		a := saveConversations(t, db, 1, 1)[0]
		waited := make(chan error, 1)
		go func() { waited <- db.turns.checkpoint(ctx) }() // fails, retried every second
		deadline := time.Now().Add(10 * time.Second)
		for db.Ping(ctx) == nil {
			if time.Now().After(deadline) {
				t.Fatal("Ping still passes while checkpoints fail")
			}
			time.Sleep(5 * time.Millisecond)
		}
		// A turn after the failed freeze sits in the active overlay.
		b := sampleConversation("b", "hash-b", convEpoch)
		mustSaveTurn(t, db, nextTurn(b))
		wantConversation(t, db, a, 1)
		wantConversation(t, db, b, 1)
		if err := db.Close(); err == nil || !errors.Is(err, boom) {
			t.Fatalf("Close = %v, want the checkpoint's error", err)
		}
		if err := <-waited; err == nil {
			t.Fatal("a Checkpoint call waiting on the failed checkpoint got no error")
		}
		// Nothing acknowledged is lost: the journal still has both turns.
		re := mustOpenPath(t, path)
		wantConversation(t, re, a, 1)
		wantConversation(t, re, b, 1)
		mustCheck(t, re)
	})

	t.Run("RefusesTurnsWhenCheckpointsFallBehind", func(t *testing.T) {
		opts := noCheckpoints
		opts.maxBytes = 4 << 10 // turns may wait in memory up to 16 × 4 KiB
		opts.maxAge = 10 * time.Millisecond
		db := mustOpenWith(t, filepath.Join(t.TempDir(), "flowbot.db"), opts)
		fault := func(uint64) error { return errors.New("disk says no") }
		db.turns.checkpointFault.Store(&fault)
		var err error
		for i := 0; i < 1000 && err == nil; i++ {
			err = db.SaveTurn(ctx, nextTurn(sampleConversation(fmt.Sprint("c", i), "", convEpoch)))
		}
		if err == nil || !strings.Contains(err.Error(), "refusing new turns") {
			t.Fatalf("1000 turns with failing checkpoints: err = %v, want a refusal", err)
		}
		db.turns.checkpointFault.Store(nil)
		deadline := time.Now().Add(10 * time.Second)
		for db.SaveTurn(ctx, nextTurn(sampleConversation("after", "", convEpoch))) != nil {
			if time.Now().After(deadline) {
				t.Fatal("turns still refused after checkpoints recovered")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	t.Run("OversizedTurnIsRefusedAlone", func(t *testing.T) {
		db := mustOpen(t)
		c := sampleConversation("big", "", convEpoch)
		turn := nextTurn(c)
		turn.Transcript[0].Text = strings.Repeat("x", maxTurnSize)
		wantCode(t, db.SaveTurn(ctx, turn), flow.EINVALID, "over the")
		mustSaveTurn(t, db, nextTurn(sampleConversation("small", "", convEpoch)))

		// The edge: a turn of exactly maxTurnSize stored bytes is stored,
		// one byte more is refused.
		edge := nextTurn(sampleConversation("edge", "", convEpoch))
		edge.Transcript[0].Text = ""
		p, err := db.prepareTurn(edge)
		if err != nil {
			t.Fatal(err)
		}
		text := maxTurnSize - p.size() // too long by the growth of the entry's length prefix
		for {
			edge.Transcript[0].Text = strings.Repeat("x", text)
			if p, err = db.prepareTurn(edge); err == nil {
				break
			}
			text--
		}
		if p.size() != maxTurnSize {
			t.Fatalf("edge turn is %d bytes, want %d", p.size(), maxTurnSize)
		}
		edge.Transcript[0].Text += "x"
		wantCode(t, db.SaveTurn(ctx, edge), flow.EINVALID, "over the")
		edge.Transcript[0].Text = edge.Transcript[0].Text[1:]
		mustSaveTurn(t, db, edge)
		if tr := mustTranscript(t, db, "edge"); len(tr[0].Text) < maxTurnSize-1<<10 {
			t.Fatalf("edge turn read back with %d bytes of text", len(tr[0].Text))
		}
		if err := db.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("GapInTheJournalStopsOpen", func(t *testing.T) {
		opts := noCheckpoints
		opts.segmentSize = 4 << 10
		db := mustOpenWith(t, filepath.Join(t.TempDir(), "flowbot.db"), opts)
		saveConversations(t, db, 4, 10) // many segments
		img := crashImage(t, db)
		// Damage a record in the middle of the first segment: the
		// records after it, in later segments, were acknowledged.
		seg := filepath.Join(journalDir(img), segmentName(0))
		b, err := os.ReadFile(seg)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(seg, b, 0o600); err != nil {
			t.Fatal(err)
		}
		before, _ := filepath.Glob(filepath.Join(journalDir(img), "*.wal"))
		if _, err := Open(img); err == nil || !strings.Contains(err.Error(), "missing or damaged") {
			t.Fatalf("Open with a damaged journal: err = %v", err)
		}
		after, _ := filepath.Glob(filepath.Join(journalDir(img), "*.wal"))
		if len(after) != len(before) {
			t.Fatalf("journal files %d → %d: the evidence was touched", len(before), len(after))
		}
	})
}

// TestJournalNonce writes a segment, then reuses it from the same LSN (as
// after a torn tail) with a record of the same size: the earlier use's
// next records then sit exactly where the reader looks, with the LSNs it
// expects. Only the nonce tells them apart.
func TestJournalNonce(t *testing.T) {
	dir := t.TempDir()
	rec := func(s string) []byte { return []byte(fmt.Sprintf("%-40s", s)) }
	j, err := openJournal(dir, 5, nil, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.append([][]byte{rec("first use 5"), rec("first use 6"), rec("first use 7")}); err != nil {
		t.Fatal(err)
	}
	if err := j.close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.wal"))
	j, err = openJournal(dir, 5, files, 1<<20) // reuses the file from LSN 5
	if err != nil {
		t.Fatal(err)
	}
	defer j.close()
	if _, err := j.append([][]byte{rec("second use 5")}); err != nil {
		t.Fatal(err)
	}
	var got []string
	next, _, err := replayJournal(dir, 4, func(lsn uint64, p []byte) error {
		got = append(got, strings.TrimSpace(string(p)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[second use 5]" || next != 6 {
		t.Fatalf("replay = %q, next %d; want only the second use's record 5", got, next)
	}
}

// TestTurnWaitsForSync checks the order that makes a turn durable: the
// journal write is synced before SaveTurn returns and before any read
// sees the turn; a failed sync fails the turn. (The crash tests kill the
// process, which keeps the page cache, so they cannot tell.)
func TestTurnWaitsForSync(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	entered, release := make(chan struct{}), make(chan error)
	var once sync.Once
	db.turns.j.sync = func(f *os.File) error {
		once.Do(func() { close(entered) })
		if err := <-release; err != nil {
			return err
		}
		return fdatasync(f)
	}
	c := sampleConversation("c1", "hash-1", convEpoch)
	saved := make(chan error, 1)
	go func() { saved <- db.SaveTurn(ctx, nextTurn(c)) }()
	<-entered
	select {
	case err := <-saved:
		t.Fatalf("SaveTurn returned (%v) while its journal sync was still running", err)
	case <-time.After(50 * time.Millisecond):
	}
	if _, err := db.Conversation(ctx, "c1"); flow.ErrorCode(err) != flow.ENOTFOUND {
		t.Fatalf("a read saw the turn before its sync: %v", err)
	}
	release <- nil
	if err := <-saved; err != nil {
		t.Fatal(err)
	}
	wantConversation(t, db, c, 1)

	// A failed sync fails the turn, and the journal takes no more.
	go func() { saved <- db.SaveTurn(ctx, nextTurn(c)) }()
	release <- errors.New("EIO")
	if err := <-saved; err == nil || !strings.Contains(err.Error(), "EIO") {
		t.Fatalf("turn with a failed sync: err = %v", err)
	}
	wantConversation(t, db, c, 1)
	if err := db.Ping(ctx); err == nil {
		t.Fatal("Ping passes after a failed journal sync")
	}
}
