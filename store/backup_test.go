package store

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A snapshot taken while turns sit only in the journal (no checkpoint has
// run) holds every acknowledged turn, opens as a database on its own, and
// leaves no file behind in the data folder.
func TestSnapshot(t *testing.T) {
	dir := t.TempDir()
	db := mustOpenWith(t, filepath.Join(dir, "flowbot.db"), noCheckpoints)
	convs := saveConversations(t, db, 20, 3)
	if n := storedConversations(t, crashImage(t, db)); n != 0 {
		t.Fatalf("%d conversations in bbolt before the snapshot; the test wants them in the journal only", n)
	}

	dst := writeSnapshot(t, db)
	// Nothing of the snapshot stays in the data folder.
	if left, _ := filepath.Glob(filepath.Join(dir, "*snapshot*")); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}

	// The copy is a sound bbolt file that holds every turn by itself.
	bdb, err := bolt.Open(dst, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := bdb.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	}); err != nil {
		t.Fatalf("tx.Check: %v", err)
	}
	bdb.Close()
	restored := mustOpenWith(t, dst, noCheckpoints)
	for _, c := range convs {
		wantConversation(t, restored, c, 3)
	}

	// The source goes on, and a later snapshot has the newer turn.
	convs[0].UpdatedAt = convs[0].UpdatedAt.Add(time.Minute)
	mustSaveTurn(t, db, nextTurn(convs[0]))
	dst2 := writeSnapshot(t, db)
	wantConversation(t, mustOpenWith(t, dst2, noCheckpoints), convs[0], 4)
}

// writeSnapshot writes a snapshot of db to a new file and returns its path.
func writeSnapshot(t *testing.T, db *DB) string {
	t.Helper()
	snap, size, err := db.Snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	dst := filepath.Join(t.TempDir(), "flowbot.db")
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(out, snap)
	if err != nil || n != size || out.Close() != nil {
		t.Fatalf("copied %d of %d bytes: %v", n, size, err)
	}
	if err := snap.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}
