package store

import (
	"context"
	"fmt"
	"testing"

	"github.com/flowbot/flowbot/flow"
)

// BenchmarkSaveDraft measures one draft save: a read-modify-write
// transaction and its fsync.
func BenchmarkSaveDraft(b *testing.B) {
	ctx := context.Background()
	db := mustOpen(b)
	bot := mustCreateBot(b, db, "bench", sampleFlow("shop_api"))
	// Two flows in turn: saving the stored flow again writes nothing.
	flows := []flow.Flow{sampleFlow("other"), sampleFlow("shop_api")}
	rev := bot.Revision
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		saved, err := db.SaveDraft(ctx, bot.ID, flows[i%2], rev)
		if err != nil {
			b.Fatal(err)
		}
		rev = saved.Revision
	}
}

// BenchmarkCreateBotParallel measures bot creation from many goroutines.
// bbolt runs one write transaction at a time, so this shows how fsync
// bounds write throughput.
func BenchmarkCreateBotParallel(b *testing.B) {
	ctx := context.Background()
	db := mustOpen(b)
	f := sampleFlow("shop_api")
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := db.CreateBot(ctx, &flow.Bot{Name: "bench", Flow: f}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkBotsList lists a page of 20 bots whose drafts have 2,000 steps
// each: the list reads their summaries, not their flows.
func BenchmarkBotsList(b *testing.B) {
	ctx := context.Background()
	db := mustOpen(b)
	f := flow.Flow{Start: "s0"}
	for i := range 2000 {
		f.Steps = append(f.Steps, flow.Step{ID: fmt.Sprint("s", i), Type: flow.TypeMessage, Text: "Hello there, this is step " + fmt.Sprint(i), Next: fmt.Sprint("s", i+1)})
	}
	for i := range 20 {
		mustCreateBot(b, db, fmt.Sprint("bot ", i), f)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		bots, _, err := db.Bots(ctx, flow.Page{Limit: 20})
		if err != nil || len(bots) != 20 || bots[0].Steps != 2000 {
			b.Fatalf("%d bots, err %v", len(bots), err)
		}
	}
}
