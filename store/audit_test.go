package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/flowbot/flowbot/flow"
)

func TestAuditEvents(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	events, total, err := db.AuditEvents(ctx, flow.Page{Limit: 10})
	if err != nil || total != 0 || events == nil || len(events) != 0 {
		t.Fatalf("empty log: %v (nil: %t), total %d, err %v", events, events == nil, total, err)
	}

	var added []*flow.AuditEvent
	for i := 0; i < 5; i++ {
		e := &flow.AuditEvent{Actor: "admin", Action: flow.AuditConnectionCreated, Target: fmt.Sprint("conn", i), Detail: map[string]string{"type": "bearer"}}
		if err := db.AddAuditEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
		if e.ID == "" || e.At.IsZero() {
			t.Fatalf("event %d: id %q, at %v; want both set", i, e.ID, e.At)
		}
		added = append(added, e)
	}
	given := &flow.AuditEvent{ID: "given", At: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), Actor: "a", Action: flow.AuditBotPublished, Target: "bot"}
	if err := db.AddAuditEvent(ctx, given); err != nil {
		t.Fatal(err)
	}
	if given.ID != "given" || given.At.Year() != 2020 {
		t.Fatalf("given id and time were replaced: %+v", given)
	}
	added = append(added, given)

	// Newest first means most recently added, whatever At says.
	newestFirst := []*flow.AuditEvent{added[5], added[4], added[3], added[2], added[1], added[0]}
	for _, tc := range []struct {
		name string
		page flow.Page
		want []*flow.AuditEvent
	}{
		{"All", flow.Page{}, newestFirst},
		{"FirstPage", flow.Page{Limit: 2}, newestFirst[:2]},
		{"SecondPage", flow.Page{Offset: 2, Limit: 2}, newestFirst[2:4]},
		{"PastTheEnd", flow.Page{Offset: 6, Limit: 2}, []*flow.AuditEvent{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, total, err := db.AuditEvents(ctx, tc.page)
			if err != nil {
				t.Fatal(err)
			}
			if total != 6 {
				t.Errorf("total = %d, want 6", total)
			}
			mustEqual(t, "events", got, tc.want)
		})
	}
}
