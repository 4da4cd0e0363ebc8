package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowbot/flowbot/flow"
	bolt "go.etcd.io/bbolt"
)

// testClock returns a new time one second after the last on every call.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

// mustOpen opens a store in a fresh temp folder with a test clock and
// closes it when the test ends.
func mustOpen(tb testing.TB) *DB {
	tb.Helper()
	return mustOpenPath(tb, filepath.Join(tb.TempDir(), "flowbot.db"))
}

func mustOpenPath(tb testing.TB, path string) *DB {
	tb.Helper()
	db, err := Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	db.Now = newTestClock().Now
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

// mustCheck runs bbolt's consistency check over the whole file.
func mustCheck(tb testing.TB, db *DB) {
	tb.Helper()
	err := db.db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
	if err != nil {
		tb.Fatalf("consistency check: %v", err)
	}
}

// wantCode fails unless err carries code and, when msg is not empty, a
// message containing msg.
func wantCode(tb testing.TB, err error, code, msg string) {
	tb.Helper()
	if got := flow.ErrorCode(err); got != code {
		tb.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
	if msg != "" && !strings.Contains(flow.ErrorMessage(err), msg) {
		tb.Fatalf("error message = %q, want it to contain %q", flow.ErrorMessage(err), msg)
	}
}

func TestOpen(t *testing.T) {
	t.Run("CreatesFolderAndPrivateFile", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data", "nested")
		path := filepath.Join(dir, "flowbot.db")
		db := mustOpenPath(t, path)
		if db.Path() != path {
			t.Errorf("Path() = %q, want %q", db.Path(), path)
		}
		for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			// umask may only remove bits, so anything beyond want is wrong.
			if got := fi.Mode().Perm(); got&^want != 0 {
				t.Errorf("%s mode = %o, want at most %o", p, got, want)
			}
		}
		mustCheck(t, db)
	})

	t.Run("ErrLocked", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "flowbot.db")
		mustOpenPath(t, path)
		// flock locks belong to the open file description, so a second
		// open in this process conflicts just as another process would.
		start := time.Now()
		db2, err := open(path, 100*time.Millisecond)
		if err == nil {
			_ = db2.Close()
			t.Fatal("second open succeeded")
		}
		if !errors.Is(err, bolt.ErrTimeout) || !strings.Contains(err.Error(), "database is locked") {
			t.Fatalf("err = %v, want a 'database is locked' error wrapping bolt.ErrTimeout", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("second open took %v", d)
		}
	})

	t.Run("ErrNewerSchema", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "flowbot.db")
		db, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		err = db.db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketMeta).Put(keySchemaVersion, []byte("99"))
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		db, err = Open(path)
		if err == nil {
			_ = db.Close()
			t.Fatal("open of a newer schema succeeded")
		}
		if !strings.Contains(err.Error(), "schema version 99 is newer") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("PingFailsAfterClose", func(t *testing.T) {
		db, err := Open(filepath.Join(t.TempDir(), "flowbot.db"))
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Ping(context.Background()); err != nil {
			t.Fatalf("ping: %v", err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if err := db.Ping(context.Background()); err == nil {
			t.Fatal("ping of a closed database succeeded")
		}
	})

	t.Run("DefaultClockIsUTC", func(t *testing.T) {
		db, err := Open(filepath.Join(t.TempDir(), "flowbot.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if loc := db.now().Location(); loc != time.UTC {
			t.Errorf("now() location = %v, want UTC", loc)
		}
	})
}

func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "flowbot.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	db.Now = newTestClock().Now
	b := &flow.Bot{Name: "Orders", Flow: sampleFlow("shop_api")}
	if err := db.CreateBot(ctx, b); err != nil {
		t.Fatal(err)
	}
	edited := sampleFlow("shop_api")
	edited.Steps[0].Text += "!"
	if _, err := db.SaveDraft(ctx, b.ID, edited, 1); err != nil {
		t.Fatal(err)
	}
	v1, err := db.Publish(ctx, b.ID, 2, "designer-1")
	if err != nil {
		t.Fatal(err)
	}
	conn := sampleConnection("shop_api")
	if err := db.CreateConnection(ctx, conn); err != nil {
		t.Fatal(err)
	}
	key := sampleKey("k1", "hash-1")
	if err := db.CreateAPIKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	ev := &flow.AuditEvent{Actor: "admin", Action: flow.AuditAPIKeyCreated, Target: key.ID}
	if err := db.AddAuditEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if err := db.SetKeyCheck(ctx, []byte("check")); err != nil {
		t.Fatal(err)
	}
	wantBot, err := db.Bot(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = mustOpenPath(t, path)
	mustCheck(t, db)
	gotBot, err := db.Bot(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "bot", gotBot, wantBot)
	gotV, err := db.Version(ctx, b.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "version", gotV, v1)
	gotConn, err := db.Connection(ctx, "shop_api")
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "connection", gotConn, conn)
	gotKey, err := db.APIKeyByHash(ctx, []byte("hash-1"))
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "api key", gotKey, key)
	events, total, err := db.AuditEvents(ctx, flow.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if total != 1 {
		t.Fatalf("audit total = %d", total)
	}
	mustEqual(t, "audit event", events[0], ev)
	users, err := db.BotsUsingConnection(ctx, "shop_api")
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "bots using shop_api", users, []flow.BotRef{{ID: b.ID, Name: "Orders"}})
	check, err := db.KeyCheck(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "key check", check, []byte("check"))
}
