package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/flowbot/flowbot/flow"
	bolt "go.etcd.io/bbolt"
)

// handoffRecord is a hand-off notice waiting to reach the help desk: the
// body as it will be sent, and when it was made (a notice is given up a
// while after that, however often the server restarted meanwhile).
type handoffRecord struct {
	Made time.Time `json:"made"`
	Body []byte    `json:"body"`
}

// PutHandoff stores the notice id (body as it will be sent, made at made)
// in the outbox, on disk before it returns. Returns ECONFLICT if id is
// there already.
func (d *DB) PutHandoff(ctx context.Context, id string, made time.Time, body []byte) error {
	if id == "" {
		return flow.Errorf(flow.EINVALID, "hand-off notice has no id")
	}
	v, err := json.Marshal(handoffRecord{Made: made.UTC(), Body: body})
	if err != nil {
		return internal("encode hand-off notice", err)
	}
	err = d.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketHandoffs)
		if b.Get([]byte(id)) != nil {
			return flow.Errorf(flow.ECONFLICT, "hand-off notice %q is already in the outbox", id)
		}
		return b.Put([]byte(id), v)
	})
	if err != nil {
		return storeErr("store hand-off notice", err)
	}
	return nil
}

// Handoffs calls fn with the notices in the outbox, in id order, until fn
// returns false. fn runs inside a read transaction: it must not write to
// the store (start the work elsewhere). body is a copy fn may keep. A
// record that cannot be read is skipped and reported once all are seen:
// one bad record must not hold the others back.
func (d *DB) Handoffs(ctx context.Context, fn func(id string, made time.Time, body []byte) bool) error {
	var bad []string
	err := d.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketHandoffs).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var rec handoffRecord
			// Unmarshal copies Body out of the mmap.
			if err := json.Unmarshal(v, &rec); err != nil {
				bad = append(bad, string(k))
				continue
			}
			if !fn(string(k), rec.Made, rec.Body) {
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return storeErr("read hand-off outbox", err)
	}
	if len(bad) > 0 {
		return fmt.Errorf("hand-off outbox: %d unreadable records skipped (first %q)", len(bad), bad[0])
	}
	return nil
}

// DeleteHandoff removes the notice id from the outbox: it was delivered
// or given up. Deleting one that is not there is not an error.
func (d *DB) DeleteHandoff(ctx context.Context, id string) error {
	err := d.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketHandoffs).Delete([]byte(id))
	})
	if err != nil {
		return storeErr("delete hand-off notice", err)
	}
	return nil
}

// HasHandoff reports whether the notice id is still in the outbox: it is
// not once delivered, given up, or erased with its conversation.
func (d *DB) HasHandoff(ctx context.Context, id string) (bool, error) {
	return view(d, "read hand-off notice", func(tx *bolt.Tx) (bool, error) {
		return tx.Bucket(bucketHandoffs).Get([]byte(id)) != nil, nil
	})
}

// deleteConversationHandoffs removes from the outbox the notices about
// conversation id, for its erasure: they hold its user and transcript.
// The outbox holds only notices not yet delivered, so the walk is short.
func deleteConversationHandoffs(tx *bolt.Tx, id string) error {
	b := tx.Bucket(bucketHandoffs)
	var doomed [][]byte
	err := b.ForEach(func(k, v []byte) error {
		var rec handoffRecord
		var n struct {
			ConversationID string `json:"conversation_id"`
		}
		if json.Unmarshal(v, &rec) == nil && json.Unmarshal(rec.Body, &n) == nil && n.ConversationID == id {
			doomed = append(doomed, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range doomed {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
