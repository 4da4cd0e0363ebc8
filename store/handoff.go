package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/flowbot/flowbot/flow"
	bolt "go.etcd.io/bbolt"
)

// handoffRecord is a hand-off notice waiting to reach the help desk: the
// body as it will be sent, the conversation it is about, and when it was
// made (a notice is given up a while after that, however often the server
// restarted meanwhile).
type handoffRecord struct {
	Made         time.Time `json:"made"`
	Conversation string    `json:"conversation"`
	Body         []byte    `json:"body"`
}

// PutHandoff stores the notice id about conversation conv (body as it will
// be sent, made at made) in the outbox, on disk before it returns. It
// returns ENOTFOUND when conv is no longer stored (erased since its turn
// was): the notice must not outlive it. ECONFLICT if id is there already.
func (d *DB) PutHandoff(ctx context.Context, id, conv string, made time.Time, body []byte) error {
	if id == "" || conv == "" {
		return flow.Errorf(flow.EINVALID, "hand-off notice has no id or conversation")
	}
	v, err := json.Marshal(handoffRecord{Made: made.UTC(), Conversation: conv, Body: body})
	if err != nil {
		return internal("encode hand-off notice", err)
	}
	err = d.db.Update(func(tx *bolt.Tx) error {
		// The conversation's latest turn may still be in the journal
		// only. An erasure checkpoints first and then refuses its turns,
		// so once erased it is in neither place.
		if !d.conversationStored(tx, conv) {
			return flow.Errorf(flow.ENOTFOUND, "conversation %s not found", conv)
		}
		b := tx.Bucket(bucketHandoffs)
		if b.Get([]byte(id)) != nil {
			return flow.Errorf(flow.ECONFLICT, "hand-off notice %q is already in the outbox", id)
		}
		if err := b.Put([]byte(id), v); err != nil {
			return err
		}
		return tx.Bucket(bucketHandoffsByConv).Put(handoffConvKey(conv, id), nil)
	})
	if err != nil {
		return storeErr("store hand-off notice", err)
	}
	return nil
}

// conversationStored reports whether conversation conv is stored, in
// bbolt or, its latest turn still only in the journal, in the overlay.
func (d *DB) conversationStored(tx *bolt.Tx, conv string) bool {
	return tx.Bucket(bucketConversations).Get([]byte(conv)) != nil || d.turns.overlayState(conv) != nil
}

// handoffConvKey is a notice's key in bucketHandoffsByConv.
func handoffConvKey(conv, id string) []byte {
	k := make([]byte, 0, len(conv)+1+len(id))
	k = append(k, conv...)
	k = append(k, 0)
	return append(k, id...)
}

// Handoffs calls fn with the notices in the outbox, in id order, until fn
// returns false. fn runs inside a read transaction: it must not write to
// the store (start the work elsewhere). body is a copy fn may keep. A
// record that cannot be read is skipped and reported once all are seen:
// one bad record must not hold the others back.
func (d *DB) Handoffs(ctx context.Context, fn func(id, conversationID string, made time.Time, body []byte) bool) error {
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
			if !fn(string(k), rec.Conversation, rec.Made, rec.Body) {
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

// handoffDone marks, in bucketHandoffsByConv, a notice no longer in the
// outbox (delivered or given up): the conversation had its notice.
var handoffDone = []byte("done")

// DeleteHandoff removes the notice id from the outbox: it was delivered
// or given up. Its conversation keeps the mark that it had a notice
// (HandoffMade) until the conversation is erased or expires. Deleting one
// that is not there is not an error.
func (d *DB) DeleteHandoff(ctx context.Context, id string) error {
	err := d.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketHandoffs)
		if v := b.Get([]byte(id)); v != nil {
			var rec handoffRecord
			if json.Unmarshal(v, &rec) == nil && rec.Conversation != "" {
				idx, k := tx.Bucket(bucketHandoffsByConv), handoffConvKey(rec.Conversation, id)
				var err error
				if d.conversationStored(tx, rec.Conversation) {
					err = idx.Put(k, handoffDone)
				} else { // expired meanwhile: nothing is left to mark
					err = idx.Delete(k)
				}
				if err != nil {
					return err
				}
			}
		}
		return b.Delete([]byte(id))
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

// HandoffMade reports whether a hand-off notice about conversation conv
// was ever stored: it is in the outbox, or was delivered or given up.
// A notice lost to a crash between its turn and its write is not.
func (d *DB) HandoffMade(ctx context.Context, conv string) (bool, error) {
	return view(d, "read hand-off notices", func(tx *bolt.Tx) (bool, error) {
		prefix := append([]byte(conv), 0)
		k, _ := tx.Bucket(bucketHandoffsByConv).Cursor().Seek(prefix)
		return k != nil && bytes.HasPrefix(k, prefix), nil
	})
}

// deleteConversationHandoffs removes the marks of conversation id's
// notices delivered or given up, and, when pending is set (an erasure:
// they hold its user and transcript), its notices still in the outbox.
// Retention leaves those to be delivered or given up (DeleteHandoff then
// drops their marks). The index by conversation makes it a short prefix
// walk, however full the outbox is while a help desk is down.
func deleteConversationHandoffs(tx *bolt.Tx, id string, pending bool) error {
	idx := tx.Bucket(bucketHandoffsByConv)
	prefix := append([]byte(id), 0)
	var keys [][]byte
	c := idx.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if pending || bytes.Equal(v, handoffDone) {
			keys = append(keys, append([]byte(nil), k...))
		}
	}
	out := tx.Bucket(bucketHandoffs)
	for _, k := range keys {
		if err := out.Delete(k[len(prefix):]); err != nil {
			return err
		}
		if err := idx.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// TransferredBetween returns the conversations, of all bots, that are
// transferred and were last updated at or after from and before to,
// oldest first (the token hash is not returned). The journal is
// checkpointed first, so every turn acknowledged before the call counts.
// A start-up uses it to find transfers whose notice a crash lost. An
// unreadable record is skipped: the others are returned with an error
// that names it.
func (d *DB) TransferredBetween(ctx context.Context, from, to time.Time) ([]*flow.Conversation, error) {
	if err := d.turns.checkpoint(ctx); err != nil {
		return nil, storeErr("transferred conversations", err)
	}
	var bad []string
	out, err := view(d, "transferred conversations", func(tx *bolt.Tx) ([]*flow.Conversation, error) {
		var out []*flow.Conversation
		states := tx.Bucket(bucketConversations)
		c := tx.Bucket(bucketConversationsByUpdated).Cursor()
		end := uint64(to.UnixNano())
		for k, _ := c.Seek(u64(uint64(from.UnixNano()))); k != nil; k, _ = c.Next() {
			if len(k) <= 8 {
				continue
			}
			if binary.BigEndian.Uint64(k) >= end {
				break
			}
			v := states.Get(k[8:])
			if v == nil {
				continue
			}
			if h, err := decodeStateHeader(v); err == nil && h.format == stateFormatBinary {
				if _, _, st, ok := recordHead(h.record); ok && string(st) != flow.StatusTransferred {
					continue // not decoded: most conversations are not transferred
				}
			}
			conv, err := decodeConversation(k[8:], v)
			if err != nil {
				bad = append(bad, string(k[8:]))
				continue
			}
			if conv.Status == flow.StatusTransferred {
				conv.TokenHash = nil
				out = append(out, conv)
			}
		}
		return out, nil
	})
	if err == nil && len(bad) > 0 {
		err = fmt.Errorf("transferred conversations: %d unreadable records skipped (first %q)", len(bad), bad[0])
	}
	return out, err
}

// keyHandoffsSince holds when a help desk was first configured (unix
// nanos): transfers before it never had a notice to lose.
var keyHandoffsSince = []byte("handoffs_since")

// HandoffsSince returns since when hand-off notices have been kept without
// a break: the time of the first call since the last
// ForgetHandoffsSince, which it records.
func (d *DB) HandoffsSince(ctx context.Context, now time.Time) (time.Time, error) {
	since, err := d.HandoffsKeptSince(ctx)
	if err != nil || !since.IsZero() {
		return since, err // recorded: no write
	}
	err = d.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		if v := b.Get(keyHandoffsSince); len(v) == 8 {
			since = time.Unix(0, int64(binary.BigEndian.Uint64(v)))
			return nil
		}
		since = now
		return b.Put(keyHandoffsSince, u64(uint64(now.UnixNano())))
	})
	return since, storeErr("hand-off start time", err)
}

// HandoffsKeptSince returns the time HandoffsSince recorded, or the zero
// time when none is.
func (d *DB) HandoffsKeptSince(ctx context.Context) (time.Time, error) {
	return view(d, "hand-off start time", func(tx *bolt.Tx) (time.Time, error) {
		if v := tx.Bucket(bucketMeta).Get(keyHandoffsSince); len(v) == 8 {
			return time.Unix(0, int64(binary.BigEndian.Uint64(v))), nil
		}
		return time.Time{}, nil
	})
}

// ForgetHandoffsSince drops the time HandoffsSince recorded: a start
// without a help desk calls it, so the transfers it lets through without
// a notice are not taken for notices a crash lost when a desk is
// configured again.
func (d *DB) ForgetHandoffsSince(ctx context.Context) error {
	err := d.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		if b.Get(keyHandoffsSince) == nil {
			return nil // no write when there is nothing to forget
		}
		return b.Delete(keyHandoffsSince)
	})
	return storeErr("hand-off start time", err)
}

// MarkHandoffDone records that conversation conv had its notice id, one
// sent without being stored (the outbox write failed): HandoffMade then
// says so, and a start does not make the notice again. Nothing is
// recorded for a conversation no longer stored.
func (d *DB) MarkHandoffDone(ctx context.Context, id, conv string) error {
	err := d.db.Update(func(tx *bolt.Tx) error {
		if !d.conversationStored(tx, conv) {
			return nil
		}
		return tx.Bucket(bucketHandoffsByConv).Put(handoffConvKey(conv, id), handoffDone)
	})
	return storeErr("mark hand-off notice", err)
}
