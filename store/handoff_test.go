package store

import (
	"context"
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
	for _, id := range []string{"b", "a", "c"} {
		if err := db.PutHandoff(ctx, id, made, []byte(`{"id":"`+id+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, db.PutHandoff(ctx, "a", made, []byte("{}")), flow.ECONFLICT, "")
	wantCode(t, db.PutHandoff(ctx, "", made, []byte("{}")), flow.EINVALID, "")
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
	err := db.Handoffs(ctx, func(id string, m time.Time, body []byte) bool {
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
	db.Handoffs(ctx, func(id string, _ time.Time, _ []byte) bool { got = append(got, id); return false })
	if len(got) != 1 {
		t.Fatalf("walk did not stop: %v", got)
	}
	// An unreadable record is skipped and reported; the others still come.
	if err := db.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketHandoffs).Put([]byte("0bad"), []byte("not json")) }); err != nil {
		t.Fatal(err)
	}
	got = nil
	err = db.Handoffs(ctx, func(id string, _ time.Time, _ []byte) bool { got = append(got, id); return true })
	if err == nil || !strings.Contains(err.Error(), "0bad") || strings.Join(got, ",") != "a,b" {
		t.Fatalf("with a bad record: %v, %v", got, err)
	}
}
