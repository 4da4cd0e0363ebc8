package store

import (
	"context"
	"testing"
	"time"

	"github.com/flowbot/flowbot/flow"
)

func sampleKey(id, hash string) *flow.APIKey {
	exp := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	return &flow.APIKey{ID: id, Name: "ci", Role: flow.RoleDesigner, Prefix: "fb_" + id, Hash: []byte(hash), ExpiresAt: &exp, CreatedBy: "admin"}
}

func TestCreateAPIKey(t *testing.T) {
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		db := mustOpen(t)
		k := sampleKey("", "hash-1")
		if err := db.CreateAPIKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		if k.ID == "" || k.CreatedAt.IsZero() {
			t.Fatalf("id %q, created_at %v: want both set", k.ID, k.CreatedAt)
		}
		got, err := db.APIKeyByHash(ctx, []byte("hash-1"))
		if err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "stored key", got, k)
	})

	t.Run("ErrDuplicateID", func(t *testing.T) {
		db := mustOpen(t)
		if err := db.CreateAPIKey(ctx, sampleKey("k1", "hash-1")); err != nil {
			t.Fatal(err)
		}
		wantCode(t, db.CreateAPIKey(ctx, sampleKey("k1", "hash-2")), flow.ECONFLICT, "already exists")
		_, err := db.APIKeyByHash(ctx, []byte("hash-2"))
		wantCode(t, err, flow.ENOTFOUND, "")
	})

	t.Run("ErrDuplicateHash", func(t *testing.T) {
		db := mustOpen(t)
		if err := db.CreateAPIKey(ctx, sampleKey("k1", "hash-1")); err != nil {
			t.Fatal(err)
		}
		wantCode(t, db.CreateAPIKey(ctx, sampleKey("k2", "hash-1")), flow.ECONFLICT, "already exists")
	})

	t.Run("ErrNoHash", func(t *testing.T) {
		wantCode(t, mustOpen(t).CreateAPIKey(ctx, sampleKey("k1", "")), flow.EINVALID, "hash")
	})
}

func TestAPIKeyByHash(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	if err := db.CreateAPIKey(ctx, sampleKey("k1", "hash-1")); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"hash-2", ""} {
		k, err := db.APIKeyByHash(ctx, []byte(h))
		wantCode(t, err, flow.ENOTFOUND, "")
		if k != nil {
			t.Errorf("key = %v, want nil", k)
		}
	}
}

func TestAPIKeys(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	keys, err := db.APIKeys(ctx)
	if err != nil || keys == nil || len(keys) != 0 {
		t.Fatalf("keys %v (nil: %t), err %v; want an empty list", keys, keys == nil, err)
	}
	// IDs sort against creation order: the list must follow creation.
	for _, id := range []string{"zz", "mm", "aa"} {
		if err := db.CreateAPIKey(ctx, sampleKey(id, "hash-"+id)); err != nil {
			t.Fatal(err)
		}
	}
	keys, err = db.APIKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range keys {
		ids = append(ids, k.ID)
		if len(k.Hash) == 0 {
			t.Errorf("key %s lost its hash", k.ID)
		}
	}
	mustEqual(t, "ids", ids, []string{"zz", "mm", "aa"})
}

func TestDeleteAPIKey(t *testing.T) {
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		db := mustOpen(t)
		if err := db.CreateAPIKey(ctx, sampleKey("k1", "hash-1")); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteAPIKey(ctx, "k1"); err != nil {
			t.Fatal(err)
		}
		_, err := db.APIKeyByHash(ctx, []byte("hash-1"))
		wantCode(t, err, flow.ENOTFOUND, "")
		keys, err := db.APIKeys(ctx)
		if err != nil || len(keys) != 0 {
			t.Fatalf("keys after delete: %v, %v", keys, err)
		}
		// The hash is free again.
		if err := db.CreateAPIKey(ctx, sampleKey("k2", "hash-1")); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		wantCode(t, mustOpen(t).DeleteAPIKey(ctx, "nope"), flow.ENOTFOUND, "")
	})
}

func TestTouchAPIKey(t *testing.T) {
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		db := mustOpen(t)
		if err := db.CreateAPIKey(ctx, sampleKey("k1", "hash-1")); err != nil {
			t.Fatal(err)
		}
		t1 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.FixedZone("CET", 3600))
		if err := db.TouchAPIKey(ctx, "k1", t1); err != nil {
			t.Fatal(err)
		}
		lastUsed := func() time.Time {
			k, err := db.APIKeyByHash(ctx, []byte("hash-1"))
			if err != nil {
				t.Fatal(err)
			}
			if k.LastUsedAt == nil {
				t.Fatal("last_used_at not set")
			}
			return *k.LastUsedAt
		}
		mustEqual(t, "last used", lastUsed(), t1.UTC())
		// An earlier use arriving late does not move it back.
		if err := db.TouchAPIKey(ctx, "k1", t1.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "last used after an older touch", lastUsed(), t1.UTC())
		t2 := t1.Add(time.Hour)
		if err := db.TouchAPIKey(ctx, "k1", t2); err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "last used after a newer touch", lastUsed(), t2.UTC())
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		wantCode(t, mustOpen(t).TouchAPIKey(ctx, "nope", time.Now()), flow.ENOTFOUND, "")
	})
}
