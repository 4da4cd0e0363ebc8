package store

import (
	"context"
	"encoding/hex"

	"github.com/flowbot/flowbot/flow"
	bolt "go.etcd.io/bbolt"
)

// maxRecentScan bounds how many conversations, of all bots, one call of
// RecentConversations looks at.
var maxRecentScan = 20000 // a variable for tests

// RecentConversations returns up to limit conversations of the bot that
// pass f, most recently updated first, for designers to see how the bot is used.
// cursor is "" for the newest, or a next cursor returned before; next is
// "" when nothing older is left. One call looks at the maxRecentScan most
// recent conversations of all bots at most: it may return fewer than
// limit with a next cursor to go on from. Every turn acknowledged before
// the first page's call is seen: that call checkpoints the journal, and
// the pages after it walk on below (a conversation that takes a turn
// meanwhile moves above the walk, as on any paged list). The token hash
// is not returned. Returns EINVALID for a cursor it did not make.
func (d *DB) RecentConversations(ctx context.Context, botID string, f flow.ConversationFilter, cursor string, limit int) (convs []*flow.Conversation, next string, err error) {
	var from []byte
	if cursor != "" {
		if from, err = hex.DecodeString(cursor); err != nil || len(from) <= 8 {
			return nil, "", flow.Errorf(flow.EINVALID, "cursor %q is not one this server returned", cursor)
		}
	}
	if from == nil {
		if err := d.turns.checkpoint(ctx); err != nil {
			return nil, "", storeErr("recent conversations", err)
		}
	}
	err = d.db.View(func(tx *bolt.Tx) error {
		states := tx.Bucket(bucketConversations)
		c := tx.Bucket(bucketConversationsByUpdated).Cursor()
		// Keys are updated time + id; the walk goes from the newest down,
		// starting below the cursor (the last key the previous call saw).
		k, _ := c.Last()
		if from != nil {
			if k, _ = c.Seek(from); k == nil {
				k, _ = c.Last()
			} else {
				k, _ = c.Prev()
			}
		}
		var last []byte
		for scanned := 0; k != nil && scanned < maxRecentScan && len(convs) < limit; k, _ = c.Prev() {
			scanned++
			last = k
			if len(k) <= 8 {
				continue
			}
			v := states.Get(k[8:])
			if v == nil {
				continue
			}
			if h, err := decodeStateHeader(v); err == nil && h.format == stateFormatBinary {
				if bot, ver, st, ok := recordHead(h.record); ok && (string(bot) != botID || f.Status != "" && string(st) != f.Status || f.Version != 0 && ver != f.Version) {
					continue // not shown, so not decoded (a malformed head still fails below)
				}
			}
			conv, err := decodeConversation(k[8:], v)
			if err != nil {
				return err
			}
			if conv.BotID == botID && (f.Status == "" || conv.Status == f.Status) && (f.Version == 0 || conv.Version == f.Version) {
				conv.TokenHash = nil
				convs = append(convs, conv)
			}
		}
		if k != nil && last != nil {
			next = hex.EncodeToString(last) // more, older ones are left
		}
		return nil
	})
	return convs, next, storeErr("recent conversations", err)
}
