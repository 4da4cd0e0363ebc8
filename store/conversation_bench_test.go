package store

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/flowbot/flowbot/flow"
	bolt "go.etcd.io/bbolt"
)

// benchConcurrency are the numbers of goroutines saving turns at once.
var benchConcurrency = []int{1, 16, 64, 256}

// BenchmarkSaveTurn measures SaveTurn through the journal with 1 to 256
// goroutines, each on its own conversation, saving a small turn (state,
// two transcript lines, one log entry). It reports turns/s, turns/commit
// (how many turns shared one journal write and fdatasync) and the
// process's CPU per turn.
func BenchmarkSaveTurn(b *testing.B) {
	for _, n := range benchConcurrency {
		b.Run(fmt.Sprint("conc=", n), func(b *testing.B) {
			db := mustOpen(b)
			benchSaveTurn(b, db, n, db.SaveTurn, func() uint64 {
				syncs, _ := journalStats(db)
				return syncs
			})
		})
	}
}

// BenchmarkSaveTurnBoltBatch does the same writes straight into bbolt
// through its DB.Batch, which waits up to MaxBatchDelay (10ms) to collect a
// batch and then commits with two fdatasyncs and a write per dirty page,
// for comparison with the journal.
func BenchmarkSaveTurnBoltBatch(b *testing.B) {
	for _, n := range benchConcurrency {
		b.Run(fmt.Sprint("conc=", n), func(b *testing.B) {
			db := mustOpen(b)
			// Batch runs a batch's functions one after the other in one
			// transaction; a new write transaction id means a new commit.
			var mu sync.Mutex
			var lastTx int
			var commits uint64
			save := func(ctx context.Context, t *flow.TurnRecord) error {
				p, err := db.prepareTurn(t)
				if err != nil {
					return err
				}
				return db.db.Batch(func(tx *bolt.Tx) error {
					mu.Lock()
					if id := tx.ID(); id != lastTx {
						lastTx = id
						commits++
					}
					mu.Unlock()
					return applyState(tx, p.id, p.state, p.turn)
				})
			}
			benchSaveTurn(b, db, n, save, func() uint64 {
				mu.Lock()
				defer mu.Unlock()
				return commits
			})
		})
	}
}

// processCPU returns the user and system CPU time this process has used,
// the fdatasync work in the kernel included.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchSaveTurn(b *testing.B, db *DB, conc int, save func(context.Context, *flow.TurnRecord) error, commits func() uint64) {
	ctx := context.Background()
	convs := make([]*flow.Conversation, conc)
	for g := range convs {
		convs[g] = sampleConversation(fmt.Sprint("bench-", g), fmt.Sprint("hash-", g), convEpoch)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start, before, cpu0 := time.Now(), commits(), processCPU()
	for g := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := convs[g]
			for next.Add(1) <= int64(b.N) {
				c.UpdatedAt = c.UpdatedAt.Add(time.Second)
				if err := save(ctx, nextTurn(c)); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed, n, cpu := time.Since(start), commits()-before, processCPU()-cpu0
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "turns/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/turn")
	if n > 0 {
		b.ReportMetric(float64(b.N)/float64(n), "turns/commit")
	}
}
