package connections_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowbot/flowbot/connections"
	"github.com/flowbot/flowbot/flow"
	"github.com/google/uuid"
)

func TestServiceCreate(t *testing.T) {
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		s, st, clk := newTestService(t)
		c, err := s.Create(ctx, "alice", connections.NewConnection{
			Name: "shop_api", Type: connections.TypeAPIKey, AllowedDomain: " Shop.EXAMPLE.com. ", AllowSubdomains: true,
			Credentials: connections.Credentials{Header: "X-Api-Key", Value: "v1", Token: ""},
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := uuid.Parse(c.ID); err != nil {
			t.Errorf("ID %q is not a UUID", c.ID)
		}
		want := connections.Connection{ID: c.ID, Name: "shop_api", Type: connections.TypeAPIKey, AllowedDomain: "shop.example.com", AllowSubdomains: true,
			CreatedAt: clk.Now(), UpdatedAt: clk.Now(), CreatedBy: "alice"}
		got := *c
		got.Sealed, got.Public = nil, nil
		if !equalConn(got, want) {
			t.Fatalf("connection = %+v, want %+v", got, want)
		}
		if c.Public["header"] != "X-Api-Key" || len(c.Public) != 1 {
			t.Errorf("Public = %v", c.Public)
		}
		stored, err := st.Connection(ctx, "shop_api")
		if err != nil || stored.AllowedDomain != "shop.example.com" {
			t.Fatalf("stored = %+v, %v", stored, err)
		}
		creds, _, err := s.Credentials(ctx, "shop_api")
		if err != nil || !reflect.DeepEqual(creds, connections.Credentials{Header: "X-Api-Key", Value: "v1"}) {
			t.Fatalf("Credentials = %+v, %v", creds, err)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		s, st, _ := newTestService(t)
		_, err := s.Create(ctx, "alice", connections.NewConnection{Name: "x", Type: connections.TypeBearer, AllowedDomain: "example.com"})
		var fe *flow.Error
		if !errors.As(err, &fe) || fe.Code != flow.EUNPROCESSABLE {
			t.Fatalf("err = %v, want EUNPROCESSABLE", err)
		}
		if len(problemAt(fe.Details, "/name")) == 0 || len(problemAt(fe.Details, "/credentials/token")) == 0 {
			t.Fatalf("details = %+v", fe.Details)
		}
		if cs, err := st.Connections(ctx); err != nil || len(cs) != 0 {
			t.Fatalf("an invalid connection was stored: %d connections, %v", len(cs), err)
		}
	})
	t.Run("ErrDuplicate", func(t *testing.T) {
		s, _, _ := newTestService(t)
		mustCreate(t, s, validReq())
		_, err := s.Create(ctx, "alice", validReq())
		if flow.ErrorCode(err) != flow.ECONFLICT || !strings.Contains(flow.ErrorMessage(err), "shop_api") {
			t.Fatalf("err = %v, want ECONFLICT naming the connection", err)
		}
	})
}

func equalConn(a, b connections.Connection) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Type == b.Type && a.AllowedDomain == b.AllowedDomain &&
		a.AllowSubdomains == b.AllowSubdomains && a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt) &&
		a.CreatedBy == b.CreatedBy
}

func TestServiceRotate(t *testing.T) {
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		s, _, clk := newTestService(t)
		orig := mustCreate(t, s, validReq())
		if _, _, err := s.Credentials(ctx, "shop_api"); err != nil {
			t.Fatal(err)
		}
		clk.Add(time.Minute)
		c, err := s.Rotate(ctx, "shop_api", connections.Credentials{Token: "new"})
		if err != nil {
			t.Fatal(err)
		}
		if c.ID != orig.ID || c.Type != connections.TypeBearer || !c.UpdatedAt.Equal(clk.Now()) || !c.CreatedAt.Equal(orig.CreatedAt) {
			t.Fatalf("rotated = %+v", c)
		}
		creds, _, err := s.Credentials(ctx, "shop_api")
		if err != nil || creds.Token != "new" {
			t.Fatalf("Credentials after rotate = %+v, %v", creds, err)
		}
	})
	t.Run("OKSameInstant", func(t *testing.T) {
		// The cache must not serve old credentials even if the clock did
		// not move between two rotations.
		s, _, _ := newTestService(t)
		mustCreate(t, s, validReq())
		for _, tok := range []string{"one", "two", "three"} {
			if _, err := s.Rotate(ctx, "shop_api", connections.Credentials{Token: tok}); err != nil {
				t.Fatal(err)
			}
			if creds, _, _ := s.Credentials(ctx, "shop_api"); creds.Token != tok {
				t.Fatalf("token = %q, want %q", creds.Token, tok)
			}
		}
	})
	t.Run("ErrWrongTypeFields", func(t *testing.T) {
		s, _, _ := newTestService(t)
		mustCreate(t, s, validReq())
		_, err := s.Rotate(ctx, "shop_api", connections.Credentials{Username: "u", Password: "p"})
		var fe *flow.Error
		if !errors.As(err, &fe) || fe.Code != flow.EUNPROCESSABLE || len(problemAt(fe.Details, "/credentials/token")) == 0 {
			t.Fatalf("err = %v", err)
		}
		if creds, _, _ := s.Credentials(ctx, "shop_api"); creds.Token != "tok" {
			t.Fatal("a refused rotation changed the credentials")
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		s, _, _ := newTestService(t)
		if _, err := s.Rotate(ctx, "nope", connections.Credentials{Token: "x"}); flow.ErrorCode(err) != flow.ENOTFOUND {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestServiceGetListDelete(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newTestService(t)
	mustCreate(t, s, validReq())
	b := validReq()
	b.Name = "another"
	mustCreate(t, s, b)
	if c, err := s.Get(ctx, "another"); err != nil || c.Name != "another" {
		t.Fatalf("Get = %v, %v", c, err)
	}
	if cs, err := s.List(ctx); err != nil || len(cs) != 2 || cs[0].Name != "another" {
		t.Fatalf("List = %v, %v", cs, err)
	}
	if _, _, err := s.Credentials(ctx, "another"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "another"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Credentials(ctx, "another"); flow.ErrorCode(err) != flow.ENOTFOUND {
		t.Fatalf("Credentials after delete: %v", err)
	}
	if err := s.Delete(ctx, "another"); flow.ErrorCode(err) != flow.ENOTFOUND {
		t.Fatalf("second Delete: %v", err)
	}
	if _, err := s.Get(ctx, "another"); flow.ErrorCode(err) != flow.ENOTFOUND {
		t.Fatalf("Get after delete: %v", err)
	}
}

func TestServiceCredentialsCache(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newTestService(t)
	mustCreate(t, s, validReq())
	if _, _, err := s.Credentials(ctx, "shop_api"); err != nil {
		t.Fatal(err)
	}
	// With a wrong key, only a cached decryption can still answer.
	good := s.Keyring
	s.Keyring = mustKeyring(t, 1, 99)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if creds, _, err := s.Credentials(ctx, "shop_api"); err != nil || creds.Token != "tok" {
				t.Errorf("cached Credentials = %+v, %v", creds, err)
			}
		})
	}
	wg.Wait()
	s.Keyring = good
	if _, err := s.Rotate(ctx, "shop_api", connections.Credentials{Token: "tok2"}); err != nil {
		t.Fatal(err)
	}
	s.Keyring = mustKeyring(t, 1, 99)
	if _, _, err := s.Credentials(ctx, "shop_api"); !errors.Is(err, connections.ErrUnseal) {
		t.Fatalf("after rotation the cache answered: %v", err)
	}
}

func TestServiceReseal(t *testing.T) {
	ctx := context.Background()
	s, st, _ := newTestService(t)
	mustCreate(t, s, validReq())
	kr2 := mustKeyring(t, 2, 8)
	kr2.Add(1, testKey(7))
	s.Keyring = kr2
	if n, err := s.Reseal(ctx); err != nil || n != 1 {
		t.Fatalf("Reseal = %d, %v", n, err)
	}
	c, err := st.Connection(ctx, "shop_api")
	if err != nil {
		t.Fatal(err)
	}
	if c.Sealed[0] != 2 {
		t.Fatalf("still sealed with version %d", c.Sealed[0])
	}
	s.Keyring = mustKeyring(t, 2, 8)
	if creds, _, err := s.Credentials(ctx, "shop_api"); err != nil || creds.Token != "tok" {
		t.Fatalf("Credentials with the new key alone = %+v, %v", creds, err)
	}
	if n, _ := s.Reseal(ctx); n != 0 {
		t.Fatalf("second Reseal resealed %d", n)
	}
}
