package store

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/flowbot/flowbot/flow"
	bolt "go.etcd.io/bbolt"
)

// RecentConversations pages through one bot's conversations, newest
// first, skipping other bots', and sees turns still only in the journal.
func TestRecentConversations(t *testing.T) {
	db := mustOpenWith(t, filepath.Join(t.TempDir(), "flowbot.db"), noCheckpoints)
	const botA, botB = "bot-a", "bot-b"
	var wantA []string // newest first
	for i := range 25 {
		bot := botA
		if i%3 == 2 {
			bot = botB
		}
		c := sampleConversation(fmt.Sprintf("c%02d", i), fmt.Sprintf("tok-%02d", i), convEpoch.Add(time.Duration(i)*time.Minute))
		c.BotID = bot
		mustSaveTurn(t, db, nextTurn(c))
		if bot == botA {
			wantA = append([]string{c.ID}, wantA...)
		}
	}
	ids := func(cs []*flow.Conversation) []string {
		var out []string
		for _, c := range cs {
			if c.TokenHash != nil {
				t.Fatalf("%s: the token hash was returned", c.ID)
			}
			out = append(out, c.ID)
		}
		return out
	}

	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		page, next, err := db.RecentConversations(t.Context(), botA, flow.ConversationFilter{}, cursor, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 7 || pages > 5 {
			t.Fatalf("page of %d, %d pages", len(page), pages)
		}
		got = append(got, ids(page)...)
		if next == "" {
			break
		}
		cursor = next
	}
	if !slices.Equal(got, wantA) {
		t.Fatalf("pages gave %v; want %v", got, wantA)
	}

	// An exact page: no next cursor is left dangling on an empty page.
	all, next, err := db.RecentConversations(t.Context(), botB, flow.ConversationFilter{}, "", 8)
	if err != nil || len(all) != 8 || all[0].ID != "c23" {
		t.Fatalf("bot b: %v %v %v", ids(all), next, err)
	}
	if next != "" {
		rest, _, err := db.RecentConversations(t.Context(), botB, flow.ConversationFilter{}, next, 8)
		if err != nil || len(rest) != 0 {
			t.Fatalf("after the last of bot b: %v %v", ids(rest), err)
		}
	}
	if none, next, err := db.RecentConversations(t.Context(), "no-such-bot", flow.ConversationFilter{}, "", 10); err != nil || len(none) != 0 || next != "" {
		t.Fatalf("unknown bot: %v %q %v", ids(none), next, err)
	}
	// With a scan cap of 5, a call may come back short but with a cursor,
	// and following the cursors still gives every conversation.
	defer func(n int) { maxRecentScan = n }(maxRecentScan)
	maxRecentScan = 5
	got, cursor = nil, ""
	short := false
	for calls := 0; ; calls++ {
		page, next, err := db.RecentConversations(t.Context(), botA, flow.ConversationFilter{}, cursor, 100)
		if err != nil || calls > 10 {
			t.Fatalf("call %d: %v", calls, err)
		}
		short = short || (len(page) < 100 && next != "")
		got = append(got, ids(page)...)
		if next == "" {
			break
		}
		cursor = next
	}
	if !short || !slices.Equal(got, wantA) {
		t.Fatalf("capped scans gave %v (short page seen: %v); want %v", got, short, wantA)
	}
	if _, _, err := db.RecentConversations(t.Context(), botA, flow.ConversationFilter{}, "zz", 10); flow.ErrorCode(err) != flow.EINVALID {
		t.Fatalf("bad cursor: %v", err)
	}
}

// DeleteConversation erases one conversation, journaled turns included,
// and nothing else; a conversation whose turn is in flight is not taken.
func TestDeleteConversation(t *testing.T) {
	db := mustOpenWith(t, filepath.Join(t.TempDir(), "flowbot.db"), noCheckpoints)
	convs := saveConversations(t, db, 3, 2)
	x, keep := convs[1], convs[0]
	if err := db.DeleteConversation(t.Context(), x.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Conversation(t.Context(), x.ID); flow.ErrorCode(err) != flow.ENOTFOUND {
		t.Fatalf("state after delete: %v", err)
	}
	if _, err := db.ConversationIDByTokenHash(t.Context(), x.TokenHash); flow.ErrorCode(err) != flow.ENOTFOUND {
		t.Fatalf("token after delete: %v", err)
	}
	if _, err := db.Transcript(t.Context(), x.ID); flow.ErrorCode(err) != flow.ENOTFOUND {
		t.Fatalf("transcript after delete: %v", err)
	}
	left := 0
	_ = db.db.View(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketTurns, bucketTranscripts, bucketLogs} {
			c := tx.Bucket(name).Cursor()
			for k, _ := c.Seek(entryPrefix([]byte(x.ID))); k != nil && bytes.HasPrefix(k, entryPrefix([]byte(x.ID))); k, _ = c.Next() {
				left++
			}
		}
		return nil
	})
	if left != 0 {
		t.Fatalf("%d turn, transcript or log keys left", left)
	}
	recent, _, err := db.RecentConversations(t.Context(), x.BotID, flow.ConversationFilter{}, "", 10)
	if err != nil || len(recent) != 2 {
		t.Fatalf("recent after delete: %d, %v", len(recent), err)
	}
	wantConversation(t, db, keep, 2)
	// A later turn for it finds it gone.
	turn := nextTurn(x)
	turn.MustExist = true
	if err := db.SaveTurn(t.Context(), turn); flow.ErrorCode(err) != flow.ENOTFOUND {
		t.Fatalf("turn after delete: %v", err)
	}
	if err := db.DeleteConversation(t.Context(), x.ID); flow.ErrorCode(err) != flow.ENOTFOUND {
		t.Fatalf("second delete: %v", err)
	}

	// A delete that meets a turn of the same conversation in flight
	// leaves the conversation whole or takes it entirely, never half.
	held := nextTurn(keep)
	held.MustExist = true
	release := blockCommitterOn(t, db, held)
	done := make(chan error, 1)
	go func() { done <- db.DeleteConversation(t.Context(), keep.ID) }()
	time.Sleep(20 * time.Millisecond)
	release()
	switch err := <-done; flow.ErrorCode(err) {
	case "": // deleted after the turn was journaled: all of it is gone
		if _, err := db.Conversation(t.Context(), keep.ID); flow.ErrorCode(err) != flow.ENOTFOUND {
			t.Fatalf("deleted, yet the state is there: %v", err)
		}
		if _, err := db.Transcript(t.Context(), keep.ID); flow.ErrorCode(err) != flow.ENOTFOUND {
			t.Fatalf("deleted, yet the transcript is there: %v", err)
		}
	case flow.ECONFLICT:
		wantConversation(t, db, keep, 3)
	default:
		t.Fatalf("delete while a turn is in flight: %v", err)
	}
	wantConversation(t, db, convs[2], 2)
}

// RecentConversations with a status (or a version, or both) returns only
// the bot's conversations in that status, newest first, across pages.
func TestRecentConversationsByStatus(t *testing.T) {
	db := mustOpenPath(t, filepath.Join(t.TempDir(), "flowbot.db"))
	statuses := []string{flow.StatusActive, flow.StatusEnded, flow.StatusTransferred, flow.StatusError}
	want := map[flow.ConversationFilter][]string{} // → ids of bot-a, newest first
	for i := range 24 {
		c := sampleConversation(fmt.Sprintf("c%02d", i), fmt.Sprintf("tok-%02d", i), convEpoch.Add(time.Duration(i)*time.Minute))
		c.Status, c.Version = statuses[i%4], 1+i%5%2
		if i%3 == 0 {
			c.BotID = "bot-b"
		} else {
			c.BotID = "bot-a"
			for _, f := range []flow.ConversationFilter{{Status: c.Status}, {Version: c.Version}, {Status: c.Status, Version: c.Version}} {
				want[f] = append([]string{c.ID}, want[f]...)
			}
		}
		mustSaveTurn(t, db, nextTurn(c))
	}
	for f := range want {
		var got []string
		cursor := ""
		for {
			page, next, err := db.RecentConversations(t.Context(), "bot-a", f, cursor, 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range page {
				got = append(got, c.ID)
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if !slices.Equal(got, want[f]) || len(got) == 0 {
			t.Errorf("%+v: %v, want %v", f, got, want[f])
		}
	}
}

// BenchmarkRecentConversations: one page of a bot whose conversations are
// all older than 20,100 of another bot's, so a call looks at 20,000 and
// returns none (the worst case of a request).
func BenchmarkRecentConversations(b *testing.B) {
	db := mustOpenPath(b, filepath.Join(b.TempDir(), "flowbot.db"))
	for i := range 20100 {
		c := sampleConversation(fmt.Sprintf("c%05d", i), fmt.Sprintf("tok-%05d", i), convEpoch.Add(time.Duration(i)*time.Second))
		c.BotID = "bot-b"
		c.Vars = map[string]string{"order_number": "1234", "order_status": "shipped", "customer_name": "Ann"}
		mustSaveTurn(b, db, nextTurn(c))
	}
	b.ResetTimer()
	for b.Loop() {
		page, next, err := db.RecentConversations(b.Context(), "bot-a", flow.ConversationFilter{}, "", 20)
		if err != nil || len(page) != 0 || next == "" {
			b.Fatal(len(page), next, err)
		}
	}
}
