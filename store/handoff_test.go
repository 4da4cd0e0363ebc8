package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flowbot/flowbot/flow"
	bolt "go.etcd.io/bbolt"
)

func TestHandoffOutbox(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir() + "/flowbot.db"
	db := mustOpenPath(t, path)
	made := time.Date(2026, 11, 24, 2, 0, 0, 0, time.FixedZone("CET", 3600))
	conv := mustSaveConversation(t, db)
	for _, id := range []string{"b", "a", "c"} {
		if err := db.PutHandoff(ctx, id, conv, made, []byte(`{"id":"`+id+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, db.PutHandoff(ctx, "a", conv, made, []byte("{}")), flow.ECONFLICT, "")
	wantCode(t, db.PutHandoff(ctx, "", conv, made, []byte("{}")), flow.EINVALID, "")
	wantCode(t, db.PutHandoff(ctx, "d", "no-such-conversation", made, []byte("{}")), flow.ENOTFOUND, "")
	if err := db.DeleteHandoff(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteHandoff(ctx, "c"); err != nil {
		t.Fatalf("deleting twice: %v", err)
	}

	// On disk: a reopened store has them, in id order, with their time.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = mustOpenPath(t, path)
	var got []string
	err := db.Handoffs(ctx, func(id, _ string, m time.Time, body []byte) bool {
		if !m.Equal(made) || string(body) != `{"id":"`+id+`"}` {
			t.Errorf("%s: made %v, body %s", id, m, body)
		}
		got = append(got, id)
		return true
	})
	if err != nil || strings.Join(got, ",") != "a,b" {
		t.Fatalf("outbox = %v, %v; want a,b", got, err)
	}
	// fn returning false stops the walk.
	got = nil
	db.Handoffs(ctx, func(id, _ string, _ time.Time, _ []byte) bool { got = append(got, id); return false })
	if len(got) != 1 {
		t.Fatalf("walk did not stop: %v", got)
	}
	// An unreadable record is skipped and reported; the others still come.
	if err := db.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketHandoffs).Put([]byte("0bad"), []byte("not json")) }); err != nil {
		t.Fatal(err)
	}
	got = nil
	err = db.Handoffs(ctx, func(id, _ string, _ time.Time, _ []byte) bool { got = append(got, id); return true })
	if err == nil || !strings.Contains(err.Error(), "0bad") || strings.Join(got, ",") != "a,b" {
		t.Fatalf("with a bad record: %v, %v", got, err)
	}
}

// mustSaveConversation stores a conversation with one turn (in the
// journal; a checkpoint moves it later) and returns its id.
func mustSaveConversation(t *testing.T, db *DB) string {
	t.Helper()
	return mustSaveConversationN(t, db, "1")
}

// mustSaveConversationN is mustSaveConversation for the conversation
// numbered n (its id and token end in n).
func mustSaveConversationN(t *testing.T, db *DB, n string) string {
	t.Helper()
	id := "0190a6b6-0000-7000-8000-0000000000c" + n
	mustSaveTurn(t, db, nextTurn(sampleConversation(id, "tok-c"+n, convEpoch)))
	return id
}

// mustPutHandoffs stores an empty notice for each {id, conversation}.
func mustPutHandoffs(t *testing.T, db *DB, notices ...[2]string) {
	t.Helper()
	for _, n := range notices {
		if err := db.PutHandoff(context.Background(), n[0], n[1], time.Now(), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
}

// handoffIndexKeys is how many entries the notices-by-conversation index
// holds (notices in the outbox and marks of delivered ones).
func handoffIndexKeys(db *DB) int {
	n := 0
	db.db.View(func(tx *bolt.Tx) error { n = tx.Bucket(bucketHandoffsByConv).Stats().KeyN; return nil })
	return n
}

// TestHandoffErasure: erasing a conversation removes its notices through
// the index, and leaves the others; a notice about an erased conversation
// is refused.
func TestHandoffErasure(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	gone, kept := mustSaveConversation(t, db), mustSaveConversationN(t, db, "2")
	mustPutHandoffs(t, db, [2]string{"n1", gone}, [2]string{"n2", kept}, [2]string{"n3", gone})
	if err := db.DeleteConversation(ctx, gone); err != nil {
		t.Fatal(err)
	}
	if ids := outboxIDsOf(t, db); strings.Join(ids, ",") != "n2" {
		t.Fatalf("outbox after the erasure: %v", ids)
	}
	wantCode(t, db.PutHandoff(ctx, "n4", gone, time.Now(), []byte(`{}`)), flow.ENOTFOUND, "")
	// A delivered notice leaves the outbox; its conversation keeps the
	// mark that it had one, until the conversation expires.
	if err := db.DeleteHandoff(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	wantMade := func(conv string, want bool) {
		t.Helper()
		if made, err := db.HandoffMade(ctx, conv); err != nil || made != want {
			t.Fatalf("HandoffMade(%s) = %v, %v; want %v", conv, made, err, want)
		}
	}
	wantMade(kept, true)
	wantMade(gone, false)
	if ids := outboxIDsOf(t, db); len(ids) != 0 {
		t.Fatalf("outbox after delivery: %v", ids)
	}
	if n, err := db.DeleteConversationsBefore(ctx, convEpoch.Add(24*time.Hour)); err != nil || n != 1 {
		t.Fatalf("retention removed %d, %v; want 1", n, err)
	}
	wantMade(kept, false)
	if n := handoffIndexKeys(db); n != 0 {
		t.Fatalf("%d index entries left after retention", n)
	}
}

// TestHandoffMade: a conversation had a notice from the moment it is
// stored, through delivery, until the conversation is erased.
func TestHandoffMade(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	conv, other := mustSaveConversation(t, db), mustSaveConversationN(t, db, "3")
	check := func(when string, want bool) {
		t.Helper()
		if made, err := db.HandoffMade(ctx, conv); err != nil || made != want {
			t.Fatalf("%s: HandoffMade = %v, %v; want %v", when, made, err, want)
		}
	}
	check("no notice yet", false)
	// Another conversation's notice is not this one's.
	mustPutHandoffs(t, db, [2]string{"n0", other})
	check("a notice about another conversation", false)
	mustPutHandoffs(t, db, [2]string{"n1", conv})
	check("in the outbox", true)
	if err := db.DeleteHandoff(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	check("delivered", true)
	if err := db.DeleteConversation(ctx, conv); err != nil {
		t.Fatal(err)
	}
	check("erased", false)
}

func outboxIDsOf(t *testing.T, db *DB) []string {
	t.Helper()
	var ids []string
	if err := db.Handoffs(context.Background(), func(id, _ string, _ time.Time, _ []byte) bool { ids = append(ids, id); return true }); err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestHandoffRetention: retention removes an expired conversation's marks
// of delivered notices, and leaves a pending notice to be delivered or
// given up; once it is, no mark is left for the conversation gone.
func TestHandoffRetention(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	sent, pending := mustSaveConversation(t, db), mustSaveConversationN(t, db, "4")
	mustPutHandoffs(t, db, [2]string{"n1", sent}, [2]string{"n2", pending})
	if err := db.DeleteHandoff(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if n, err := db.DeleteConversationsBefore(ctx, convEpoch.Add(24*time.Hour)); err != nil || n != 2 {
		t.Fatalf("retention removed %d, %v; want 2", n, err)
	}
	if ids := outboxIDsOf(t, db); strings.Join(ids, ",") != "n2" {
		t.Fatalf("outbox after retention: %v; want the pending n2", ids)
	}
	if n := handoffIndexKeys(db); n != 1 {
		t.Fatalf("%d index entries after retention; want the pending notice's", n)
	}
	if err := db.DeleteHandoff(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	if n := handoffIndexKeys(db); n != 0 {
		t.Fatalf("%d index entries after the last delivery", n)
	}
}

// TestTransferredBetween: transferred conversations of every bot, last
// updated at or after from and before to, oldest first; others, and
// those outside the bounds, are left out. A turn still in the journal
// counts, and the token hash is not returned.
func TestTransferredBetween(t *testing.T) {
	db := mustOpen(t)
	ctx := context.Background()
	save := func(n string, status string, at time.Time, bot string) string {
		t.Helper()
		c := sampleConversation("0190a6b6-0000-7000-8000-0000000000d"+n, "tok-d"+n, at)
		c.Status = status
		if bot != "" {
			c.BotID = bot
		}
		mustSaveTurn(t, db, nextTurn(c))
		return c.ID
	}
	from, to := convEpoch, convEpoch.Add(time.Hour)
	atFrom := save("1", flow.StatusTransferred, from, "")
	save("2", flow.StatusTransferred, from.Add(-time.Nanosecond), "")
	save("3", flow.StatusTransferred, to, "")
	lastIn := save("4", flow.StatusTransferred, to.Add(-time.Nanosecond), "0190a6b6-0000-7000-8000-000000000002")
	save("5", flow.StatusActive, from.Add(time.Minute), "")
	save("6", flow.StatusEnded, from.Add(time.Minute), "")
	if err := db.turns.checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	middle := save("7", flow.StatusTransferred, from.Add(time.Minute), "") // still in the journal

	got, err := db.TransferredBetween(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range got {
		ids = append(ids, c.ID)
		if c.TokenHash != nil || c.Status != flow.StatusTransferred {
			t.Errorf("%s: token hash %q, status %s", c.ID, c.TokenHash, c.Status)
		}
	}
	if want := []string{atFrom, middle, lastIn}; fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", ids, want)
	}
}

// TestHandoffsSince: the first call records its time; later calls return it.
func TestHandoffsSince(t *testing.T) {
	db := mustOpen(t)
	ctx := context.Background()
	first, err := db.HandoffsSince(ctx, convEpoch)
	if err != nil || !first.Equal(convEpoch) {
		t.Fatalf("first call: %v, %v", first, err)
	}
	again, err := db.HandoffsSince(ctx, convEpoch.Add(time.Hour))
	if err != nil || !again.Equal(convEpoch) {
		t.Fatalf("second call: %v, %v; want %v", again, err, convEpoch)
	}
}

// TestForgetHandoffsSince: forgotten, the time is recorded anew.
func TestForgetHandoffsSince(t *testing.T) {
	db := mustOpen(t)
	ctx := context.Background()
	if _, err := db.HandoffsSince(ctx, convEpoch); err != nil {
		t.Fatal(err)
	}
	if err := db.ForgetHandoffsSince(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := db.HandoffsKeptSince(ctx); err != nil || !got.IsZero() {
		t.Fatalf("kept since %v, %v after forgetting", got, err)
	}
	if got, err := db.HandoffsSince(ctx, convEpoch.Add(time.Hour)); err != nil || !got.Equal(convEpoch.Add(time.Hour)) {
		t.Fatalf("recorded anew: %v, %v", got, err)
	}
	if err := db.ForgetHandoffsSince(ctx); err != nil { // twice: nothing to forget
		t.Fatal(err)
	}
}

// TestMarkHandoffDone: a notice sent without being stored still marks its
// conversation as having had one; nothing is marked for a conversation
// that is gone.
func TestMarkHandoffDone(t *testing.T) {
	db := mustOpen(t)
	ctx := context.Background()
	conv := mustSaveConversationN(t, db, "1")
	if made, _ := db.HandoffMade(ctx, conv); made {
		t.Fatal("made before the mark")
	}
	if err := db.MarkHandoffDone(ctx, "n1", conv); err != nil {
		t.Fatal(err)
	}
	if made, err := db.HandoffMade(ctx, conv); err != nil || !made {
		t.Fatalf("HandoffMade = %v, %v after the mark", made, err)
	}
	if err := db.MarkHandoffDone(ctx, "n2", "0190a6b6-0000-7000-8000-00000000dead"); err != nil {
		t.Fatal(err)
	}
	if made, _ := db.HandoffMade(ctx, "0190a6b6-0000-7000-8000-00000000dead"); made {
		t.Error("a mark for a conversation that is not stored")
	}
}

// TestTransferredBetweenSkipsUnreadable: one unreadable record does not
// hide the others; the error names it.
func TestTransferredBetweenSkipsUnreadable(t *testing.T) {
	db := mustOpen(t)
	ctx := context.Background()
	c := sampleConversation("0190a6b6-0000-7000-8000-0000000000e1", "tok-e1", convEpoch.Add(time.Minute))
	c.Status = flow.StatusTransferred
	mustSaveTurn(t, db, nextTurn(c))
	const badID = "0190a6b6-0000-7000-8000-0000000000e0"
	if err := db.turns.checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketConversations).Put([]byte(badID), []byte("not a record")); err != nil {
			return err
		}
		return tx.Bucket(bucketConversationsByUpdated).Put(updatedKey(uint64(convEpoch.UnixNano()), []byte(badID)), []byte{})
	}); err != nil {
		t.Fatal(err)
	}
	got, err := db.TransferredBetween(ctx, convEpoch, convEpoch.Add(time.Hour))
	if err == nil || !strings.Contains(err.Error(), badID) {
		t.Errorf("error %v; want one naming %s", err, badID)
	}
	if len(got) != 1 || got[0].ID != c.ID {
		t.Errorf("got %v; want %s alone", got, c.ID)
	}
}
