package store

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/flowbot/flowbot/flow"
	bolt "go.etcd.io/bbolt"
)

// versionRecord is a published version as stored. It is written once and
// never changed.
type versionRecord struct {
	BotID       string    `json:"bot_id"`
	Number      int       `json:"number"`
	Revision    int64     `json:"revision"`
	Flow        flow.Flow `json:"flow"`
	PublishedAt time.Time `json:"published_at"`
	PublishedBy string    `json:"published_by"`
}

func (r *versionRecord) version() *flow.Version {
	return &flow.Version{
		BotID:       r.BotID,
		Number:      r.Number,
		Revision:    r.Revision,
		Flow:        r.Flow,
		PublishedAt: r.PublishedAt,
		PublishedBy: r.PublishedBy,
	}
}

// Publish snapshots the draft as the next version if the stored revision
// equals revision (the one that was validated), makes it the bot's
// published version and updates the connection index.
// Returns ENOTFOUND, or ECONFLICT when the draft changed meanwhile.
func (d *DB) Publish(ctx context.Context, id string, revision int64, by string) (*flow.Version, error) {
	var v *flow.Version
	err := d.db.Update(func(tx *bolt.Tx) error {
		rec, err := getBot(tx, id)
		if err != nil {
			return err
		}
		if rec.Revision != revision {
			return flow.Errorf(flow.ECONFLICT, "draft is at revision %d; you published %d: reload and retry", rec.Revision, revision)
		}
		now := d.now()
		vr := &versionRecord{
			BotID:       rec.ID,
			Number:      rec.PublishedVersion + 1,
			Revision:    rec.Revision,
			Flow:        rec.Flow,
			PublishedAt: now,
			PublishedBy: by,
		}
		if err := putVersion(tx, vr); err != nil {
			return err
		}
		conns := connectionsOf(rec.Flow)
		if err := unindexConnections(tx, rec.ID, rec.Connections); err != nil {
			return err
		}
		if err := indexConnections(tx, rec.ID, conns); err != nil {
			return err
		}
		rec.Connections = conns
		rec.PublishedVersion = vr.Number
		rec.UpdatedAt = now
		v = vr.version()
		return putBot(tx, rec)
	})
	if err != nil {
		return nil, storeErr("publish", err)
	}
	return v, nil
}

// Versions lists a bot's versions, newest first; an empty list when it was
// never published. Returns ENOTFOUND if there is no such bot.
func (d *DB) Versions(ctx context.Context, botID string) ([]*flow.Version, error) {
	vs := []*flow.Version{}
	err := d.db.View(func(tx *bolt.Tx) error {
		if _, err := getBot(tx, botID); err != nil {
			return err
		}
		b := tx.Bucket(bucketVersions).Bucket([]byte(botID))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, val := c.Last(); k != nil; k, val = c.Prev() {
			vr, err := decodeVersion(botID, val)
			if err != nil {
				return err
			}
			vs = append(vs, vr.version())
		}
		return nil
	})
	if err != nil {
		return nil, storeErr("list versions", err)
	}
	return vs, nil
}

// Version returns version n of a bot. Returns ENOTFOUND if there is no
// such bot or version.
func (d *DB) Version(ctx context.Context, botID string, n int) (*flow.Version, error) {
	return view(d, "read version", func(tx *bolt.Tx) (*flow.Version, error) {
		if err := botExists(tx, botID); err != nil {
			return nil, err
		}
		var val []byte
		if b := tx.Bucket(bucketVersions).Bucket([]byte(botID)); b != nil && n > 0 {
			val = b.Get(u64(uint64(n)))
		}
		if val == nil {
			return nil, flow.Errorf(flow.ENOTFOUND, "bot %s has no version %d", botID, n)
		}
		vr, err := decodeVersion(botID, val)
		if err != nil {
			return nil, err
		}
		return vr.version(), nil
	})
}

// BotsUsingConnection returns the bots whose latest published version has
// an api_call step using the named connection, sorted by name, then id.
func (d *DB) BotsUsingConnection(ctx context.Context, name string) ([]flow.BotRef, error) {
	var bots []flow.BotRef
	err := d.db.View(func(tx *bolt.Tx) (err error) {
		bots, err = botsUsing(tx, name)
		return err
	})
	if err != nil {
		return nil, storeErr("bots using connection", err)
	}
	return bots, nil
}

// botsUsing reads the connection_bots index that Publish and DeleteBot
// maintain, so its cost does not grow with the number of bots or versions.
func botsUsing(tx *bolt.Tx, name string) ([]flow.BotRef, error) {
	bots := []flow.BotRef{}
	if name == "" {
		return bots, nil
	}
	b := tx.Bucket(bucketConnectionBots).Bucket([]byte(name))
	if b == nil {
		return bots, nil
	}
	err := b.ForEach(func(id, _ []byte) error {
		rec, err := getBot(tx, string(id))
		if err != nil {
			return err
		}
		bots = append(bots, flow.BotRef{ID: rec.ID, Name: rec.Name})
		return nil
	})
	slices.SortFunc(bots, func(a, b flow.BotRef) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.ID, b.ID))
	})
	return bots, err
}

// connectionsOf returns the sorted, distinct connection names the api_call
// steps of f use.
func connectionsOf(f flow.Flow) []string {
	var names []string
	for _, s := range f.Steps {
		if s.Type == flow.TypeAPICall && s.Connection != "" {
			names = append(names, s.Connection)
		}
	}
	sort.Strings(names)
	out := names[:0]
	for i, n := range names {
		if i == 0 || n != names[i-1] {
			out = append(out, n)
		}
	}
	return out
}

// indexConnections records that bot id uses each named connection.
func indexConnections(tx *bolt.Tx, id string, names []string) error {
	idx := tx.Bucket(bucketConnectionBots)
	for _, n := range names {
		b, err := idx.CreateBucketIfNotExists([]byte(n))
		if err != nil {
			return fmt.Errorf("index connection %q: %w", n, err)
		}
		if err := b.Put([]byte(id), []byte{}); err != nil {
			return err
		}
	}
	return nil
}

// unindexConnections removes bot id from each named connection's entry,
// dropping entries that become empty.
func unindexConnections(tx *bolt.Tx, id string, names []string) error {
	idx := tx.Bucket(bucketConnectionBots)
	for _, n := range names {
		b := idx.Bucket([]byte(n))
		if b == nil {
			continue
		}
		if err := b.Delete([]byte(id)); err != nil {
			return err
		}
		if k, _ := b.Cursor().First(); k == nil {
			if err := idx.DeleteBucket([]byte(n)); err != nil {
				return err
			}
		}
	}
	return nil
}

func putVersion(tx *bolt.Tx, vr *versionRecord) error {
	b, err := tx.Bucket(bucketVersions).CreateBucketIfNotExists([]byte(vr.BotID))
	if err != nil {
		return err
	}
	key := u64(uint64(vr.Number))
	if b.Get(key) != nil {
		// Versions are immutable; reaching this means the bot record and
		// its versions disagree.
		return fmt.Errorf("version %d of bot %s already exists", vr.Number, vr.BotID)
	}
	val, err := json.Marshal(vr)
	if err != nil {
		return fmt.Errorf("encode version: %w", err)
	}
	return b.Put(key, val)
}

func decodeVersion(botID string, val []byte) (*versionRecord, error) {
	var vr versionRecord
	if err := json.Unmarshal(val, &vr); err != nil {
		return nil, fmt.Errorf("decode version of bot %s: %w", botID, err)
	}
	return &vr, nil
}

// deleteVersions removes every version of bot id.
func deleteVersions(tx *bolt.Tx, id string) error {
	vb := tx.Bucket(bucketVersions)
	if vb.Bucket([]byte(id)) == nil {
		return nil
	}
	return vb.DeleteBucket([]byte(id))
}

// PublishedVersion returns the number of the bot's latest published
// version, 0 if it was never published: the last key of its versions
// bucket. Neither the bot record nor its draft is decoded (a conversation
// start calls this, and a 10,000-step draft took 22 ms to decode).
// Returns ENOTFOUND.
func (d *DB) PublishedVersion(ctx context.Context, botID string) (int, error) {
	return view(d, "read published version", func(tx *bolt.Tx) (int, error) {
		if err := botExists(tx, botID); err != nil {
			return 0, err
		}
		if b := tx.Bucket(bucketVersions).Bucket([]byte(botID)); b != nil {
			if k, _ := b.Cursor().Last(); len(k) == 8 {
				return int(binary.BigEndian.Uint64(k)), nil
			}
		}
		return 0, nil
	})
}

// botExists returns ENOTFOUND unless the bot id is stored; it decodes
// nothing.
func botExists(tx *bolt.Tx, id string) error {
	if tx.Bucket(bucketBots).Get([]byte(id)) == nil {
		return flow.Errorf(flow.ENOTFOUND, "bot %s not found", id)
	}
	return nil
}
