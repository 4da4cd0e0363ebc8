package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowbot/flowbot/flow"
)

// powerModel keeps what a power cut would leave on disk: each journal
// segment as of its last fdatasync, the database file as of its last
// committed checkpoint. Writes not yet synced exist only in the page
// cache, which the cut loses (or, torn, loses in part).
type powerModel struct {
	mu      sync.Mutex
	durable map[string][]byte // file -> contents at its last sync
	acked   map[string]int    // conversation -> turns SaveTurn acknowledged
	// reused counts segment files synced under a second start LSN.
	starts map[string]map[uint64]bool
}

// powerImage is one simulated power cut: the files as they would come
// back, and the turns acknowledged before it.
type powerImage struct {
	name  string
	files map[string][]byte // path relative to the data folder -> contents
	acked map[string]int
}

func readAll(tb testing.TB, path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Error(err)
	}
	return b
}

// TestPowerLoss runs concurrent turns through a store that checkpoints and
// reuses journal segments often, cuts the power at random moments, and
// opens what the disk would hold: every acknowledged turn must be there,
// each conversation's state must agree with its transcript and log, and
// bbolt must be consistent. Each cut gives two images: unsynced writes
// lost, and unsynced writes torn at a random byte.
func TestPowerLoss(t *testing.T) {
	opts := turnLogOptions{maxTurns: 40, maxBytes: 1 << 20, maxAge: 20 * time.Millisecond,
		segmentSize: 48 << 10, minSyncInterval: 0}
	path := filepath.Join(t.TempDir(), "flowbot.db")
	db, err := openWith(path, defaultLockTimeout, opts)
	if err != nil {
		t.Fatal(err)
	}
	db.Now = newTestClock().Now
	jdir := journalDir(path)

	m := &powerModel{durable: map[string][]byte{path: readAll(t, path)}, acked: map[string]int{}, starts: map[string]map[uint64]bool{}}
	var checkpoints atomic.Int64
	db.turns.j.sync = func(f *os.File) error {
		if err := fdatasync(f); err != nil {
			return err
		}
		b := readAll(t, f.Name())
		m.mu.Lock()
		defer m.mu.Unlock()
		m.durable[f.Name()] = b
		if len(b) >= 12 {
			if m.starts[f.Name()] == nil {
				m.starts[f.Name()] = map[uint64]bool{}
			}
			m.starts[f.Name()][binary.BigEndian.Uint64(b[4:12])] = true
		}
		return nil
	}
	after := func() {
		b := readAll(t, path)
		m.mu.Lock()
		m.durable[path] = b
		m.mu.Unlock()
		checkpoints.Add(1)
	}
	db.turns.checkpointed.Store(&after)

	// cut takes the model's files and the page cache's at one moment.
	cut := func(i int) []powerImage {
		m.mu.Lock()
		defer m.mu.Unlock()
		segs, err := filepath.Glob(filepath.Join(jdir, "*.wal"))
		if err != nil {
			t.Fatal(err)
		}
		lost := powerImage{name: fmt.Sprint("cut", i, "/lost"), files: map[string][]byte{}, acked: map[string]int{}}
		torn := powerImage{name: fmt.Sprint("cut", i, "/torn"), files: map[string][]byte{}, acked: map[string]int{}}
		for id, n := range m.acked {
			lost.acked[id], torn.acked[id] = n, n
		}
		lost.files["flowbot.db"] = m.durable[path]
		torn.files["flowbot.db"] = m.durable[path]
		for _, s := range segs {
			rel := filepath.Join(filepath.Base(jdir), filepath.Base(s))
			d := m.durable[s] // nil: created, never synced
			lost.files[rel] = d
			// Torn: the page cache's bytes up to a random offset reached
			// the disk, the synced bytes after it stayed.
			cur, _ := os.ReadFile(s)
			at := rand.IntN(len(cur) + 1)
			b := append([]byte(nil), cur[:at]...)
			if len(d) > at {
				b = append(b, d[at:]...)
			}
			torn.files[rel] = b
		}
		return []powerImage{lost, torn}
	}

	const workers, perWorker = 8, 3
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			convs := make([]*flow.Conversation, perWorker)
			for i := range convs {
				convs[i] = sampleConversation(fmt.Sprint("w", w, "c", i), fmt.Sprint("hash-", w, "-", i), convEpoch)
			}
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				c := convs[n%perWorker]
				c.UpdatedAt = c.UpdatedAt.Add(time.Second)
				if err := db.SaveTurn(context.Background(), nextTurn(c)); err != nil {
					t.Error(err)
					return
				}
				m.mu.Lock()
				m.acked[c.ID] = c.Turns
				m.mu.Unlock()
			}
		}()
	}
	var images []powerImage
	for i := range 6 {
		time.Sleep(time.Duration(150+rand.IntN(150)) * time.Millisecond)
		images = append(images, cut(i)...)
	}
	close(stop)
	wg.Wait()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// The run must have exercised what a cut can break.
	reused := 0
	for _, s := range m.starts {
		if len(s) > 1 {
			reused++
		}
	}
	total := 0
	for _, n := range images[len(images)-1].acked {
		total += n
	}
	t.Logf("%d turns acknowledged by the last cut, %d checkpoints, %d segment files reused", total, checkpoints.Load(), reused)
	if checkpoints.Load() < 6 || reused == 0 {
		t.Fatalf("%d checkpoints and %d reused segments: the run did not reach the cases it is for", checkpoints.Load(), reused)
	}

	for _, im := range images {
		t.Run(im.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, filepath.Base(jdir)), 0o700); err != nil {
				t.Fatal(err)
			}
			for rel, b := range im.files {
				if err := os.WriteFile(filepath.Join(dir, rel), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got := mustOpenWith(t, filepath.Join(dir, "flowbot.db"), noCheckpoints)
			mustCheck(t, got)
			ctx := context.Background()
			for id, n := range im.acked {
				c, err := got.Conversation(ctx, id)
				if err != nil {
					t.Fatalf("%s, acknowledged at turn %d: %v", id, n, err)
				}
				if c.Turns < n {
					t.Fatalf("%s: turn %d after the cut; turn %d was acknowledged", id, c.Turns, n)
				}
				if tr, lg := mustTranscript(t, got, id), mustLog(t, got, id); len(tr) != 2*c.Turns || len(lg) != c.Turns {
					t.Fatalf("%s at turn %d: %d transcript and %d log entries, want %d and %d", id, c.Turns, len(tr), len(lg), 2*c.Turns, c.Turns)
				}
			}
		})
	}
}
