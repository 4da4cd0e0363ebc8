package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/flowbot/flowbot/flow"
	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"
)

// apiKeyRecord is an API key as stored. Unlike flow.APIKey it keeps Hash.
type apiKeyRecord struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Role       flow.Role  `json:"role"`
	Prefix     string     `json:"prefix"`
	Hash       []byte     `json:"hash"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	CreatedBy  string     `json:"created_by"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	// AllowedIPs are kept in their canonical text form. A record written
	// before keys had them has none, and allows any address.
	AllowedIPs []flow.IPRange `json:"allowed_ips,omitempty"`
}

func (r *apiKeyRecord) key() *flow.APIKey {
	return &flow.APIKey{
		ID:         r.ID,
		Name:       r.Name,
		Role:       r.Role,
		Prefix:     r.Prefix,
		Hash:       r.Hash,
		ExpiresAt:  r.ExpiresAt,
		AllowedIPs: r.AllowedIPs,
		CreatedAt:  r.CreatedAt,
		CreatedBy:  r.CreatedBy,
		LastUsedAt: r.LastUsedAt,
	}
}

// CreateAPIKey stores k, setting its ID (a UUIDv7) when empty and its
// CreatedAt when zero. Returns EINVALID without a hash, and ECONFLICT if
// its ID or its hash exists.
func (d *DB) CreateAPIKey(ctx context.Context, k *flow.APIKey) error {
	if len(k.Hash) == 0 {
		return flow.Errorf(flow.EINVALID, "api key has no token hash")
	}
	id := k.ID
	if id == "" {
		u, err := uuid.NewV7()
		if err != nil {
			return internal("new api key id", err)
		}
		id = u.String()
	}
	created := k.CreatedAt
	if created.IsZero() {
		created = d.now()
	}
	rec := &apiKeyRecord{
		ID: id, Name: k.Name, Role: k.Role, Prefix: k.Prefix,
		Hash: k.Hash, ExpiresAt: utcPtr(k.ExpiresAt), CreatedAt: created.UTC(),
		CreatedBy: k.CreatedBy, LastUsedAt: utcPtr(k.LastUsedAt), AllowedIPs: slices.Clone(k.AllowedIPs),
	}
	err := d.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketAPIKeys).Get([]byte(id)) != nil {
			return flow.Errorf(flow.ECONFLICT, "api key %s already exists", id)
		}
		byHash := tx.Bucket(bucketAPIKeysByHash)
		if byHash.Get(rec.Hash) != nil {
			return flow.Errorf(flow.ECONFLICT, "an api key with this token already exists")
		}
		if err := byHash.Put(rec.Hash, []byte(id)); err != nil {
			return err
		}
		return putAPIKey(tx, rec)
	})
	if err != nil {
		return storeErr("create api key", err)
	}
	k.ID, k.CreatedAt = id, rec.CreatedAt
	return nil
}

// APIKeyByHash returns the key whose token hashes to hash, expired or not.
// Returns ENOTFOUND if there is none.
func (d *DB) APIKeyByHash(ctx context.Context, hash []byte) (*flow.APIKey, error) {
	return view(d, "api key by hash", func(tx *bolt.Tx) (*flow.APIKey, error) {
		var id []byte
		if len(hash) > 0 {
			id = tx.Bucket(bucketAPIKeysByHash).Get(hash)
		}
		if id == nil {
			return nil, flow.Errorf(flow.ENOTFOUND, "no api key with this token")
		}
		rec, err := getAPIKey(tx, string(id))
		if err != nil {
			return nil, err
		}
		return rec.key(), nil
	})
}

// APIKeys lists every key, oldest first.
func (d *DB) APIKeys(ctx context.Context) ([]*flow.APIKey, error) {
	keys := []*flow.APIKey{}
	err := d.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAPIKeys).ForEach(func(id, v []byte) error {
			rec, err := decodeAPIKey(string(id), v)
			if err != nil {
				return err
			}
			keys = append(keys, rec.key())
			return nil
		})
	})
	if err != nil {
		return nil, storeErr("list api keys", err)
	}
	// IDs are caller-chosen, so the bucket's key order says nothing about age.
	sort.SliceStable(keys, func(i, j int) bool {
		if !keys[i].CreatedAt.Equal(keys[j].CreatedAt) {
			return keys[i].CreatedAt.Before(keys[j].CreatedAt)
		}
		return keys[i].ID < keys[j].ID
	})
	return keys, nil
}

// DeleteAPIKey revokes a key: it and its hash entry are removed.
// Returns ENOTFOUND.
func (d *DB) DeleteAPIKey(ctx context.Context, id string) error {
	err := d.db.Update(func(tx *bolt.Tx) error {
		rec, err := getAPIKey(tx, id)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketAPIKeysByHash).Delete(rec.Hash); err != nil {
			return err
		}
		return tx.Bucket(bucketAPIKeys).Delete([]byte(id))
	})
	if err != nil {
		return storeErr("delete api key", err)
	}
	return nil
}

// TouchAPIKey records that the key was used at t. A t no later than the
// stored last use changes nothing and costs no write, so concurrent
// requests never move LastUsedAt backwards. Returns ENOTFOUND.
func (d *DB) TouchAPIKey(ctx context.Context, id string, t time.Time) error {
	t = t.UTC()
	newer := func(rec *apiKeyRecord) bool {
		return rec.LastUsedAt == nil || t.After(*rec.LastUsedAt)
	}
	// A read first: most requests of a busy key need no fsync.
	var need bool
	err := d.db.View(func(tx *bolt.Tx) error {
		rec, err := getAPIKey(tx, id)
		if err != nil {
			return err
		}
		need = newer(rec)
		return nil
	})
	if err != nil || !need {
		return storeErr("touch api key", err)
	}
	err = d.db.Update(func(tx *bolt.Tx) error {
		rec, err := getAPIKey(tx, id)
		if err != nil {
			return err
		}
		if !newer(rec) {
			return nil
		}
		rec.LastUsedAt = &t
		return putAPIKey(tx, rec)
	})
	if err != nil {
		return storeErr("touch api key", err)
	}
	return nil
}

func getAPIKey(tx *bolt.Tx, id string) (*apiKeyRecord, error) {
	v := tx.Bucket(bucketAPIKeys).Get([]byte(id))
	if v == nil {
		return nil, flow.Errorf(flow.ENOTFOUND, "api key %s not found", id)
	}
	return decodeAPIKey(id, v)
}

func decodeAPIKey(id string, v []byte) (*apiKeyRecord, error) {
	var rec apiKeyRecord
	// Unmarshal allocates Hash afresh, so it stays valid after the tx.
	if err := json.Unmarshal(v, &rec); err != nil {
		return nil, fmt.Errorf("decode api key %s: %w", id, err)
	}
	return &rec, nil
}

func putAPIKey(tx *bolt.Tx, rec *apiKeyRecord) error {
	v, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode api key %s: %w", rec.ID, err)
	}
	return tx.Bucket(bucketAPIKeys).Put([]byte(rec.ID), v)
}

// utcPtr returns a copy of *t in UTC, or nil.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
