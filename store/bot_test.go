package store

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/flowbot/flowbot/flow"
	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"
)

func mustEqual(tb testing.TB, what string, got, want any) {
	tb.Helper()
	if !reflect.DeepEqual(got, want) {
		tb.Fatalf("%s:\n got  %+v\n want %+v", what, deref(got), deref(want))
	}
}

func deref(v any) any {
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && !rv.IsNil() {
		return rv.Elem().Interface()
	}
	return v
}

// sampleFlow is a small valid flow whose api_call step uses conn (none
// when conn is empty).
func sampleFlow(conn string) flow.Flow {
	body := `{"q": "{{order_number}}"}`
	return flow.Flow{
		Start: "hello",
		Steps: []flow.Step{
			{ID: "hello", Type: flow.TypeMessage, Text: "Hi {{user.name}}", Next: "lookup"},
			{ID: "lookup", Type: flow.TypeAPICall, Name: "Look up order", APICall: flow.APICall{
				Method:     "POST",
				URL:        "https://shop.example.com/api/orders",
				Headers:    []flow.Header{{Key: "Accept", Value: "application/json"}},
				Body:       &body,
				BodyType:   flow.BodyJSON,
				Connection: conn,
				TimeoutMS:  5000,
				Variables:  []flow.ResponseVariable{{Name: "order_status", Path: "$.order.status"}},
				OnSuccess:  "done",
				OnFailure:  "done",
			}},
			{ID: "done", Type: flow.TypeEnd, Text: "Bye"},
		},
	}
}

func mustCreateBot(tb testing.TB, db *DB, name string, f flow.Flow) *flow.Bot {
	tb.Helper()
	b := &flow.Bot{Name: name, Description: name + " bot", Flow: f}
	if err := db.CreateBot(context.Background(), b); err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestCreateBot(t *testing.T) {
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		db := mustOpen(t)
		b := &flow.Bot{Name: "Orders", Description: "order status", Flow: sampleFlow("shop_api"), Revision: 9, PublishedVersion: 4}
		if err := db.CreateBot(ctx, b); err != nil {
			t.Fatal(err)
		}
		u, err := uuid.Parse(b.ID)
		if err != nil || u.Version() != 7 {
			t.Fatalf("id %q is not a UUIDv7 (%v)", b.ID, err)
		}
		if b.Revision != 1 || b.PublishedVersion != 0 {
			t.Errorf("revision %d, published %d; want 1, 0", b.Revision, b.PublishedVersion)
		}
		if b.CreatedAt.IsZero() || !b.UpdatedAt.Equal(b.CreatedAt) {
			t.Errorf("created %v, updated %v", b.CreatedAt, b.UpdatedAt)
		}
		got, err := db.Bot(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "stored bot", got, b)
	})

	t.Run("GivenID", func(t *testing.T) {
		db := mustOpen(t)
		id := uuid.NewString()
		b := &flow.Bot{ID: id, Name: "Imported"}
		if err := db.CreateBot(ctx, b); err != nil {
			t.Fatal(err)
		}
		if b.ID != id {
			t.Fatalf("id = %q, want %q", b.ID, id)
		}
		// Another spelling of the same UUID is the same bot.
		err := db.CreateBot(ctx, &flow.Bot{ID: "{" + strings.ToUpper(id) + "}", Name: "again"})
		wantCode(t, err, flow.ECONFLICT, "already exists")
	})

	t.Run("ErrDuplicateID", func(t *testing.T) {
		db := mustOpen(t)
		b := mustCreateBot(t, db, "one", flow.Flow{})
		err := db.CreateBot(ctx, &flow.Bot{ID: b.ID, Name: "two"})
		wantCode(t, err, flow.ECONFLICT, "already exists")
	})

	t.Run("ErrInvalidID", func(t *testing.T) {
		db := mustOpen(t)
		err := db.CreateBot(ctx, &flow.Bot{ID: "not-a-uuid", Name: "x"})
		wantCode(t, err, flow.EINVALID, "not a UUID")
	})
}

func TestBot(t *testing.T) {
	t.Run("ErrNotFound", func(t *testing.T) {
		db := mustOpen(t)
		for _, id := range []string{uuid.NewString(), ""} {
			b, err := db.Bot(context.Background(), id)
			wantCode(t, err, flow.ENOTFOUND, "not found")
			if b != nil {
				t.Errorf("bot = %v, want nil", b)
			}
		}
	})
}

func TestBots(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	// Given IDs sort against creation order: the list must still follow
	// creation.
	var want []string
	for i := 0; i < 5; i++ {
		b := &flow.Bot{ID: fmt.Sprintf("%08x-0000-4000-8000-000000000000", 9-i), Name: fmt.Sprint("bot", i)}
		if err := db.CreateBot(ctx, b); err != nil {
			t.Fatal(err)
		}
		want = append(want, b.ID)
	}
	ids := func(bots []*flow.BotSummary) []string {
		out := []string{}
		for _, b := range bots {
			out = append(out, b.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		page flow.Page
		want []string
	}{
		{"All", flow.Page{}, want},
		{"FirstPage", flow.Page{Limit: 2}, want[:2]},
		{"MiddlePage", flow.Page{Offset: 2, Limit: 2}, want[2:4]},
		{"LastPartialPage", flow.Page{Offset: 4, Limit: 2}, want[4:]},
		{"PastTheEnd", flow.Page{Offset: 5, Limit: 2}, []string{}},
		{"NegativeOffset", flow.Page{Offset: -3, Limit: 1}, want[:1]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bots, total, err := db.Bots(ctx, tc.page)
			if err != nil {
				t.Fatal(err)
			}
			if total != 5 {
				t.Errorf("total = %d, want 5", total)
			}
			mustEqual(t, "ids", ids(bots), tc.want)
		})
	}

	t.Run("SummaryFollowsTheBot", func(t *testing.T) {
		db := mustOpen(t)
		b := mustCreateBot(t, db, "Orders", flow.Flow{})
		list := func() *flow.BotSummary {
			t.Helper()
			bots, _, err := db.Bots(ctx, flow.Page{})
			if err != nil || len(bots) != 1 {
				t.Fatalf("bots %v, err %v", bots, err)
			}
			return bots[0]
		}
		f := sampleFlow("")
		if _, err := db.SaveDraft(ctx, b.ID, f, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Publish(ctx, b.ID, 2, "d"); err != nil {
			t.Fatal(err)
		}
		name, desc := "Orders 2", "new words"
		u, err := db.UpdateBot(ctx, b.ID, flow.BotUpdate{Name: &name, Description: &desc})
		if err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "summary", list(), &flow.BotSummary{ID: b.ID, Name: name, Description: desc, Revision: 2,
			PublishedVersion: 1, Steps: len(f.Steps), CreatedAt: b.CreatedAt, UpdatedAt: u.UpdatedAt})
	})

	t.Run("OKStoreWithIDsUnderSeq", func(t *testing.T) {
		// Stores made before summaries hold the bot id under its seq.
		db := mustOpen(t)
		b := mustCreateBot(t, db, "Old", sampleFlow(""))
		err := db.db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketBotsBySeq).Put(u64(1), []byte(b.ID))
		})
		if err != nil {
			t.Fatal(err)
		}
		bots, total, err := db.Bots(ctx, flow.Page{})
		if err != nil || total != 1 || len(bots) != 1 || bots[0].ID != b.ID || bots[0].Name != "Old" || bots[0].Steps != len(sampleFlow("").Steps) {
			t.Fatalf("bots %+v, total %d, err %v", bots, total, err)
		}
	})

	t.Run("Empty", func(t *testing.T) {
		bots, total, err := mustOpen(t).Bots(ctx, flow.Page{Limit: 10})
		if err != nil || total != 0 || bots == nil || len(bots) != 0 {
			t.Fatalf("bots %v (nil: %t), total %d, err %v", bots, bots == nil, total, err)
		}
	})
}

func TestUpdateBot(t *testing.T) {
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		db := mustOpen(t)
		b := mustCreateBot(t, db, "Orders", sampleFlow(""))
		name := "Order status"
		got, err := db.UpdateBot(ctx, b.ID, flow.BotUpdate{Name: &name})
		if err != nil {
			t.Fatal(err)
		}
		if !got.UpdatedAt.After(b.UpdatedAt) {
			t.Errorf("updated_at %v not after %v", got.UpdatedAt, b.UpdatedAt)
		}
		want := *b
		want.Name, want.UpdatedAt = name, got.UpdatedAt
		mustEqual(t, "updated bot", got, &want)
		stored, err := db.Bot(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "stored bot", stored, &want)

		desc := ""
		got, err = db.UpdateBot(ctx, b.ID, flow.BotUpdate{Description: &desc})
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != name || got.Description != "" || got.Revision != 1 {
			t.Errorf("after description update: %+v", got)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		name := "x"
		_, err := mustOpen(t).UpdateBot(ctx, uuid.NewString(), flow.BotUpdate{Name: &name})
		wantCode(t, err, flow.ENOTFOUND, "")
	})
}

func TestSaveDraft(t *testing.T) {
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		db := mustOpen(t)
		b := mustCreateBot(t, db, "Orders", flow.Flow{})
		f := sampleFlow("shop_api")
		got, err := db.SaveDraft(ctx, b.ID, f, 1)
		if err != nil {
			t.Fatal(err)
		}
		if got.Revision != 2 {
			t.Errorf("revision = %d, want 2", got.Revision)
		}
		mustEqual(t, "draft", got.Flow, f)
		stored, err := db.Bot(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "stored bot", stored, got)
		if got, err = db.SaveDraft(ctx, b.ID, sampleFlow(""), 2); err != nil || got.Revision != 3 {
			t.Fatalf("second save: revision %v, err %v", got, err)
		}
	})

	t.Run("OKSameFlowKeepsRevision", func(t *testing.T) {
		db := mustOpen(t)
		b := mustCreateBot(t, db, "Orders", flow.Flow{})
		first, err := db.SaveDraft(ctx, b.ID, sampleFlow("shop_api"), 1)
		if err != nil {
			t.Fatal(err)
		}
		again, err := db.SaveDraft(ctx, b.ID, sampleFlow("shop_api"), 2)
		if err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "bot after an unchanged save", again, first)
		stored, err := db.Bot(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "stored bot", stored, first)
		// A stale revision is still refused, even with the same flow.
		_, err = db.SaveDraft(ctx, b.ID, sampleFlow("shop_api"), 1)
		wantCode(t, err, flow.ECONFLICT, "draft is at revision 2; you sent 1: reload and retry")
		// One changed field makes a revision.
		f := sampleFlow("shop_api")
		f.Steps[0].Name += "!"
		if got, err := db.SaveDraft(ctx, b.ID, f, 2); err != nil || got.Revision != 3 {
			t.Fatalf("changed save: %+v, %v; want revision 3", got, err)
		}
	})

	t.Run("ErrStaleRevision", func(t *testing.T) {
		db := mustOpen(t)
		b := mustCreateBot(t, db, "Orders", flow.Flow{})
		if _, err := db.SaveDraft(ctx, b.ID, sampleFlow(""), 1); err != nil {
			t.Fatal(err)
		}
		_, err := db.SaveDraft(ctx, b.ID, sampleFlow("other"), 1)
		wantCode(t, err, flow.ECONFLICT, "draft is at revision 2; you sent 1: reload and retry")
		stored, err := db.Bot(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "draft after refused save", stored.Flow, sampleFlow(""))
	})

	t.Run("ConcurrentSavesOneWins", func(t *testing.T) {
		db := mustOpen(t)
		b := mustCreateBot(t, db, "Orders", flow.Flow{})
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = db.SaveDraft(ctx, b.ID, sampleFlow(fmt.Sprint("c", i)), 1)
			}()
		}
		wg.Wait()
		var ok, conflicts int
		for _, err := range errs {
			switch flow.ErrorCode(err) {
			case "":
				ok++
			case flow.ECONFLICT:
				conflicts++
			default:
				t.Errorf("unexpected error %v", err)
			}
		}
		if ok != 1 || conflicts != 3 {
			t.Fatalf("%d saves succeeded and %d conflicted, want 1 and 3", ok, conflicts)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := mustOpen(t).SaveDraft(ctx, uuid.NewString(), flow.Flow{}, 1)
		wantCode(t, err, flow.ENOTFOUND, "")
	})
}

func TestDeleteBot(t *testing.T) {
	ctx := context.Background()

	t.Run("OKRemovesVersionsAndIndex", func(t *testing.T) {
		db := mustOpen(t)
		keep := mustCreateBot(t, db, "Keep", sampleFlow("shop_api"))
		b := mustCreateBot(t, db, "Orders", sampleFlow("shop_api"))
		for _, bot := range []*flow.Bot{keep, b} {
			if _, err := db.Publish(ctx, bot.ID, 1, "d"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.Publish(ctx, b.ID, 1, "d"); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteBot(ctx, b.ID); err != nil {
			t.Fatal(err)
		}
		_, err := db.Bot(ctx, b.ID)
		wantCode(t, err, flow.ENOTFOUND, "")
		_, err = db.Versions(ctx, b.ID)
		wantCode(t, err, flow.ENOTFOUND, "")
		_, err = db.Version(ctx, b.ID, 1)
		wantCode(t, err, flow.ENOTFOUND, "")
		bots, total, err := db.Bots(ctx, flow.Page{})
		if err != nil || total != 1 || len(bots) != 1 || bots[0].ID != keep.ID {
			t.Fatalf("bots after delete: %v, total %d, err %v", bots, total, err)
		}
		users, err := db.BotsUsingConnection(ctx, "shop_api")
		if err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "bots using shop_api", users, []flow.BotRef{{ID: keep.ID, Name: "Keep"}})
		err = db.db.View(func(tx *bolt.Tx) error {
			if tx.Bucket(bucketVersions).Bucket([]byte(b.ID)) != nil {
				t.Error("versions bucket of the deleted bot remains")
			}
			if tx.Bucket(bucketConnectionBots).Bucket([]byte("shop_api")).Get([]byte(b.ID)) != nil {
				t.Error("connection index still names the deleted bot")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// The last user leaving drops the index entry.
		if err := db.DeleteBot(ctx, keep.ID); err != nil {
			t.Fatal(err)
		}
		_ = db.db.View(func(tx *bolt.Tx) error {
			if k, _ := tx.Bucket(bucketConnectionBots).Cursor().First(); k != nil {
				t.Errorf("connection index keeps %q", k)
			}
			return nil
		})
		mustCheck(t, db)
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		db := mustOpen(t)
		b := mustCreateBot(t, db, "Orders", flow.Flow{})
		if err := db.DeleteBot(ctx, b.ID); err != nil {
			t.Fatal(err)
		}
		wantCode(t, db.DeleteBot(ctx, b.ID), flow.ENOTFOUND, "")
	})
}
