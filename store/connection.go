package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/flowbot/flowbot/connections"
	"github.com/flowbot/flowbot/flow"
	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"
)

// connectionRecord is a connection as stored. Unlike connections.Connection
// it keeps Sealed (the encrypted credentials) and Public.
type connectionRecord struct {
	ID              string            `json:"id"`
	Name            string            `json:"name"`
	Type            string            `json:"type"`
	AllowedDomain   string            `json:"allowed_domain"`
	AllowSubdomains bool              `json:"allow_subdomains"`
	Sealed          []byte            `json:"sealed"`
	Public          map[string]string `json:"public,omitempty"`
	CreatedAt       time.Time         `json:"created_at"`
	UpdatedAt       time.Time         `json:"updated_at"`
	CreatedBy       string            `json:"created_by"`
	// Both optional: records from before they existed have neither.
	ExpiresAt *time.Time           `json:"expires_at,omitempty"`
	Refusal   *connections.Refusal `json:"refusal,omitempty"`
}

func (r *connectionRecord) connection() *connections.Connection {
	return &connections.Connection{
		ID: r.ID, Name: r.Name, Type: r.Type,
		AllowedDomain: r.AllowedDomain, AllowSubdomains: r.AllowSubdomains,
		Sealed: r.Sealed, Public: r.Public,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, CreatedBy: r.CreatedBy,
		ExpiresAt: r.ExpiresAt, Refusal: r.Refusal,
	}
}

// CreateConnection stores c, setting its ID (a UUIDv7) when empty and
// CreatedAt and UpdatedAt when zero. Returns EINVALID without a name, and
// ECONFLICT if the name is taken.
func (d *DB) CreateConnection(ctx context.Context, c *connections.Connection) error {
	if c.Name == "" {
		return flow.Errorf(flow.EINVALID, "connection has no name")
	}
	id := c.ID
	if id == "" {
		u, err := uuid.NewV7()
		if err != nil {
			return internal("new connection id", err)
		}
		id = u.String()
	}
	now := d.now()
	rec := &connectionRecord{
		ID: id, Name: c.Name, Type: c.Type,
		AllowedDomain: c.AllowedDomain, AllowSubdomains: c.AllowSubdomains,
		Sealed: c.Sealed, Public: c.Public,
		CreatedAt: orNow(c.CreatedAt, now), UpdatedAt: orNow(c.UpdatedAt, now), CreatedBy: c.CreatedBy,
		ExpiresAt: utcPtr(c.ExpiresAt), Refusal: c.Refusal,
	}
	err := d.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketConnections).Get([]byte(c.Name)) != nil {
			return flow.Errorf(flow.ECONFLICT, "connection %q already exists", c.Name)
		}
		return putConnection(tx, rec)
	})
	if err != nil {
		return storeErr("create connection", err)
	}
	c.ID, c.CreatedAt, c.UpdatedAt = id, rec.CreatedAt, rec.UpdatedAt
	return nil
}

// Connection returns the named connection with its sealed credentials.
// Returns ENOTFOUND.
func (d *DB) Connection(ctx context.Context, name string) (*connections.Connection, error) {
	return view(d, "read connection", func(tx *bolt.Tx) (*connections.Connection, error) {
		rec, err := getConnection(tx, name)
		if err != nil {
			return nil, err
		}
		return rec.connection(), nil
	})
}

// Connections lists every connection ordered by name.
func (d *DB) Connections(ctx context.Context) ([]*connections.Connection, error) {
	list := []*connections.Connection{}
	err := d.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketConnections).ForEach(func(k, v []byte) error {
			rec, err := decodeConnection(string(k), v)
			if err != nil {
				return err
			}
			list = append(list, rec.connection())
			return nil
		})
	})
	if err != nil {
		return nil, storeErr("list connections", err)
	}
	return list, nil
}

// UpdateConnection replaces the stored Sealed, Public, ExpiresAt and
// UpdatedAt (now, when zero) of the connection named c.Name; every other
// field stays. UpdatedAt is the credentials' version: when it changes the
// stored Refusal (of other credentials) is cleared, else it is kept as
// stored, whatever c holds, so a refusal recorded meanwhile is not lost.
// read is the version c was read at: if the stored one is another (an
// update in between), nothing is written and the error is ECONFLICT.
// Returns ENOTFOUND.
func (d *DB) UpdateConnection(ctx context.Context, c *connections.Connection, read time.Time) error {
	updated := orNow(c.UpdatedAt, d.now())
	var refusal *connections.Refusal
	err := d.db.Update(func(tx *bolt.Tx) error {
		rec, err := getConnection(tx, c.Name)
		if err != nil {
			return err
		}
		if !rec.UpdatedAt.Equal(read) {
			return flow.Errorf(flow.ECONFLICT, "connection %q changed meanwhile; read it again and retry", c.Name)
		}
		if !rec.UpdatedAt.Equal(updated) {
			rec.Refusal = nil
		}
		rec.Sealed, rec.Public, rec.UpdatedAt, rec.ExpiresAt = c.Sealed, c.Public, updated, utcPtr(c.ExpiresAt)
		refusal = rec.Refusal
		return putConnection(tx, rec)
	})
	if err != nil {
		return storeErr("update connection", err)
	}
	c.UpdatedAt, c.Refusal = updated, refusal
	return nil
}

// SetConnectionRefusal sets (nil: clears) the Refusal of the connection
// named name while its UpdatedAt is version; otherwise it leaves it be (the
// report is about credentials since replaced). UpdatedAt does not change.
// Returns ENOTFOUND.
func (d *DB) SetConnectionRefusal(ctx context.Context, name string, version time.Time, r *connections.Refusal) error {
	err := d.db.Update(func(tx *bolt.Tx) error {
		rec, err := getConnection(tx, name)
		if err != nil {
			return err
		}
		if !rec.UpdatedAt.Equal(version) {
			return nil
		}
		rec.Refusal = r
		return putConnection(tx, rec)
	})
	if err != nil {
		return storeErr("record connection refusal", err)
	}
	return nil
}

// DeleteConnection removes the named connection. Returns ENOTFOUND, or
// ECONFLICT naming the bots whose latest published version uses it; the
// check and the delete share one transaction, so a publish cannot slip in
// between them.
func (d *DB) DeleteConnection(ctx context.Context, name string) error {
	err := d.db.Update(func(tx *bolt.Tx) error {
		if _, err := getConnection(tx, name); err != nil {
			return err
		}
		bots, err := botsUsing(tx, name)
		if err != nil {
			return err
		}
		if len(bots) > 0 {
			return flow.ConnectionInUse(name, bots)
		}
		return tx.Bucket(bucketConnections).Delete([]byte(name))
	})
	if err != nil {
		return storeErr("delete connection", err)
	}
	return nil
}

func getConnection(tx *bolt.Tx, name string) (*connectionRecord, error) {
	var v []byte
	if name != "" {
		v = tx.Bucket(bucketConnections).Get([]byte(name))
	}
	if v == nil {
		return nil, flow.Errorf(flow.ENOTFOUND, "connection %q not found", name)
	}
	return decodeConnection(name, v)
}

func decodeConnection(name string, v []byte) (*connectionRecord, error) {
	var rec connectionRecord
	// Unmarshal allocates Sealed afresh, so it stays valid after the tx.
	if err := json.Unmarshal(v, &rec); err != nil {
		return nil, fmt.Errorf("decode connection %q: %w", name, err)
	}
	return &rec, nil
}

func putConnection(tx *bolt.Tx, rec *connectionRecord) error {
	v, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode connection %q: %w", rec.Name, err)
	}
	return tx.Bucket(bucketConnections).Put([]byte(rec.Name), v)
}

// orNow returns t in UTC, or now when t is zero.
func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t.UTC()
}
