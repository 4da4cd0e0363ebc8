package store

import (
	"context"
	"testing"

	"github.com/flowbot/flowbot/flow"
	"github.com/google/uuid"
)

func TestPublish(t *testing.T) {
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		db := mustOpen(t)
		b := mustCreateBot(t, db, "Orders", sampleFlow("shop_api"))
		v, err := db.Publish(ctx, b.ID, 1, "designer-1")
		if err != nil {
			t.Fatal(err)
		}
		want := &flow.Version{BotID: b.ID, Number: 1, Revision: 1, Flow: sampleFlow("shop_api"), PublishedAt: v.PublishedAt, PublishedBy: "designer-1"}
		mustEqual(t, "version", v, want)
		if !v.PublishedAt.After(b.CreatedAt) {
			t.Errorf("published_at %v not after created_at %v", v.PublishedAt, b.CreatedAt)
		}
		got, err := db.Bot(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.PublishedVersion != 1 || got.Revision != 1 {
			t.Errorf("bot after publish: published %d, revision %d", got.PublishedVersion, got.Revision)
		}
		stored, err := db.Version(ctx, b.ID, 1)
		if err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "stored version", stored, want)
	})

	t.Run("VersionsAreImmutable", func(t *testing.T) {
		db := mustOpen(t)
		b := mustCreateBot(t, db, "Orders", sampleFlow("shop_api"))
		v1, err := db.Publish(ctx, b.ID, 1, "d1")
		if err != nil {
			t.Fatal(err)
		}
		v1.Flow.Steps[0].Text = "mutating the returned value changes nothing"
		if _, err := db.SaveDraft(ctx, b.ID, sampleFlow("other_api"), 1); err != nil {
			t.Fatal(err)
		}
		got, err := db.Version(ctx, b.ID, 1)
		if err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "version 1 after draft save", got.Flow, sampleFlow("shop_api"))

		v2, err := db.Publish(ctx, b.ID, 2, "d2")
		if err != nil {
			t.Fatal(err)
		}
		if v2.Number != 2 || v2.Revision != 2 {
			t.Fatalf("second publish: number %d revision %d", v2.Number, v2.Revision)
		}
		mustEqual(t, "version 2", v2.Flow, sampleFlow("other_api"))
		if got, err = db.Version(ctx, b.ID, 1); err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "version 1 after second publish", got.Flow, sampleFlow("shop_api"))
	})

	t.Run("RepublishSameRevision", func(t *testing.T) {
		db := mustOpen(t)
		b := mustCreateBot(t, db, "Orders", sampleFlow(""))
		for n := 1; n <= 2; n++ {
			v, err := db.Publish(ctx, b.ID, 1, "d")
			if err != nil {
				t.Fatal(err)
			}
			if v.Number != n {
				t.Fatalf("number = %d, want %d", v.Number, n)
			}
		}
	})

	t.Run("ErrStaleRevision", func(t *testing.T) {
		db := mustOpen(t)
		b := mustCreateBot(t, db, "Orders", sampleFlow(""))
		if _, err := db.SaveDraft(ctx, b.ID, sampleFlow("x"), 1); err != nil {
			t.Fatal(err)
		}
		_, err := db.Publish(ctx, b.ID, 1, "d")
		wantCode(t, err, flow.ECONFLICT, "draft is at revision 2; you published 1: reload and retry")
		vs, err := db.Versions(ctx, b.ID)
		if err != nil || len(vs) != 0 {
			t.Fatalf("versions after refused publish: %v, %v", vs, err)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := mustOpen(t).Publish(ctx, uuid.NewString(), 1, "d")
		wantCode(t, err, flow.ENOTFOUND, "")
	})
}

func TestVersions(t *testing.T) {
	ctx := context.Background()

	t.Run("NewestFirst", func(t *testing.T) {
		db := mustOpen(t)
		b := mustCreateBot(t, db, "Orders", sampleFlow(""))
		// Ten versions: keys must sort numerically (10 after 9).
		for i := 1; i <= 10; i++ {
			if _, err := db.Publish(ctx, b.ID, 1, "d"); err != nil {
				t.Fatal(err)
			}
		}
		vs, err := db.Versions(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 10 {
			t.Fatalf("%d versions, want 10", len(vs))
		}
		for i, v := range vs {
			if v.Number != 10-i || v.BotID != b.ID {
				t.Errorf("versions[%d] = number %d of %s", i, v.Number, v.BotID)
			}
		}
	})

	t.Run("NeverPublished", func(t *testing.T) {
		db := mustOpen(t)
		b := mustCreateBot(t, db, "Orders", sampleFlow(""))
		vs, err := db.Versions(ctx, b.ID)
		if err != nil || vs == nil || len(vs) != 0 {
			t.Fatalf("versions %v (nil: %t), err %v; want an empty list", vs, vs == nil, err)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := mustOpen(t).Versions(ctx, uuid.NewString())
		wantCode(t, err, flow.ENOTFOUND, "")
	})
}

func TestPublishedVersion(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	b := mustCreateBot(t, db, "Orders", sampleFlow(""))
	if n, err := db.PublishedVersion(ctx, b.ID); n != 0 || err != nil {
		t.Fatalf("never published: %d, %v; want 0", n, err)
	}
	// Ten and more: the last key must be the highest number (10 after 9).
	for i := 1; i <= 11; i++ {
		if _, err := db.Publish(ctx, b.ID, 1, "d"); err != nil {
			t.Fatal(err)
		}
		n, err := db.PublishedVersion(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := db.Bot(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		if n != i || stored.PublishedVersion != i {
			t.Fatalf("after %d publishes: PublishedVersion %d, bot record %d", i, n, stored.PublishedVersion)
		}
	}
	_, err := db.PublishedVersion(ctx, uuid.NewString())
	wantCode(t, err, flow.ENOTFOUND, "bot")
}

func TestVersion(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	b := mustCreateBot(t, db, "Orders", sampleFlow(""))
	if _, err := db.Publish(ctx, b.ID, 1, "d"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, bot string
		n         int
		msg       string
	}{
		{"ErrNoSuchNumber", b.ID, 2, "has no version 2"},
		{"ErrZero", b.ID, 0, "has no version 0"},
		{"ErrNegative", b.ID, -1, "has no version -1"},
		{"ErrNoSuchBot", uuid.NewString(), 1, "bot"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := db.Version(ctx, tc.bot, tc.n)
			wantCode(t, err, flow.ENOTFOUND, tc.msg)
			if v != nil {
				t.Errorf("version = %v, want nil", v)
			}
		})
	}
}

func TestBotsUsingConnection(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	ids := map[string]string{} // bot id -> the name the test gave it
	// using lists the bots using a connection as "name" strings, after
	// checking that each came with its own id.
	using := func(name string) []string {
		t.Helper()
		bots, err := db.BotsUsingConnection(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		names := []string{}
		for _, b := range bots {
			if ids[b.ID] != b.Name {
				t.Errorf("bot %s named %q; want %q", b.ID, b.Name, ids[b.ID])
			}
			names = append(names, b.Name)
		}
		return names
	}
	zeta := mustCreateBot(t, db, "Zeta", sampleFlow("a_api"))
	alpha := mustCreateBot(t, db, "Alpha", sampleFlow("a_api"))
	ids[zeta.ID], ids[alpha.ID] = "Zeta", "Alpha"
	mustEqual(t, "before publishing", using("a_api"), []string{})

	if _, err := db.Publish(ctx, zeta.ID, 1, "d"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Publish(ctx, alpha.ID, 1, "d"); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "both published", using("a_api"), []string{"Alpha", "Zeta"})

	// A draft change counts only once it is published.
	f := sampleFlow("b_api")
	// A connection field on a step that is not an api_call is ignored.
	f.Steps[0].Connection = "c_api"
	if _, err := db.SaveDraft(ctx, zeta.ID, f, 1); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "draft saved", using("a_api"), []string{"Alpha", "Zeta"})
	if _, err := db.Publish(ctx, zeta.ID, 2, "d"); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "a_api after republish", using("a_api"), []string{"Alpha"})
	mustEqual(t, "b_api after republish", using("b_api"), []string{"Zeta"})
	mustEqual(t, "c_api", using("c_api"), []string{})
	mustEqual(t, "unknown", using("nope"), []string{})
	mustEqual(t, "empty name", using(""), []string{})

	// A renamed bot is reported by its current name.
	name := "Alpha 2"
	if _, err := db.UpdateBot(ctx, alpha.ID, flow.BotUpdate{Name: &name}); err != nil {
		t.Fatal(err)
	}
	ids[alpha.ID] = name
	mustEqual(t, "after rename", using("a_api"), []string{"Alpha 2"})

	// Two bots of one name are both there, in id order.
	twin := mustCreateBot(t, db, "Alpha 2", sampleFlow("a_api"))
	ids[twin.ID] = "Alpha 2"
	if _, err := db.Publish(ctx, twin.ID, 1, "d"); err != nil {
		t.Fatal(err)
	}
	bots, err := db.BotsUsingConnection(ctx, "a_api")
	if err != nil {
		t.Fatal(err)
	}
	want := []flow.BotRef{{ID: alpha.ID, Name: "Alpha 2"}, {ID: twin.ID, Name: "Alpha 2"}}
	if twin.ID < alpha.ID {
		want[0], want[1] = want[1], want[0]
	}
	mustEqual(t, "same-name bots", bots, want)

	// Publishing a flow without connections clears the bot's entries.
	if _, err := db.SaveDraft(ctx, zeta.ID, sampleFlow(""), 2); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Publish(ctx, zeta.ID, 3, "d"); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "b_api after unpublishing it", using("b_api"), []string{})
	mustCheck(t, db)
}

func TestConnectionsOf(t *testing.T) {
	f := sampleFlow("b")
	a := sampleFlow("a").Steps[1]
	a.ID = "second"
	f.Steps = append(f.Steps, a, sampleFlow("b").Steps[1], sampleFlow("").Steps[1])
	mustEqual(t, "connections", connectionsOf(f), []string{"a", "b"})
	if got := connectionsOf(flow.Flow{}); len(got) != 0 {
		t.Errorf("empty flow: %v", got)
	}
}
