package store

import (
	"bytes"
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/flowbot/flowbot/flow"
	bolt "go.etcd.io/bbolt"
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

// TestAPIKeyAllowedIPs: a key's allowed IPs are kept in their canonical
// text form and read back as they were.
func TestAPIKeyAllowedIPs(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	k := sampleKey("k1", "hash-1")
	k.AllowedIPs = []flow.IPRange{flow.MustParseIPRange("::ffff:203.0.113.7"), flow.MustParseIPRange("2001:DB8::/32")}
	if err := db.CreateAPIKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	got, err := db.APIKeyByHash(ctx, []byte("hash-1"))
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "stored key", got, k)
	var raw []byte
	if err := db.db.View(func(tx *bolt.Tx) error {
		raw = bytes.Clone(tx.Bucket(bucketAPIKeys).Get([]byte("k1")))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte(`"allowed_ips":["203.0.113.7","2001:db8::/32"]`)) {
		t.Fatalf("stored as %s", raw)
	}
}

// TestAPIKeyStoredBeforeAllowedIPs: a record written before keys had
// allowed_ips (no such member) reads as a key without any, which may be
// used from any address.
func TestAPIKeyStoredBeforeAllowedIPs(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	const old = `{"id":"old","name":"ci","role":"designer","prefix":"fbk_abcdef","hash":"aGFzaC1vbGQ=",` +
		`"expires_at":"2099-01-01T00:00:00Z","created_at":"2025-01-02T03:04:05Z","created_by":"bootstrap","last_used_at":"2025-02-01T00:00:00Z"}`
	if err := db.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketAPIKeysByHash).Put([]byte("hash-old"), []byte("old")); err != nil {
			return err
		}
		return tx.Bucket(bucketAPIKeys).Put([]byte("old"), []byte(old))
	}); err != nil {
		t.Fatal(err)
	}
	k, err := db.APIKeyByHash(ctx, []byte("hash-old"))
	if err != nil {
		t.Fatal(err)
	}
	if k.ID != "old" || k.Name != "ci" || string(k.Hash) != "hash-old" || k.ExpiresAt == nil || k.LastUsedAt == nil || len(k.AllowedIPs) != 0 {
		t.Fatalf("old record read as %+v", k)
	}
	if !k.AllowsAddr(netip.MustParseAddr("198.51.100.9")) || !k.AllowsAddr(netip.MustParseAddr("2001:db8::1")) {
		t.Fatal("an old key is refused from an address")
	}
	keys, err := db.APIKeys(ctx)
	if err != nil || len(keys) != 1 || keys[0].ID != "old" {
		t.Fatalf("list: %v, %v", keys, err)
	}
	// Touching it keeps it without allowed_ips.
	if err := db.TouchAPIKey(ctx, "old", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if k, err := db.APIKeyByHash(ctx, []byte("hash-old")); err != nil || len(k.AllowedIPs) != 0 {
		t.Fatalf("after touch: %+v, %v", k, err)
	}
}
