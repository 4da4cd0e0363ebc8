package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/flowbot/flowbot/flow"
	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"
)

// botRecord is a bot as stored. Seq orders bots by creation; Connections
// names the connections the latest published version uses, so publishing
// and deleting can keep the connection_bots index right.
type botRecord struct {
	ID               string    `json:"id"`
	Seq              uint64    `json:"seq"`
	Name             string    `json:"name"`
	Description      string    `json:"description"`
	Flow             flow.Flow `json:"flow"`
	Revision         int64     `json:"revision"`
	PublishedVersion int       `json:"published_version"`
	Connections      []string  `json:"connections,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

func (r *botRecord) bot() *flow.Bot {
	return &flow.Bot{
		ID:               r.ID,
		Name:             r.Name,
		Description:      r.Description,
		Flow:             r.Flow,
		Revision:         r.Revision,
		PublishedVersion: r.PublishedVersion,
		CreatedAt:        r.CreatedAt,
		UpdatedAt:        r.UpdatedAt,
	}
}

// CreateBot stores b, setting its ID (a new UUIDv7 when empty, else the
// given UUID in canonical form), Revision 1, PublishedVersion 0, CreatedAt
// and UpdatedAt. Returns EINVALID if a given ID is not a UUID and ECONFLICT
// if it exists.
func (d *DB) CreateBot(ctx context.Context, b *flow.Bot) error {
	id := b.ID
	if id == "" {
		u, err := uuid.NewV7()
		if err != nil {
			return internal("new bot id", err)
		}
		id = u.String()
	} else if u, err := uuid.Parse(id); err != nil {
		return flow.Errorf(flow.EINVALID, "bot id %q is not a UUID", id)
	} else {
		id = u.String() // canonical form, so one bot has one key
	}
	now := d.now()
	rec := &botRecord{
		ID:          id,
		Name:        b.Name,
		Description: b.Description,
		Flow:        b.Flow,
		Revision:    1,
		CreatedAt:   now,
		UpdatedAt:   now,
	}
	err := d.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketBots).Get([]byte(id)) != nil {
			return flow.Errorf(flow.ECONFLICT, "bot %s already exists", id)
		}
		bySeq := tx.Bucket(bucketBotsBySeq)
		seq, err := bySeq.NextSequence()
		if err != nil {
			return err
		}
		rec.Seq = seq
		return putBot(tx, rec) // and its summary under seq
	})
	if err != nil {
		return storeErr("create bot", err)
	}
	b.ID, b.Revision, b.PublishedVersion = id, 1, 0
	b.CreatedAt, b.UpdatedAt = now, now
	return nil
}

// Bot returns the bot with id. Returns ENOTFOUND if there is none.
func (d *DB) Bot(ctx context.Context, id string) (*flow.Bot, error) {
	return view(d, "read bot", func(tx *bolt.Tx) (*flow.Bot, error) {
		rec, err := getBot(tx, id)
		if err != nil {
			return nil, err
		}
		return rec.bot(), nil
	})
}

// Bots returns a page of bot summaries ordered by creation (oldest first) and the
// total count. A limit of 0 or less returns every bot from the offset.
func (d *DB) Bots(ctx context.Context, p flow.Page) ([]*flow.BotSummary, int, error) {
	offset, limit := pageBounds(p)
	bots := []*flow.BotSummary{}
	var total int
	err := d.db.View(func(tx *bolt.Tx) error {
		bySeq := tx.Bucket(bucketBotsBySeq)
		total = bySeq.Stats().KeyN
		c := bySeq.Cursor()
		i := 0
		for k, v := c.First(); k != nil && len(bots) < limit; k, v = c.Next() {
			if i++; i <= offset {
				continue
			}
			s, err := botSummary(tx, v)
			if err != nil {
				return err
			}
			bots = append(bots, s)
		}
		return nil
	})
	if err != nil {
		return nil, 0, storeErr("list bots", err)
	}
	return bots, total, nil
}

// UpdateBot changes name or description without touching the draft or its
// revision. Returns ENOTFOUND.
func (d *DB) UpdateBot(ctx context.Context, id string, u flow.BotUpdate) (*flow.Bot, error) {
	var b *flow.Bot
	err := d.db.Update(func(tx *bolt.Tx) error {
		rec, err := getBot(tx, id)
		if err != nil {
			return err
		}
		if u.Name != nil {
			rec.Name = *u.Name
		}
		if u.Description != nil {
			rec.Description = *u.Description
		}
		rec.UpdatedAt = d.now()
		b = rec.bot()
		return putBot(tx, rec)
	})
	if err != nil {
		return nil, storeErr("update bot", err)
	}
	return b, nil
}

// SaveDraft replaces the draft flow if the stored revision equals
// ifRevision and returns the bot with its new revision. A flow equal to
// the stored draft changes nothing: the bot comes back as it is, at the
// same revision, so an editor's repeated save makes no new revision.
// Returns ENOTFOUND, or ECONFLICT naming the current revision when
// ifRevision is stale.
func (d *DB) SaveDraft(ctx context.Context, id string, f flow.Flow, ifRevision int64) (*flow.Bot, error) {
	var b *flow.Bot
	err := d.db.Update(func(tx *bolt.Tx) error {
		rec, err := getBot(tx, id)
		if err != nil {
			return err
		}
		if rec.Revision != ifRevision {
			return flow.Errorf(flow.ECONFLICT, "draft is at revision %d; you sent %d: reload and retry", rec.Revision, ifRevision)
		}
		if same, err := flow.SameFlow(&rec.Flow, &f); err != nil {
			return err
		} else if same {
			b = rec.bot()
			return errUnchanged // roll back: nothing to write
		}
		rec.Flow = f
		rec.Revision++
		rec.UpdatedAt = d.now()
		b = rec.bot()
		return putBot(tx, rec)
	})
	if err != nil && err != errUnchanged {
		return nil, storeErr("save draft", err)
	}
	return b, nil
}

// errUnchanged rolls back a write transaction that found nothing to change.
var errUnchanged = errors.New("unchanged")

// DeleteBot removes a bot with its versions and its entries in the
// connection index. Returns ENOTFOUND.
func (d *DB) DeleteBot(ctx context.Context, id string) error {
	err := d.db.Update(func(tx *bolt.Tx) error {
		rec, err := getBot(tx, id)
		if err != nil {
			return err
		}
		if err := unindexConnections(tx, rec.ID, rec.Connections); err != nil {
			return err
		}
		if err := deleteVersions(tx, rec.ID); err != nil {
			return err
		}
		if err := tx.Bucket(bucketBotsBySeq).Delete(u64(rec.Seq)); err != nil {
			return err
		}
		return tx.Bucket(bucketBots).Delete([]byte(rec.ID))
	})
	if err != nil {
		return storeErr("delete bot", err)
	}
	return nil
}

// getBot decodes the bot with id. Returns ENOTFOUND.
func getBot(tx *bolt.Tx, id string) (*botRecord, error) {
	v := tx.Bucket(bucketBots).Get([]byte(id))
	if v == nil {
		return nil, flow.Errorf(flow.ENOTFOUND, "bot %s not found", id)
	}
	var rec botRecord
	// Unmarshal copies what it keeps, so nothing refers to v after the tx.
	if err := json.Unmarshal(v, &rec); err != nil {
		return nil, fmt.Errorf("decode bot %s: %w", id, err)
	}
	return &rec, nil
}

// putBot stores rec and, under its creation seq, its summary: lists read
// the small summary and never decode a flow.
func putBot(tx *bolt.Tx, rec *botRecord) error {
	v, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode bot %s: %w", rec.ID, err)
	}
	if err := tx.Bucket(bucketBots).Put([]byte(rec.ID), v); err != nil {
		return err
	}
	s, err := json.Marshal(rec.summary())
	if err != nil {
		return fmt.Errorf("encode bot summary %s: %w", rec.ID, err)
	}
	return tx.Bucket(bucketBotsBySeq).Put(u64(rec.Seq), s)
}

func (r *botRecord) summary() *flow.BotSummary {
	return &flow.BotSummary{
		ID: r.ID, Name: r.Name, Description: r.Description, Revision: r.Revision,
		PublishedVersion: r.PublishedVersion, Steps: len(r.Flow.Steps), CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
}

// botSummary decodes a bots_by_seq value: a summary (a JSON object), or,
// as stores before summaries kept it, the bot id, whose record is then
// read whole.
func botSummary(tx *bolt.Tx, v []byte) (*flow.BotSummary, error) {
	if len(v) > 0 && v[0] == '{' {
		var s flow.BotSummary
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, fmt.Errorf("decode bot summary: %w", err)
		}
		return &s, nil
	}
	rec, err := getBot(tx, string(v))
	if err != nil {
		return nil, err
	}
	return rec.summary(), nil
}
