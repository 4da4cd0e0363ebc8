package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/flowbot/flowbot/flow"
	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"
)

// auditRecord is an audit event as stored, under a sequence key so the
// bucket's order is the order events were added.
type auditRecord struct {
	ID     string            `json:"id"`
	At     time.Time         `json:"at"`
	Actor  string            `json:"actor"`
	Action string            `json:"action"`
	Target string            `json:"target"`
	Detail map[string]string `json:"detail,omitempty"`
}

func (r *auditRecord) event() *flow.AuditEvent {
	return &flow.AuditEvent{ID: r.ID, At: r.At, Actor: r.Actor, Action: r.Action, Target: r.Target, Detail: r.Detail}
}

// AddAuditEvent appends e, setting its ID (a UUIDv7) when empty and At when
// zero. Events are never changed or removed.
func (d *DB) AddAuditEvent(ctx context.Context, e *flow.AuditEvent) error {
	id := e.ID
	if id == "" {
		u, err := uuid.NewV7()
		if err != nil {
			return internal("new audit event id", err)
		}
		id = u.String()
	}
	at := e.At
	if at.IsZero() {
		at = d.now()
	}
	rec := &auditRecord{ID: id, At: at.UTC(), Actor: e.Actor, Action: e.Action, Target: e.Target, Detail: e.Detail}
	v, err := json.Marshal(rec)
	if err != nil {
		return internal("encode audit event", err)
	}
	err = d.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAudit)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		return b.Put(u64(seq), v)
	})
	if err != nil {
		return storeErr("add audit event", err)
	}
	e.ID, e.At = id, rec.At
	return nil
}

// AuditEvents returns a page of events, newest first, and the total. A
// limit of 0 or less returns every event from the offset.
func (d *DB) AuditEvents(ctx context.Context, p flow.Page) ([]*flow.AuditEvent, int, error) {
	offset, limit := pageBounds(p)
	events := []*flow.AuditEvent{}
	var total int
	err := d.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAudit)
		total = b.Stats().KeyN
		c := b.Cursor()
		i := 0
		for k, v := c.Last(); k != nil && len(events) < limit; k, v = c.Prev() {
			if i++; i <= offset {
				continue
			}
			var rec auditRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("decode audit event %x: %w", k, err)
			}
			events = append(events, rec.event())
		}
		return nil
	})
	if err != nil {
		return nil, 0, storeErr("list audit events", err)
	}
	return events, total, nil
}
