package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/flowbot/flowbot/flow"
	bolt "go.etcd.io/bbolt"
)

// schemaVersion is the layout this code reads and writes. Bump it, and add
// a migration to initSchema, when a bucket or record changes incompatibly.
const schemaVersion = 1

var (
	keySchemaVersion = []byte("schema_version")
	keyKeyCheck      = []byte("key_check")
	keyJournalLSN    = []byte("journal_lsn") // u64: the last journal record checkpointed into bbolt
)

// initSchema creates missing buckets and records or checks the schema
// version.
func initSchema(tx *bolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	meta := tx.Bucket(bucketMeta)
	v := meta.Get(keySchemaVersion)
	if v == nil {
		return meta.Put(keySchemaVersion, []byte(strconv.Itoa(schemaVersion)))
	}
	n, err := strconv.Atoi(string(v))
	if err != nil {
		return fmt.Errorf("bad schema version %q", v)
	}
	if n > schemaVersion {
		return fmt.Errorf("database schema version %d is newer than this flowbot supports (%d)", n, schemaVersion)
	}
	return nil
}

// KeyCheck returns the stored check value of the secret key.
// Returns ENOTFOUND if none was stored yet.
func (d *DB) KeyCheck(ctx context.Context) ([]byte, error) {
	var out []byte
	err := d.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get(keyKeyCheck)
		if v == nil {
			return flow.Errorf(flow.ENOTFOUND, "no secret key check value stored")
		}
		out = append([]byte(nil), v...) // v is only valid inside the tx
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SetKeyCheck stores the check value of the secret key, replacing any
// earlier one.
func (d *DB) SetKeyCheck(ctx context.Context, v []byte) error {
	if len(v) == 0 {
		return flow.Errorf(flow.EINVALID, "key check value is empty")
	}
	err := d.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyKeyCheck, v)
	})
	if err != nil {
		return storeErr("set key check", err)
	}
	return nil
}

// u64 encodes n big-endian so keys sort numerically.
func u64(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

// pageBounds normalises a page: a negative offset counts as 0 and a limit
// of 0 or less means "no limit".
func pageBounds(p flow.Page) (offset, limit int) {
	offset, limit = p.Offset, p.Limit
	if offset < 0 {
		offset = 0
	}
	if limit <= 0 {
		limit = int(^uint(0) >> 1)
	}
	return offset, limit
}
