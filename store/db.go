// Package store keeps flowbot's data in one bbolt file. It implements the
// storage interfaces the domain declares (flow.BotStore, flow.APIKeyStore,
// flow.AuditStore, flow.ConversationStore and connections.Store). Every
// write is on disk before the method returns; records are encoded as JSON.
// Conversation turns go through a write-ahead journal beside the file
// (group commit: many turns share one write and fdatasync) and reach bbolt
// in background checkpoints; see turnLog.
package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/flowbot/flowbot/connections"
	"github.com/flowbot/flowbot/flow"
	bolt "go.etcd.io/bbolt"
)

// Compile-time checks that DB implements the domain's store interfaces.
var (
	_ flow.BotStore          = (*DB)(nil)
	_ flow.APIKeyStore       = (*DB)(nil)
	_ flow.AuditStore        = (*DB)(nil)
	_ connections.Store      = (*DB)(nil)
	_ flow.ConversationStore = (*DB)(nil)
)

// defaultLockTimeout is how long Open waits for another process to release
// the file lock before giving up with a "database is locked" error.
const defaultLockTimeout = 2 * time.Second

// Bucket names and what they hold.
var (
	bucketMeta           = []byte("meta")             // schema_version, key_check, journal_lsn, handoffs_since
	bucketBots           = []byte("bots")             // bot id -> botRecord
	bucketBotsBySeq      = []byte("bots_by_seq")      // u64 creation seq -> flow.BotSummary JSON (older stores: the bot id)
	bucketVersions       = []byte("versions")         // bot id -> {u64 number -> versionRecord}
	bucketConnectionBots = []byte("connection_bots")  // connection name -> {bot id -> ""}
	bucketAPIKeys        = []byte("api_keys")         // key id -> apiKeyRecord
	bucketAPIKeysByHash  = []byte("api_keys_by_hash") // token hash -> key id
	bucketAudit          = []byte("audit")            // u64 seq -> auditRecord
	bucketConnections    = []byte("connections")      // connection name -> connectionRecord
	bucketHandoffs       = []byte("handoff_outbox")   // notice id -> handoffRecord: hand-off notices not yet delivered
	bucketHandoffsByConv = []byte("handoff_by_conv")  // conversation id + 0x00 + notice id -> "" (in the outbox) or "done": notices by conversation, for erasure and HandoffMade

	// Conversations: see conversation.go for the value layouts.
	bucketConversations          = []byte("conversations")            // conversation id -> state header + conversationRecord
	bucketConversationsByToken   = []byte("conversations_by_token")   // token hash -> conversation id
	bucketConversationsByUpdated = []byte("conversations_by_updated") // u64 updated_at nanos + id -> ""
	bucketTurns                  = []byte("turns")                    // id + 0x00 + u64 first seq -> a turn's entries
	bucketTranscripts            = []byte("transcripts")              // id + 0x00 + u64 seq -> flow.Entry (earlier versions)
	bucketLogs                   = []byte("logs")                     // id + 0x00 + u64 seq -> flow.LogEntry (earlier versions)
)

var allBuckets = [][]byte{
	bucketMeta, bucketBots, bucketBotsBySeq, bucketVersions, bucketConnectionBots,
	bucketAPIKeys, bucketAPIKeysByHash, bucketAudit, bucketConnections, bucketHandoffs, bucketHandoffsByConv,
	bucketConversations, bucketConversationsByToken, bucketConversationsByUpdated,
	bucketTurns, bucketTranscripts, bucketLogs,
}

// DB is flowbot's bbolt-backed store. It is safe for concurrent use.
type DB struct {
	db *bolt.DB

	// turns journals conversation turns and checkpoints them into db
	// (see turnLog).
	turns *turnLog

	// Now returns the current time; it stamps created, updated and
	// published times. It defaults to time.Now. Tests replace it to get
	// predictable values. Its results are stored in UTC.
	Now func() time.Time
}

// Open opens the database file at path, creating it (mode 0600) and its
// parent folder (mode 0700) when missing, and creates the buckets. If
// another process holds the file, Open fails after a short wait with an
// error saying the database is locked, wrapping bbolt.ErrTimeout.
func Open(path string) (*DB, error) {
	return open(path, defaultLockTimeout)
}

// Options tune how the store writes conversation turns.
type Options struct {
	// CommitDelay is the shortest time between the starts of two journal
	// writes while turns arrive concurrently: a turn that comes sooner
	// waits for the rest of it, so more turns share one fdatasync. 0
	// writes at once. A lone writer never waits. Default 1ms.
	CommitDelay time.Duration
}

// DefaultOptions are the options Open uses.
func DefaultOptions() Options {
	return Options{CommitDelay: defaultTurnLogOptions.minSyncInterval}
}

// OpenWith is Open with options.
func OpenWith(path string, o Options) (*DB, error) {
	if o.CommitDelay < 0 {
		return nil, fmt.Errorf("commit delay must not be negative, got %s", o.CommitDelay)
	}
	opts := defaultTurnLogOptions
	opts.minSyncInterval = o.CommitDelay
	return openWith(path, defaultLockTimeout, opts)
}

func open(path string, lockTimeout time.Duration) (*DB, error) {
	return openWith(path, lockTimeout, defaultTurnLogOptions)
}

func openWith(path string, lockTimeout time.Duration, opts turnLogOptions) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create data folder: %w", err)
	}
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("open %s: database is locked by another process (is another flowbot running on this data folder?): %w", path, err)
	} else if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	d := &DB{db: bdb, Now: time.Now}
	if err := bdb.Update(initSchema); err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	d.turns, err = newTurnLog(bdb, journalDir(path), opts)
	if err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return d, nil
}

// Close stops accepting turns, journals the turns already queued,
// checkpoints every journaled turn into bbolt, and closes the journal and
// the database file, waiting for running transactions. Calling it again is
// harmless.
func (d *DB) Close() error {
	return errors.Join(d.turns.close(), d.db.Close())
}

// Stats are the store's running totals since Open.
type Stats struct {
	JournalWrites uint64 // journal writes, each one fdatasync
	JournalTurns  uint64 // turns in them
	Checkpoints   uint64 // transactions that moved journaled turns into bbolt
}

// Stats returns the store's running totals.
func (d *DB) Stats() Stats {
	st := &d.turns.stats
	return Stats{JournalWrites: st.syncs.Load(), JournalTurns: st.turns.Load(), Checkpoints: st.checkpoints.Load()}
}

// journalDir is the folder of the turn journal of the database at path.
func journalDir(path string) string {
	return path + ".journal"
}

// Ping reports whether the database answers a read and turns can be
// stored (the journal works and the last checkpoint committed); the
// readiness check uses it. It fails once the database is closed.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.turns.health(); err != nil {
		return internal("ping", err)
	}
	err := d.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta).Get(keySchemaVersion) == nil {
			return errors.New("schema version missing")
		}
		return nil
	})
	if err != nil {
		return internal("ping", err)
	}
	return nil
}

// Path returns the database file's path.
func (d *DB) Path() string {
	return d.db.Path()
}

// now returns the injected clock's time in UTC.
func (d *DB) now() time.Time {
	return d.Now().UTC()
}

// view runs fn in a read transaction and returns its result, or its
// error through storeErr(op). fn must copy what it returns out of the
// transaction.
func view[T any](d *DB, op string, fn func(tx *bolt.Tx) (T, error)) (T, error) {
	var out T
	err := d.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = fn(tx)
		return err
	})
	if err != nil {
		var zero T
		return zero, storeErr(op, err)
	}
	return out, nil
}

// internal wraps an unexpected storage or encoding error so the web layer
// reports it as EINTERNAL while keeping the cause for logs.
func internal(op string, err error) error {
	return fmt.Errorf("store: %s: %w", op, err)
}

// storeErr returns nil for nil and a domain error (*flow.Error) as it is, so
// its code and message reach the client; it wraps any other error with
// internal.
func storeErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var e *flow.Error
	if errors.As(err, &e) {
		return err
	}
	return internal(op, err)
}
