package flow_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/flowbot/flowbot/flow"
	"github.com/flowbot/flowbot/store"
)

func TestRuntime_SweepRemovesOldConversationsAndStops(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "flowbot.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()
	for id, age := range map[string]time.Duration{"old": 31 * 24 * time.Hour, "young": 29 * 24 * time.Hour} {
		at := now.Add(-age)
		c := &flow.Conversation{ID: id, BotID: "b", Version: 1, Status: flow.StatusActive, CreatedAt: at, UpdatedAt: at}
		if err := db.SaveTurn(ctx, &flow.TurnRecord{Conversation: c}); err != nil {
			t.Fatal(err)
		}
	}
	rt := &flow.Runtime{Bots: db, Store: db, Now: func() time.Time { return now }}
	sctx, cancel := context.WithCancel(ctx)
	swept := make(chan int, 10)
	done := make(chan struct{})
	go func() {
		rt.Sweep(sctx, 30*24*time.Hour, time.Hour, func(err error) { t.Error(err) }, func(n int) { swept <- n })
		close(done)
	}()
	if n := <-swept; n != 1 {
		t.Fatalf("swept %d", n)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("sweeper did not stop")
	}
	if _, err := db.Conversation(ctx, "old"); flow.ErrorCode(err) != flow.ENOTFOUND {
		t.Fatalf("old: %v", err)
	}
	if _, err := db.Conversation(ctx, "young"); err != nil {
		t.Fatalf("young: %v", err)
	}
}
