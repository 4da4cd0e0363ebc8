package store

import (
	"context"
	"testing"
	"time"

	"github.com/flowbot/flowbot/flow"
)

func TestSaveTurn_MustExistRefusesToRecreateASweptConversation(t *testing.T) {
	db := mustOpen(t)
	ctx := context.Background()
	old := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := &flow.Conversation{ID: "c-swept", BotID: "b", Version: 1, Status: flow.StatusActive, CreatedAt: old, UpdatedAt: old}
	if err := db.SaveTurn(ctx, &flow.TurnRecord{Conversation: c}); err != nil {
		t.Fatal(err)
	}
	if n, err := db.DeleteConversationsBefore(ctx, old.Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("swept %d, %v", n, err)
	}
	c.UpdatedAt = old.Add(2 * time.Hour)
	err := db.SaveTurn(ctx, &flow.TurnRecord{Conversation: c, MustExist: true})
	if flow.ErrorCode(err) != flow.ENOTFOUND {
		t.Fatalf("err = %v", err)
	}
	if _, err := db.Conversation(ctx, "c-swept"); flow.ErrorCode(err) != flow.ENOTFOUND {
		t.Fatalf("conversation re-created: %v", err)
	}
	// A continuing turn of a stored conversation is fine.
	c2 := &flow.Conversation{ID: "c-live", BotID: "b", Version: 1, Status: flow.StatusActive}
	if err := db.SaveTurn(ctx, &flow.TurnRecord{Conversation: c2}); err != nil {
		t.Fatal(err)
	}
	if err := db.SaveTurn(ctx, &flow.TurnRecord{Conversation: c2, MustExist: true}); err != nil {
		t.Fatal(err)
	}
}

func TestConversationIDByTokenHash(t *testing.T) {
	db := mustOpen(t)
	ctx := context.Background()
	c := &flow.Conversation{ID: "c-tok", BotID: "b", Version: 1, Status: flow.StatusActive, TokenHash: []byte("hash-1")}
	if err := db.SaveTurn(ctx, &flow.TurnRecord{Conversation: c}); err != nil {
		t.Fatal(err)
	}
	if id, err := db.ConversationIDByTokenHash(ctx, []byte("hash-1")); err != nil || id != "c-tok" {
		t.Fatalf("%q %v", id, err)
	}
	for _, h := range [][]byte{nil, []byte("other")} {
		if _, err := db.ConversationIDByTokenHash(ctx, h); flow.ErrorCode(err) != flow.ENOTFOUND {
			t.Fatalf("%q: %v", h, err)
		}
	}
}
