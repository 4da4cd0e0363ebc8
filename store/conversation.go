package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/flowbot/flowbot/flow"
	bolt "go.etcd.io/bbolt"
)

// Layout of the conversation buckets (names in db.go):
//
//	conversations            id -> state value (below)
//	conversations_by_token   token hash -> id
//	conversations_by_updated u64 updated_at unix nanos + id -> "" (retention order)
//	turns                    id + 0x00 + u64 first entry seq -> a turn's transcript and log entries (encodeTurnEntries)
//	transcripts, logs        id + 0x00 + u64 seq -> flow.Entry / flow.LogEntry JSON, one per key:
//	                         written by earlier versions, still read and swept
//
// A state value is a small binary header followed by the conversation's
// record:
//
//	[0]      format: stateFormatBinary (record.go), or stateFormatJSON
//	         (a conversationRecord in JSON, written by earlier versions)
//	[1:9]    updated_at, u64 unix nanos, big-endian
//	[9]      n, the token hash's length
//	[10:10+n] token hash
//	[10+n:]  record
//
// The header holds what a save must know about the previous state (its
// retention key and its token) so the commit, which runs while other
// turns wait, never decodes JSON. Entry keys end in the big-endian seq so
// a cursor reads them back oldest first; ids never contain 0x00, so
// "id + 0x00" is a prefix of that conversation's keys only.

// Limits checked before a turn is queued.
const (
	maxConversationIDLen = 128
	maxTokenHashLen      = 255 // its length is one header byte
)

// Retention deletes conversations in chunks so it never holds bbolt's
// single writer for long: a transaction stops after deleteChunkConversations
// conversations, or sooner, after the conversation that took it past
// deleteChunkKeys deleted keys.
const (
	deleteChunkConversations = 1000
	deleteChunkKeys          = 20000
)

// conversationRecord is a conversation as the JSON state format stored
// it, without its token hash (which the value's header holds).
type conversationRecord struct {
	ID        string            `json:"id"`
	BotID     string            `json:"bot_id"`
	Version   int               `json:"version"`
	Status    string            `json:"status"`
	Waiting   string            `json:"waiting,omitempty"`
	Awaiting  flow.Awaiting     `json:"awaiting"`
	Vars      map[string]string `json:"vars"`
	User      flow.User         `json:"user"`
	Turns     int               `json:"turns"`
	Seq       int               `json:"seq"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

func (r *conversationRecord) conversation(tokenHash []byte) *flow.Conversation {
	return &flow.Conversation{
		ID: r.ID, BotID: r.BotID, Version: r.Version, TokenHash: tokenHash, Status: r.Status,
		Waiting: r.Waiting, Awaiting: r.Awaiting, Vars: r.Vars, User: r.User, Turns: r.Turns,
		Seq: r.Seq, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
}

// preparedTurn is a turn encoded for the turn log: every key and value is
// built in the caller's goroutine so the shared commit only copies bytes.
type preparedTurn struct {
	mustExist bool
	id        []byte
	updated   uint64 // updated_at unix nanos
	tokenHash []byte
	record    []byte     // binary record (record.go)
	state     []byte     // header + record
	turn      []keyValue // the turn's entries as one value (none if it has none)
}

type keyValue struct{ k, v []byte }

// SaveTurn stores the conversation's state with the turn's new transcript
// and log entries as one journal record, fdatasynced before it returns;
// the first save of a conversation creates it. A zero CreatedAt or
// UpdatedAt is set to the store's clock. A non-empty TokenHash replaces the
// stored one; an empty one keeps it. Turns from many conversations share
// one journal write (see turnLog), and reach the bbolt file at the next
// checkpoint. ctx bounds only the wait for a place in the queue: once
// queued, SaveTurn waits for the write. Returns EINVALID for a missing
// conversation, a bad id or Seq, ECONFLICT if the token hash belongs to
// another conversation, ENOTFOUND for a turn that must continue a
// conversation that is gone, and an error wrapping bbolt.ErrDatabaseNotOpen
// after Close.
func (d *DB) SaveTurn(ctx context.Context, t *flow.TurnRecord) error {
	p, err := d.prepareTurn(t)
	if err != nil {
		return storeErr("save turn", err)
	}
	return storeErr("save turn", d.turns.save(ctx, p))
}

// prepareTurn checks and encodes t outside any transaction.
func (d *DB) prepareTurn(t *flow.TurnRecord) (*preparedTurn, error) {
	if t == nil || t.Conversation == nil {
		return nil, flow.Errorf(flow.EINVALID, "turn has no conversation")
	}
	c := t.Conversation
	if err := checkConversationID(c.ID); err != nil {
		return nil, err
	}
	if len(c.TokenHash) > maxTokenHashLen {
		return nil, flow.Errorf(flow.EINVALID, "token hash is longer than %d bytes", maxTokenHashLen)
	}
	if c.CreatedAt.IsZero() || c.UpdatedAt.IsZero() {
		now := d.now()
		if c.CreatedAt.IsZero() {
			c.CreatedAt = now
		}
		if c.UpdatedAt.IsZero() {
			c.UpdatedAt = now
		}
	}
	p := &preparedTurn{
		mustExist: t.MustExist,
		id:        []byte(c.ID),
		updated:   unixNanos(c.UpdatedAt),
		tokenHash: c.TokenHash,
	}
	p.state = appendStateHeader(make([]byte, 0, 10+len(p.tokenHash)+recordSize(c)), p.updated, p.tokenHash)
	header := len(p.state)
	p.state = appendRecord(p.state, c)
	p.record = p.state[header:]
	if len(t.Transcript)+len(t.Log) > 0 {
		kv, err := encodeTurnEntries(p.id, t.Transcript, t.Log)
		if err != nil {
			return nil, err
		}
		p.turn = []keyValue{kv}
	}
	if size := p.size(); size > maxTurnSize {
		return nil, flow.Errorf(flow.EINVALID, "turn of conversation %s is %d bytes stored, over the %d-byte limit", c.ID, size, maxTurnSize)
	}
	return p, nil
}

// size is what the turn stores: its id, state, and entry keys and values.
func (p *preparedTurn) size() int {
	n := len(p.id) + len(p.state)
	for _, kv := range p.turn {
		n += len(kv.k) + len(kv.v)
	}
	return n
}

// maxTurnSize bounds what one turn stores, so it always fits one journal
// record.
const maxTurnSize = maxRecordSize - 1<<10

// encodeTurnEntries encodes a turn's transcript and log entries as one
// value of the turns bucket, keyed by the conversation id and the turn's
// lowest entry seq:
//
//	uvarint count, then each transcript entry as uvarint length + JSON
//	uvarint count, then each log entry the same way
//
// One value per turn instead of one per entry: a checkpoint puts one key
// per turn (a turn of the benchmark bot has seven entries).
func encodeTurnEntries(id []byte, transcript []flow.Entry, log []flow.LogEntry) (keyValue, error) {
	first := -1
	var b, scratch []byte
	b = binary.AppendUvarint(b, uint64(len(transcript)))
	for i := range transcript {
		e := &transcript[i]
		if e.Seq < 0 {
			return keyValue{}, flow.Errorf(flow.EINVALID, "entry seq %d is negative", e.Seq)
		}
		scratch = appendEntryJSON(scratch[:0], e)
		b, first = appendEntry(b, first, e.Seq, scratch)
	}
	b = binary.AppendUvarint(b, uint64(len(log)))
	for i := range log {
		e := &log[i]
		if e.Seq < 0 {
			return keyValue{}, flow.Errorf(flow.EINVALID, "entry seq %d is negative", e.Seq)
		}
		scratch = appendLogEntryJSON(scratch[:0], e)
		b, first = appendEntry(b, first, e.Seq, scratch)
	}
	return keyValue{entryKey(id, uint64(first)), b}, nil
}

// appendEntry appends an entry's JSON with its length and returns the
// lowest seq seen so far (first, -1 before any).
func appendEntry(b []byte, first, seq int, v []byte) ([]byte, int) {
	if first < 0 || seq < first {
		first = seq
	}
	return append(binary.AppendUvarint(b, uint64(len(v))), v...), first
}

// turnEntries calls fn with the JSON of each transcript entry (or, with
// log set, each log entry) of a turns-bucket value.
func turnEntries(v []byte, log bool, fn func(e []byte) error) error {
	d := decoder{b: v}
	for part := range 2 {
		n := d.count(1)
		for range n {
			e := d.bytes()
			if d.err {
				break
			}
			if (part == 1) == log {
				if err := fn(e); err != nil {
					return err
				}
			}
		}
	}
	if d.err {
		return errBadTurnValue
	}
	return nil
}

var errBadTurnValue = errors.New("malformed turn value")

func putAll(b *bolt.Bucket, kvs []keyValue) error {
	for _, kv := range kvs {
		if err := b.Put(kv.k, kv.v); err != nil {
			return err
		}
	}
	return nil
}

// Conversation returns a conversation's state. Returns ENOTFOUND.
func (d *DB) Conversation(ctx context.Context, id string) (*flow.Conversation, error) {
	if st := d.turns.overlayState(id); st != nil {
		c, err := decodeConversation([]byte(id), st)
		return c, storeErr("read conversation", err)
	}
	return view(d, "read conversation", func(tx *bolt.Tx) (*flow.Conversation, error) {
		return getConversation(tx, []byte(id))
	})
}

// ConversationByTokenHash returns the conversation whose token hashes to
// h. Returns ENOTFOUND.
func (d *DB) ConversationByTokenHash(ctx context.Context, h []byte) (*flow.Conversation, error) {
	id, err := d.ConversationIDByTokenHash(ctx, h)
	if err != nil {
		return nil, err
	}
	return d.Conversation(ctx, id)
}

// ConversationIDByTokenHash returns the id of the conversation whose token
// hashes to h, from the token index alone (no record is decoded: this runs
// on every widget message). Returns ENOTFOUND.
func (d *DB) ConversationIDByTokenHash(ctx context.Context, h []byte) (string, error) {
	notFound := flow.Errorf(flow.ENOTFOUND, "no conversation has this token")
	if len(h) == 0 {
		return "", notFound
	}
	if id, ok := d.turns.overlayToken(h); ok {
		if id == "" {
			return "", notFound
		}
		return id, nil
	}
	return view(d, "read conversation by token", func(tx *bolt.Tx) (string, error) {
		v := tx.Bucket(bucketConversationsByToken).Get(h)
		if v == nil {
			return "", notFound
		}
		return string(v), nil // string() copies out of the transaction
	})
}

// Transcript returns a conversation's transcript, oldest first; an empty
// transcript is an empty, non-nil slice. Returns ENOTFOUND.
func (d *DB) Transcript(ctx context.Context, id string) ([]flow.Entry, error) {
	return readEntries[flow.Entry](d, id, false, "transcript")
}

// Log returns a conversation's execution log, oldest first; an empty log
// is an empty, non-nil slice. Returns ENOTFOUND.
func (d *DB) Log(ctx context.Context, id string) ([]flow.LogEntry, error) {
	return readEntries[flow.LogEntry](d, id, true, "log")
}

// readEntries decodes the transcript (or, with log set, the log) entries
// of conversation id; what names them in errors.
func readEntries[T any](d *DB, id string, log bool, what string) ([]T, error) {
	out := []T{}
	err := d.entries(id, log, func(v []byte) error {
		var e T
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("decode %s entry of %s: %w", what, id, err)
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, storeErr("read "+what, err)
	}
	return out, nil
}

// entries calls fn with each transcript (or log) entry of conversation
// id, oldest first: those of the per-entry buckets that flowbot wrote
// before the turns bucket existed, then the turns bucket's, merged in key
// order with the turns only the overlays hold (an overlay's value wins for
// a key in both: it is newer). The overlays are read first: a checkpoint
// that commits in between then has its turns in bbolt as well, with the
// same values. Returns ENOTFOUND for an unknown conversation.
func (d *DB) entries(id string, log bool, fn func(v []byte) error) error {
	pending, inOverlay := d.turns.overlayEntries(id)
	pending = latestByKey(pending)
	legacy := bucketTranscripts
	if log {
		legacy = bucketLogs
	}
	turn := func(v []byte) error { return turnEntries(v, log, fn) }
	err := d.db.View(func(tx *bolt.Tx) error {
		if !inOverlay && tx.Bucket(bucketConversations).Get([]byte(id)) == nil {
			return flow.Errorf(flow.ENOTFOUND, "conversation %s not found", id)
		}
		if err := scanPrefix(tx.Bucket(legacy), entryPrefix([]byte(id)), func(_, v []byte) error { return fn(v) }); err != nil {
			return err
		}
		return scanPrefix(tx.Bucket(bucketTurns), entryPrefix([]byte(id)), func(k, v []byte) error {
			for len(pending) > 0 && bytes.Compare(pending[0].k, k) <= 0 {
				same := bytes.Equal(pending[0].k, k)
				if err := turn(pending[0].v); err != nil {
					return err
				}
				pending = pending[1:]
				if same {
					return nil
				}
			}
			return turn(v)
		})
	})
	if err != nil {
		return err
	}
	for _, kv := range pending {
		if err := turn(kv.v); err != nil {
			return err
		}
	}
	return nil
}

// latestByKey sorts kvs by key and keeps, of equal keys, the one added
// last (as a later Put would).
func latestByKey(kvs []keyValue) []keyValue {
	slices.SortStableFunc(kvs, func(a, b keyValue) int { return bytes.Compare(a.k, b.k) })
	out := kvs[:0]
	for i, kv := range kvs {
		if i+1 < len(kvs) && bytes.Equal(kv.k, kvs[i+1].k) {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// DeleteConversationsBefore removes conversations last updated before t,
// with their transcripts, logs and index entries, and returns how many it
// removed. It works in transactions of at most deleteChunkConversations
// conversations so turns are never held up for long, and stops between
// them when ctx ends, returning the count so far with ctx's error.
func (d *DB) DeleteConversationsBefore(ctx context.Context, t time.Time) (int, error) {
	if t.Before(time.Unix(0, 0)) {
		return 0, nil // nothing is stored as older than 1970
	}
	// Bring bbolt up to date first, so the retention index sees every
	// turn saved before this call.
	if err := d.turns.checkpoint(ctx); err != nil {
		return 0, storeErr("delete conversations", err)
	}
	cutoff := unixNanos(t)
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, storeErr("delete conversations", err)
		}
		var n int
		var more bool
		var claimed [][]byte
		err := d.db.Update(func(tx *bolt.Tx) error {
			var err error
			n, more, err = deleteConversationsChunk(tx, cutoff, func(ids [][]byte) [][]byte {
				claimed = d.turns.beginDelete(ids)
				return claimed
			})
			return err
		})
		d.turns.endDelete(claimed)
		if err != nil {
			return total, storeErr("delete conversations", err)
		}
		total += n
		// A chunk that removed nothing held only conversations with a turn
		// running or not yet checkpointed: they are no longer idle, and
		// the next sweep sees their new time.
		if !more || n == 0 {
			return total, nil
		}
	}
}

// deleteConversationsChunk deletes the oldest conversations updated
// before cutoff (unix nanos), up to the chunk limits, and reports whether
// more may be left. claim gets the candidates' ids and returns those that
// may be deleted (see turnLog.beginDelete).
func deleteConversationsChunk(tx *bolt.Tx, cutoff uint64, claim func(ids [][]byte) [][]byte) (n int, more bool, err error) {
	// Collect first: deleting under a bbolt cursor makes it skip keys.
	var old [][]byte
	c := tx.Bucket(bucketConversationsByUpdated).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if len(k) < 8 || binary.BigEndian.Uint64(k) >= cutoff {
			break
		}
		if len(old) == deleteChunkConversations {
			more = true
			break
		}
		old = append(old, bytes.Clone(k))
	}
	ids := make([][]byte, len(old))
	for i, k := range old {
		ids[i] = k[8:]
	}
	ok := map[string]bool{}
	for _, id := range claim(ids) {
		ok[string(id)] = true
	}
	keys := 0
	for _, k := range old {
		if !ok[string(k[8:])] {
			continue
		}
		if keys >= deleteChunkKeys {
			return n, true, nil
		}
		deleted, err := deleteConversation(tx, k[8:], k)
		if err != nil {
			return n, false, err
		}
		// The marks of its delivered notices go with it.
		if err := deleteConversationHandoffs(tx, string(k[8:]), false); err != nil {
			return n, false, err
		}
		keys += deleted
		n++
	}
	return n, more, nil
}

// deleteConversation removes the conversation id, whose retention key is
// updated, and everything stored under it. It returns how many keys it
// deleted.
func deleteConversation(tx *bolt.Tx, id, updated []byte) (int, error) {
	keys := 0
	convs := tx.Bucket(bucketConversations)
	if v := convs.Get(id); v != nil {
		h, err := decodeStateHeader(v)
		if err != nil {
			return 0, fmt.Errorf("conversation %s: %w", id, err)
		}
		if len(h.tokenHash) > 0 {
			byToken := tx.Bucket(bucketConversationsByToken)
			token := bytes.Clone(h.tokenHash)
			if owner := byToken.Get(token); bytes.Equal(owner, id) {
				if err := byToken.Delete(token); err != nil {
					return 0, err
				}
				keys++
			}
		}
		if err := convs.Delete(id); err != nil {
			return 0, err
		}
		keys++
	}
	if err := tx.Bucket(bucketConversationsByUpdated).Delete(updated); err != nil {
		return 0, err
	}
	keys++
	for _, name := range [][]byte{bucketTurns, bucketTranscripts, bucketLogs} {
		n, err := deletePrefix(tx.Bucket(name), entryPrefix(id))
		if err != nil {
			return 0, err
		}
		keys += n
	}
	return keys, nil
}

// deletePrefix deletes every key of b that starts with prefix.
func deletePrefix(b *bolt.Bucket, prefix []byte) (int, error) {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}

// getConversation decodes the conversation id. Returns ENOTFOUND.
func getConversation(tx *bolt.Tx, id []byte) (*flow.Conversation, error) {
	v := tx.Bucket(bucketConversations).Get(id)
	if v == nil {
		return nil, flow.Errorf(flow.ENOTFOUND, "conversation %s not found", id)
	}
	return decodeConversation(id, v)
}

// decodeConversation decodes a state value. The result shares no memory
// with v (which may belong to a bbolt transaction).
func decodeConversation(id, v []byte) (*flow.Conversation, error) {
	h, err := decodeStateHeader(v)
	if err != nil {
		return nil, fmt.Errorf("conversation %s: %w", id, err)
	}
	// The decoders copy what they keep; the token is copied by hand.
	c, err := decodeStateRecord(h.format, h.record)
	if err != nil {
		return nil, fmt.Errorf("decode conversation %s: %w", id, err)
	}
	if len(h.tokenHash) > 0 {
		c.TokenHash = bytes.Clone(h.tokenHash)
	}
	return c, nil
}

// scanPrefix calls fn with each key and value of b whose key starts with
// prefix, in key order.
func scanPrefix(b *bolt.Bucket, prefix []byte, fn func(k, v []byte) error) error {
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

// checkConversationID refuses ids that cannot be keys: empty, too long,
// or holding the 0x00 that separates an id from an entry's seq.
func checkConversationID(id string) error {
	if id == "" {
		return flow.Errorf(flow.EINVALID, "conversation id is empty")
	}
	if len(id) > maxConversationIDLen {
		return flow.Errorf(flow.EINVALID, "conversation id is longer than %d bytes", maxConversationIDLen)
	}
	if bytes.IndexByte([]byte(id), 0) >= 0 {
		return flow.Errorf(flow.EINVALID, "conversation id contains a NUL byte")
	}
	return nil
}

// stateHeader is the decoded header of a state value; its slices point
// into the value.
type stateHeader struct {
	format    byte
	updated   uint64
	tokenHash []byte
	record    []byte
}

// encodeState makes a state value from its header fields and a binary
// record.
func encodeState(updated uint64, tokenHash, record []byte) []byte {
	v := appendStateHeader(make([]byte, 0, 10+len(tokenHash)+len(record)), updated, tokenHash)
	return append(v, record...)
}

func appendStateHeader(v []byte, updated uint64, tokenHash []byte) []byte {
	v = append(v, stateFormatBinary)
	v = binary.BigEndian.AppendUint64(v, updated)
	v = append(v, byte(len(tokenHash)))
	return append(v, tokenHash...)
}

func decodeStateHeader(v []byte) (stateHeader, error) {
	if len(v) < 10 || v[0] != stateFormatBinary && v[0] != stateFormatJSON {
		return stateHeader{}, fmt.Errorf("bad state value header")
	}
	n := int(v[9])
	if len(v) < 10+n {
		return stateHeader{}, fmt.Errorf("state value shorter than its token hash")
	}
	return stateHeader{
		format:    v[0],
		updated:   binary.BigEndian.Uint64(v[1:9]),
		tokenHash: v[10 : 10+n],
		record:    v[10+n:],
	}, nil
}

// updatedKey is a conversation's key in the retention index.
func updatedKey(updated uint64, id []byte) []byte {
	k := make([]byte, 0, 8+len(id))
	k = binary.BigEndian.AppendUint64(k, updated)
	return append(k, id...)
}

// entryPrefix starts every transcript and log key of the conversation id.
func entryPrefix(id []byte) []byte {
	k := make([]byte, 0, len(id)+1)
	k = append(k, id...)
	return append(k, 0)
}

// entryKey is the key of a transcript or log entry.
func entryKey(id []byte, seq uint64) []byte {
	k := make([]byte, 0, len(id)+9)
	k = append(k, id...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, seq)
}

// unixNanos returns t as unix nanoseconds for keys, clamped to what an
// int64 can hold: 0 before 1970, and the largest value after 2262.
func unixNanos(t time.Time) uint64 {
	switch {
	case t.Before(time.Unix(0, 0)):
		return 0
	case t.After(time.Unix(0, 1<<63-1)):
		return 1<<63 - 1
	}
	return uint64(t.UnixNano())
}

// DeleteConversation removes one conversation and everything stored under
// it: its state, token, transcript and execution log, and hand-off notices
// about it not yet delivered (for an erasure request). Returns ENOTFOUND, or ECONFLICT while one of its turns is
// being stored (try again a moment later); a turn that is still running
// is refused when it comes to be stored. Freed bbolt pages and reused
// journal segments keep the bytes until they are written over.
func (d *DB) DeleteConversation(ctx context.Context, id string) error {
	if err := d.turns.checkpoint(ctx); err != nil {
		return storeErr("delete conversation", err)
	}
	var claimed [][]byte
	err := d.db.Update(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketConversations).Get([]byte(id))
		if v == nil {
			return flow.Errorf(flow.ENOTFOUND, "conversation %s not found", id)
		}
		h, err := decodeStateHeader(v)
		if err != nil {
			return fmt.Errorf("conversation %s: %w", id, err)
		}
		if claimed = d.turns.beginDelete([][]byte{[]byte(id)}); len(claimed) == 0 {
			return flow.Errorf(flow.ECONFLICT, "a turn of conversation %s is running; try again in a moment", id)
		}
		if _, err = deleteConversation(tx, []byte(id), updatedKey(h.updated, []byte(id))); err != nil {
			return err
		}
		return deleteConversationHandoffs(tx, id, true)
	})
	d.turns.endDelete(claimed)
	return storeErr("delete conversation", err)
}
