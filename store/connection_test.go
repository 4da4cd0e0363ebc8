package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/flowbot/flowbot/connections"
	"github.com/flowbot/flowbot/flow"
	bolt "go.etcd.io/bbolt"
)

func sampleConnection(name string) *connections.Connection {
	return &connections.Connection{
		Name:            name,
		Type:            connections.TypeAPIKey,
		AllowedDomain:   "shop.example.com",
		AllowSubdomains: true,
		Sealed:          []byte{0x00, 0x01, 0xfe, 0xff, 'x'},
		Public:          map[string]string{"header": "X-Shop-Key"},
		CreatedBy:       "admin",
	}
}

func TestCreateConnection(t *testing.T) {
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		db := mustOpen(t)
		c := sampleConnection("shop_api")
		if err := db.CreateConnection(ctx, c); err != nil {
			t.Fatal(err)
		}
		if c.ID == "" || c.CreatedAt.IsZero() || !c.UpdatedAt.Equal(c.CreatedAt) {
			t.Fatalf("id %q, created %v, updated %v", c.ID, c.CreatedAt, c.UpdatedAt)
		}
		got, err := db.Connection(ctx, "shop_api")
		if err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "stored connection", got, c)
		// The returned sealed bytes are the caller's own.
		got.Sealed[0] = 'Z'
		again, err := db.Connection(ctx, "shop_api")
		if err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "sealed", again.Sealed, sampleConnection("").Sealed)
	})

	t.Run("ErrDuplicateName", func(t *testing.T) {
		db := mustOpen(t)
		if err := db.CreateConnection(ctx, sampleConnection("shop_api")); err != nil {
			t.Fatal(err)
		}
		wantCode(t, db.CreateConnection(ctx, sampleConnection("shop_api")), flow.ECONFLICT, `"shop_api" already exists`)
	})

	t.Run("ErrNoName", func(t *testing.T) {
		wantCode(t, mustOpen(t).CreateConnection(ctx, sampleConnection("")), flow.EINVALID, "name")
	})
}

func TestConnection(t *testing.T) {
	t.Run("ErrNotFound", func(t *testing.T) {
		db := mustOpen(t)
		for _, name := range []string{"nope", ""} {
			c, err := db.Connection(context.Background(), name)
			wantCode(t, err, flow.ENOTFOUND, "not found")
			if c != nil {
				t.Errorf("connection = %v, want nil", c)
			}
		}
	})
}

func TestConnections(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	list, err := db.Connections(ctx)
	if err != nil || list == nil || len(list) != 0 {
		t.Fatalf("connections %v (nil: %t), err %v; want an empty list", list, list == nil, err)
	}
	for _, n := range []string{"zeta_api", "alpha_api", "mid_api"} {
		if err := db.CreateConnection(ctx, sampleConnection(n)); err != nil {
			t.Fatal(err)
		}
	}
	if list, err = db.Connections(ctx); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range list {
		names = append(names, c.Name)
		if len(c.Sealed) == 0 || c.Public["header"] == "" {
			t.Errorf("%s lost sealed or public parts: %+v", c.Name, c)
		}
	}
	mustEqual(t, "names", names, []string{"alpha_api", "mid_api", "zeta_api"})
}

func TestUpdateConnection(t *testing.T) {
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		db := mustOpen(t)
		c := sampleConnection("shop_api")
		if err := db.CreateConnection(ctx, c); err != nil {
			t.Fatal(err)
		}
		rotated := *c
		// Only Sealed, Public and UpdatedAt may change.
		rotated.Type, rotated.AllowedDomain, rotated.CreatedBy = connections.TypeBearer, "evil.example", "mallory"
		rotated.Sealed, rotated.Public, rotated.UpdatedAt = []byte("new"), map[string]string{}, time.Time{}
		if err := db.UpdateConnection(ctx, &rotated, c.UpdatedAt); err != nil {
			t.Fatal(err)
		}
		if !rotated.UpdatedAt.After(c.UpdatedAt) {
			t.Errorf("updated_at %v not after %v", rotated.UpdatedAt, c.UpdatedAt)
		}
		got, err := db.Connection(ctx, "shop_api")
		if err != nil {
			t.Fatal(err)
		}
		want := *c
		want.Sealed, want.Public, want.UpdatedAt = []byte("new"), nil, rotated.UpdatedAt
		mustEqual(t, "rotated connection", got, &want)
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		wantCode(t, mustOpen(t).UpdateConnection(ctx, sampleConnection("nope"), time.Time{}), flow.ENOTFOUND, "")
	})
}

func TestDeleteConnection(t *testing.T) {
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		db := mustOpen(t)
		if err := db.CreateConnection(ctx, sampleConnection("shop_api")); err != nil {
			t.Fatal(err)
		}
		// A draft that is not published does not hold the connection.
		mustCreateBot(t, db, "Draft only", sampleFlow("shop_api"))
		if err := db.DeleteConnection(ctx, "shop_api"); err != nil {
			t.Fatal(err)
		}
		_, err := db.Connection(ctx, "shop_api")
		wantCode(t, err, flow.ENOTFOUND, "")
		// The name is free again.
		if err := db.CreateConnection(ctx, sampleConnection("shop_api")); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ErrInUse", func(t *testing.T) {
		db := mustOpen(t)
		if err := db.CreateConnection(ctx, sampleConnection("shop_api")); err != nil {
			t.Fatal(err)
		}
		b := mustCreateBot(t, db, "Orders", sampleFlow("shop_api"))
		if _, err := db.Publish(ctx, b.ID, 1, "d"); err != nil {
			t.Fatal(err)
		}
		err := db.DeleteConnection(ctx, "shop_api")
		wantCode(t, err, flow.ECONFLICT, `connection "shop_api" is used by 1 published bot(s): "Orders" (id `+b.ID+`)`)
		var fe *flow.Error
		if !errors.As(err, &fe) || len(fe.Details) != 1 || fe.Details[0].Pointer != "/bots/"+b.ID || fe.Details[0].Code != flow.CodeConnectionInUse {
			t.Fatalf("details %+v; want the bot by id", fe)
		}
		if _, err := db.Connection(ctx, "shop_api"); err != nil {
			t.Fatalf("connection gone after refused delete: %v", err)
		}
		if err := db.DeleteBot(ctx, b.ID); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteConnection(ctx, "shop_api"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		wantCode(t, mustOpen(t).DeleteConnection(ctx, "nope"), flow.ENOTFOUND, "")
	})
}

// TestConnectionHealthFields: expiry and refusal are stored and read back,
// a refusal about replaced credentials is dropped, and a record written
// before the fields existed still reads (with neither).
func TestConnectionHealthFields(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	c := sampleConnection("shop_api")
	exp := time.Date(2027, 1, 31, 0, 0, 0, 0, time.FixedZone("CET", 3600))
	c.ExpiresAt = &exp
	if err := db.CreateConnection(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := db.Connection(ctx, "shop_api")
	if err != nil || got.ExpiresAt == nil || !got.ExpiresAt.Equal(exp) || got.ExpiresAt.Location() != time.UTC {
		t.Fatalf("expires = %v, %v; want %v in UTC", got.ExpiresAt, err, exp)
	}
	r := &connections.Refusal{At: time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC), Status: 403, Host: "shop.example.com", Message: "no"}
	if err := db.SetConnectionRefusal(ctx, "shop_api", got.UpdatedAt.Add(-time.Second), r); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Connection(ctx, "shop_api"); got.Refusal != nil {
		t.Fatalf("a refusal for another version was stored: %+v", got.Refusal)
	}
	if err := db.SetConnectionRefusal(ctx, "shop_api", got.UpdatedAt, r); err != nil {
		t.Fatal(err)
	}
	after, _ := db.Connection(ctx, "shop_api")
	mustEqual(t, "refusal", after.Refusal, r)
	if !after.UpdatedAt.Equal(got.UpdatedAt) {
		t.Errorf("a refusal moved updated_at from %v to %v", got.UpdatedAt, after.UpdatedAt)
	}
	wantCode(t, db.SetConnectionRefusal(ctx, "nope", got.UpdatedAt, r), flow.ENOTFOUND, "")

	// An update made from a copy read before the refusal keeps it while
	// the credentials' version stays (a new expiry date, a reseal), and
	// clears it with a new version (new credentials).
	stale := *got
	later := exp.Add(time.Hour)
	stale.ExpiresAt = &later
	if err := db.UpdateConnection(ctx, &stale, got.UpdatedAt); err != nil {
		t.Fatal(err)
	}
	if after, _ := db.Connection(ctx, "shop_api"); after.Refusal == nil || !after.ExpiresAt.Equal(later) || stale.Refusal == nil {
		t.Fatalf("same version: refusal %+v (copy %+v), expires %v", after.Refusal, stale.Refusal, after.ExpiresAt)
	}
	// Written from a copy of another version: refused, nothing written.
	wantCode(t, db.UpdateConnection(ctx, &stale, got.UpdatedAt.Add(-time.Second)), flow.ECONFLICT, "")
	stale.UpdatedAt = stale.UpdatedAt.Add(time.Minute)
	if err := db.UpdateConnection(ctx, &stale, got.UpdatedAt); err != nil {
		t.Fatal(err)
	}
	if after, _ := db.Connection(ctx, "shop_api"); after.Refusal != nil || stale.Refusal != nil {
		t.Fatalf("new version: refusal %+v (copy %+v)", after.Refusal, stale.Refusal)
	}

	old := `{"id":"c1","name":"old_api","type":"bearer","allowed_domain":"old.example.com","allow_subdomains":false,"sealed":"AAE=","public":{},"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z","created_by":"admin"}`
	if err := db.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketConnections).Put([]byte("old_api"), []byte(old)) }); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Connection(ctx, "old_api"); err != nil || got.ExpiresAt != nil || got.Refusal != nil || got.AllowedDomain != "old.example.com" {
		t.Fatalf("old record = %+v, %v", got, err)
	}
}
