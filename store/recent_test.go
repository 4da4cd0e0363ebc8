package store

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/flowbot/flowbot/flow"
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
		page, next, err := db.RecentConversations(t.Context(), botA, cursor, 7)
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
	all, next, err := db.RecentConversations(t.Context(), botB, "", 8)
	if err != nil || len(all) != 8 || all[0].ID != "c23" {
		t.Fatalf("bot b: %v %v %v", ids(all), next, err)
	}
	if next != "" {
		rest, _, err := db.RecentConversations(t.Context(), botB, next, 8)
		if err != nil || len(rest) != 0 {
			t.Fatalf("after the last of bot b: %v %v", ids(rest), err)
		}
	}
	if none, next, err := db.RecentConversations(t.Context(), "no-such-bot", "", 10); err != nil || len(none) != 0 || next != "" {
		t.Fatalf("unknown bot: %v %q %v", ids(none), next, err)
	}
	// With a scan cap of 5, a call may come back short but with a cursor,
	// and following the cursors still gives every conversation.
	defer func(n int) { maxRecentScan = n }(maxRecentScan)
	maxRecentScan = 5
	got, cursor = nil, ""
	short := false
	for calls := 0; ; calls++ {
		page, next, err := db.RecentConversations(t.Context(), botA, cursor, 100)
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
	if _, _, err := db.RecentConversations(t.Context(), botA, "zz", 10); flow.ErrorCode(err) != flow.EINVALID {
		t.Fatalf("bad cursor: %v", err)
	}
}
