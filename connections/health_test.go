package connections_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flowbot/flowbot/connections"
	"github.com/flowbot/flowbot/flow"
)

func TestConnectionStatus(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	refusal := &connections.Refusal{At: now.Add(-time.Hour), Status: 401, Host: "api.example.com", Message: "api.example.com answered 401 Unauthorized"}
	tests := []struct {
		name    string
		expires *time.Time
		refusal *connections.Refusal
		want    string
		msg     []string // each must be in the message
	}{
		{"NoDate", nil, nil, connections.StatusOK, []string{"working"}},
		{"FarOff", at(30 * 24 * time.Hour), nil, connections.StatusOK, []string{"working", "2026-12-24"}},
		// The edge of the window: 7 days and a second is ok, 7 days is expiring.
		{"JustBeforeWindow", at(connections.ExpiringWithin + time.Second), nil, connections.StatusOK, nil},
		{"WindowEdge", at(connections.ExpiringWithin), nil, connections.StatusExpiring, []string{"2026-12-01 12:00 UTC", "in 7 days", "rotates"}},
		{"OneDay", at(24*time.Hour + time.Minute), nil, connections.StatusExpiring, []string{"in 1 day"}},
		{"Hours", at(5*time.Hour + time.Minute), nil, connections.StatusExpiring, []string{"in 5 hours"}},
		{"OneHour", at(time.Hour + time.Minute), nil, connections.StatusExpiring, []string{"in 1 hour"}},
		{"Minutes", at(time.Minute), nil, connections.StatusExpiring, []string{"within the hour"}},
		// Expired from the very instant of expires_at.
		{"ExpiresNow", at(0), nil, connections.StatusExpired, []string{"expired on 2026-11-24 12:00 UTC"}},
		{"Expired", at(-time.Hour), nil, connections.StatusExpired, nil},
		{"Refused", nil, refusal, connections.StatusRefused, []string{"refused on 2026-11-24 11:00 UTC", "401 Unauthorized"}},
		{"RefusedBeatsExpiring", at(time.Hour * 2), refusal, connections.StatusRefused, nil},
		{"ExpiredBeatsRefused", at(-time.Minute), refusal, connections.StatusExpired, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &connections.Connection{Name: "crm", ExpiresAt: tc.expires, Refusal: tc.refusal}
			if got := c.Status(now); got != tc.want {
				t.Errorf("Status = %q, want %q", got, tc.want)
			}
			msg := c.StatusMessage(now)
			for _, m := range tc.msg {
				if !strings.Contains(msg, m) {
					t.Errorf("message %q lacks %q", msg, m)
				}
			}
			v := connections.NewView(c, now)
			if v.Status != tc.want || v.StatusMessage != msg || v.ExpiresAt != tc.expires || v.Refusal != tc.refusal {
				t.Errorf("view = %+v", v)
			}
		})
	}
}

func TestServiceExpiresAt(t *testing.T) {
	ctx := context.Background()
	create := func(t *testing.T, expires string) (*connections.Connection, error) {
		s, _, _ := newTestService(t)
		req := validReq()
		req.ExpiresAt = &expires
		return s.Create(ctx, "alice", req)
	}
	t.Run("OKCreate", func(t *testing.T) {
		c, err := create(t, "2026-03-01T09:30:00+01:00")
		if err != nil {
			t.Fatal(err)
		}
		if want := time.Date(2026, 3, 1, 8, 30, 0, 0, time.UTC); c.ExpiresAt == nil || !c.ExpiresAt.Equal(want) || c.ExpiresAt.Location() != time.UTC {
			t.Fatalf("ExpiresAt = %v, want %v in UTC", c.ExpiresAt, want)
		}
	})
	t.Run("OKOneSecondAhead", func(t *testing.T) {
		// The test clock is 2026-01-02T03:04:05Z.
		if _, err := create(t, "2026-01-02T03:04:06Z"); err != nil {
			t.Fatal(err)
		}
	})
	for name, tc := range map[string]struct{ value, code string }{
		"ErrNow":      {"2026-01-02T03:04:05Z", "expired"},
		"ErrPast":     {"2025-12-31T00:00:00Z", "expired"},
		"ErrNoZone":   {"2027-01-31T00:00:00", "invalid_time"},
		"ErrDateOnly": {"2027-01-31", "invalid_time"},
		"ErrEmpty":    {"", "invalid_time"},
	} {
		t.Run(name, func(t *testing.T) {
			s, st, _ := newTestService(t)
			req := validReq()
			req.ExpiresAt = &tc.value
			_, err := s.Create(ctx, "alice", req)
			var fe *flow.Error
			if !errors.As(err, &fe) || fe.Code != flow.EUNPROCESSABLE {
				t.Fatalf("err = %v, want EUNPROCESSABLE", err)
			}
			if got := problemAt(fe.Details, "/expires_at"); len(got) != 1 || got[0] != tc.code {
				t.Fatalf("problems at /expires_at = %v, want [%s]; all: %+v", got, tc.code, fe.Details)
			}
			if cs, _ := st.Connections(ctx); len(cs) != 0 {
				t.Fatalf("a refused connection was stored: %+v", cs)
			}
		})
	}
}

func TestServiceUpdate(t *testing.T) {
	ctx := context.Background()
	str := func(s string) *string { return &s }
	// setup makes shop_api with an expiry date and a refusal on record.
	setup := func(t *testing.T) (*connections.Service, *clock, *connections.Connection) {
		s, st, clk := newTestService(t)
		req := validReq()
		req.ExpiresAt = str("2026-02-01T00:00:00Z")
		c := mustCreate(t, s, req)
		if err := st.SetConnectionRefusal(ctx, c.Name, c.UpdatedAt, &connections.Refusal{At: clk.Now(), Status: 401, Host: "api.example.com", Message: "no"}); err != nil {
			t.Fatal(err)
		}
		clk.Add(time.Minute)
		c, err := st.Connection(ctx, c.Name)
		if err != nil || c.Refusal == nil {
			t.Fatalf("setup: %+v, %v", c, err)
		}
		return s, clk, c
	}
	t.Run("OKCredentialsClearDateAndRefusal", func(t *testing.T) {
		s, _, before := setup(t)
		c, err := s.Update(ctx, "shop_api", connections.Update{Credentials: &connections.Credentials{Token: "new"}})
		if err != nil {
			t.Fatal(err)
		}
		if c.ExpiresAt != nil || c.Refusal != nil || c.UpdatedAt.Equal(before.UpdatedAt) {
			t.Fatalf("after rotation: expires %v, refusal %+v, updated %v", c.ExpiresAt, c.Refusal, c.UpdatedAt)
		}
		stored, _ := s.Get(ctx, "shop_api")
		if stored.ExpiresAt != nil || stored.Refusal != nil {
			t.Fatalf("stored after rotation: expires %v, refusal %+v", stored.ExpiresAt, stored.Refusal)
		}
		if creds, _, _ := s.Credentials(ctx, "shop_api"); creds.Token != "new" {
			t.Fatalf("token %q, want the new one", creds.Token)
		}
	})
	t.Run("OKCredentialsWithDate", func(t *testing.T) {
		s, _, _ := setup(t)
		c, err := s.Update(ctx, "shop_api", connections.Update{Credentials: &connections.Credentials{Token: "new"}, ExpiresAt: str("2026-06-01T00:00:00Z")})
		if err != nil {
			t.Fatal(err)
		}
		if c.ExpiresAt == nil || c.ExpiresAt.Format(time.RFC3339) != "2026-06-01T00:00:00Z" || c.Refusal != nil {
			t.Fatalf("expires %v, refusal %+v", c.ExpiresAt, c.Refusal)
		}
	})
	t.Run("OKDateOnlyKeepsCredentialsAndRefusal", func(t *testing.T) {
		s, _, before := setup(t)
		c, err := s.Update(ctx, "shop_api", connections.Update{ExpiresAt: str("2026-09-01T00:00:00Z")})
		if err != nil {
			t.Fatal(err)
		}
		stored, _ := s.Get(ctx, "shop_api")
		if stored.ExpiresAt == nil || !stored.ExpiresAt.Equal(*c.ExpiresAt) || stored.ExpiresAt.Format(time.RFC3339) != "2026-09-01T00:00:00Z" {
			t.Fatalf("stored expires %v", stored.ExpiresAt)
		}
		if string(stored.Sealed) != string(before.Sealed) || stored.Refusal == nil {
			t.Fatalf("a date change touched the credentials or the refusal: %+v", stored)
		}
	})
	t.Run("OKClearDate", func(t *testing.T) {
		s, _, _ := setup(t)
		if _, err := s.Update(ctx, "shop_api", connections.Update{ExpiresAt: str("")}); err != nil {
			t.Fatal(err)
		}
		if stored, _ := s.Get(ctx, "shop_api"); stored.ExpiresAt != nil {
			t.Fatalf("expires %v, want none", stored.ExpiresAt)
		}
	})
	for name, tc := range map[string]struct {
		u       connections.Update
		pointer string
		code    string
	}{
		"ErrNothing":       {connections.Update{}, "/credentials", "required"},
		"ErrPastDate":      {connections.Update{ExpiresAt: str("2026-01-01T00:00:00Z")}, "/expires_at", "expired"},
		"ErrBadDate":       {connections.Update{ExpiresAt: str("soon")}, "/expires_at", "invalid_time"},
		"ErrBadDateCreds":  {connections.Update{Credentials: &connections.Credentials{Token: "new"}, ExpiresAt: str("soon")}, "/expires_at", "invalid_time"},
		"ErrBadCredsDated": {connections.Update{Credentials: &connections.Credentials{}, ExpiresAt: str("2026-06-01T00:00:00Z")}, "/credentials/token", "required"},
	} {
		t.Run(name, func(t *testing.T) {
			s, _, before := setup(t)
			_, err := s.Update(ctx, "shop_api", tc.u)
			var fe *flow.Error
			if !errors.As(err, &fe) || fe.Code != flow.EUNPROCESSABLE {
				t.Fatalf("err = %v, want EUNPROCESSABLE", err)
			}
			if got := problemAt(fe.Details, tc.pointer); len(got) != 1 || got[0] != tc.code {
				t.Fatalf("problems at %s = %v, want [%s]; all: %+v", tc.pointer, got, tc.code, fe.Details)
			}
			after, _ := s.Get(ctx, "shop_api")
			if string(after.Sealed) != string(before.Sealed) || !after.ExpiresAt.Equal(*before.ExpiresAt) || after.Refusal == nil || !after.UpdatedAt.Equal(before.UpdatedAt) {
				t.Fatalf("a refused update changed the connection: %+v", after)
			}
		})
	}
}

func TestNoteAnswer(t *testing.T) {
	ctx := context.Background()
	s, st, clk := newTestService(t)
	mustCreate(t, s, validReq())
	// get reads the connection as Apply hands it to the caller.
	get := func() *connections.Connection {
		t.Helper()
		c, err := st.Connection(ctx, "shop_api")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	s.NoteAnswer(ctx, get(), "api.example.com", 404)
	s.NoteAnswer(ctx, get(), "api.example.com", 500)
	if c := get(); c.Refusal != nil {
		t.Fatalf("404 and 500 recorded as a refusal: %+v", c.Refusal)
	}
	s.NoteAnswer(ctx, get(), "api.example.com", 401)
	first := get().Refusal
	if first == nil || first.Status != 401 || first.Host != "api.example.com" || !first.At.Equal(clk.Now()) || !strings.Contains(first.Message, "401 Unauthorized") {
		t.Fatalf("refusal = %+v", first)
	}
	if status, _ := s.Health(get()); status != connections.StatusRefused {
		t.Fatalf("status %q, want refused", status)
	}
	// Within a minute, refusals are not written again.
	clk.Add(59 * time.Second)
	s.NoteAnswer(ctx, get(), "api.example.com", 403)
	if r := get().Refusal; !r.At.Equal(first.At) || r.Status != 401 {
		t.Fatalf("refusal rewritten within a minute: %+v", r)
	}
	clk.Add(time.Second)
	s.NoteAnswer(ctx, get(), "api.example.com", 403)
	if r := get().Refusal; !r.At.Equal(clk.Now()) || r.Status != 403 {
		t.Fatalf("refusal after a minute = %+v, want the 403", r)
	}
	// A report about credentials since rotated is dropped.
	stale := get()
	clk.Add(time.Second)
	if _, err := s.Rotate(ctx, "shop_api", connections.Credentials{Token: "new"}); err != nil {
		t.Fatal(err)
	}
	clk.Add(2 * time.Minute)
	s.NoteAnswer(ctx, stale, "api.example.com", 401)
	if r := get().Refusal; r != nil {
		t.Fatalf("a refusal of the old credentials stuck to the new ones: %+v", r)
	}
	// The new credentials' first refusal is written at once.
	s.NoteAnswer(ctx, get(), "api.example.com", 401)
	if get().Refusal == nil {
		t.Fatal("refusal not recorded")
	}
	// A 2xx clears it at once, even within the minute: a connection that
	// works again shows so, whatever traffic follows.
	clk.Add(30 * time.Second)
	s.NoteAnswer(ctx, get(), "api.example.com", 204)
	c := get()
	if c.Refusal != nil {
		t.Fatalf("refusal not cleared by a 2xx: %+v", c.Refusal)
	}
	if status, _ := s.Health(c); status != connections.StatusOK {
		t.Fatalf("status %q, want ok", status)
	}
	// A refusal within the minute of that write is not recorded; after it, it is.
	clk.Add(29 * time.Second)
	s.NoteAnswer(ctx, get(), "api.example.com", 401)
	if r := get().Refusal; r != nil {
		t.Fatalf("a refusal recorded within a minute of the last write: %+v", r)
	}
	clk.Add(31 * time.Second)
	s.NoteAnswer(ctx, get(), "api.example.com", 401)
	if get().Refusal == nil {
		t.Fatal("a refusal a minute after the last write was not recorded")
	}
}

// TestNoteAnswerMixedTraffic: calls that alternate 403 and 200 through one
// connection cost at most two writes a minute, not one per call.
func TestNoteAnswerMixedTraffic(t *testing.T) {
	ctx := context.Background()
	s, st, clk := newTestService(t)
	mustCreate(t, s, validReq())
	var changes int
	var last *connections.Refusal
	for i := 0; i < 120; i++ { // two minutes, a call a second
		c, err := st.Connection(ctx, "shop_api")
		if err != nil {
			t.Fatal(err)
		}
		if (c.Refusal == nil) != (last == nil) || (c.Refusal != nil && !c.Refusal.At.Equal(last.At)) {
			changes++
		}
		last = c.Refusal
		status := 200
		if i%2 == 0 {
			status = 403
		}
		s.NoteAnswer(ctx, c, "api.example.com", status)
		clk.Add(time.Second)
	}
	if changes > 4 {
		t.Fatalf("%d writes in two minutes of mixed answers; want at most 4", changes)
	}
}
