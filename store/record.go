package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/flowbot/flowbot/flow"
)

// State value formats (the value's first byte).
const (
	// stateFormatJSON: the record is a conversationRecord in JSON. Written
	// before the binary format; still read.
	stateFormatJSON = 1
	// stateFormatBinary: the record is encoded by appendRecord. Every turn
	// writes and the next one reads a conversation's state, and JSON took
	// ~7% of the CPU of a turn.
	stateFormatBinary = 2
)

// appendRecord appends c, without its token hash, in the binary record
// format: strings as uvarint length + bytes, ints as varints, a bool as a
// byte, times as varint unix seconds + uvarint nanoseconds (UTC), and the
// options and variables as a uvarint count followed by their fields.
// Fields are in the order below; a new field goes at the end, and
// decodeRecord must learn it in the same commit (TestRecordRoundTrip fills
// every field by reflection and fails otherwise).
func appendRecord(b []byte, c *flow.Conversation) []byte {
	b = appendString(b, c.ID)
	b = appendString(b, c.BotID)
	b = binary.AppendVarint(b, int64(c.Version))
	b = appendString(b, c.Status)
	b = appendString(b, c.Waiting)
	b = appendString(b, c.Awaiting.Type)
	b = binary.AppendUvarint(b, uint64(len(c.Awaiting.Options)))
	for _, o := range c.Awaiting.Options {
		b = appendString(appendString(b, o.ID), o.Label)
	}
	b = binary.AppendUvarint(b, uint64(len(c.Vars)))
	for k, v := range c.Vars {
		b = appendString(appendString(b, k), v)
	}
	u := c.User
	b = appendString(appendString(appendString(b, u.ExternalID), u.Name), u.Email)
	b = append(b, boolByte(u.Authenticated))
	b = appendString(b, u.Locale)
	b = binary.AppendVarint(b, int64(c.Turns))
	b = binary.AppendVarint(b, int64(c.Seq))
	b = appendTime(b, c.CreatedAt)
	b = appendTime(b, c.UpdatedAt)
	// Added later, so a record may end before it: a record without it has
	// a zero LastTurn. It is left out when zero, so that conversations
	// that never used an Idempotency-Key stay readable by a server from
	// before it (a rollback, or a backup restored into an older binary).
	if c.Last.Key == "" && c.Last.Input == "" && c.Last.Seq == 0 && len(c.Last.Earlier) == 0 {
		return b
	}
	b = binary.AppendVarint(appendString(appendString(b, c.Last.Key), c.Last.Input), int64(c.Last.Seq))
	b = binary.AppendUvarint(b, uint64(len(c.Last.Earlier)))
	for _, k := range c.Last.Earlier {
		b = appendString(b, k)
	}
	return b
}

// recordSize estimates appendRecord's output size, for one allocation.
func recordSize(c *flow.Conversation) int {
	n := 80 + len(c.ID) + len(c.BotID) + len(c.Last.Key) + len(c.Last.Input) + len(c.Status) + len(c.Waiting) + len(c.Awaiting.Type) +
		len(c.User.ExternalID) + len(c.User.Name) + len(c.User.Email) + len(c.User.Locale)
	for _, k := range c.Last.Earlier {
		n += 2 + len(k)
	}
	for _, o := range c.Awaiting.Options {
		n += 4 + len(o.ID) + len(o.Label)
	}
	for k, v := range c.Vars {
		n += 4 + len(k) + len(v)
	}
	return n
}

var errBadStateRecord = errors.New("malformed conversation record")

// decodeRecord decodes a binary record into a new conversation; nothing
// in it refers to b.
func decodeRecord(b []byte) (*flow.Conversation, error) {
	d := decoder{b: b}
	c := &flow.Conversation{
		ID:      d.string(),
		BotID:   d.string(),
		Version: d.int(),
		Status:  d.string(),
		Waiting: d.string(),
	}
	c.Awaiting.Type = d.string()
	if n := d.count(2); n > 0 {
		c.Awaiting.Options = make([]flow.AwaitOption, n)
		for i := range c.Awaiting.Options {
			c.Awaiting.Options[i] = flow.AwaitOption{ID: d.string(), Label: d.string()}
		}
	}
	n := d.count(2)
	c.Vars = make(map[string]string, n)
	for range n {
		k := d.string()
		c.Vars[k] = d.string()
	}
	c.User = flow.User{ExternalID: d.string(), Name: d.string(), Email: d.string(), Authenticated: d.byte() == 1, Locale: d.string()}
	c.Turns, c.Seq = d.int(), d.int()
	c.CreatedAt, c.UpdatedAt = d.time(), d.time()
	if len(d.b) != 0 {
		c.Last = flow.LastTurn{Key: d.string(), Input: d.string(), Seq: d.int()}
		if n := d.count(1); n > 0 {
			c.Last.Earlier = make([]string, n)
			for i := range c.Last.Earlier {
				c.Last.Earlier[i] = d.string()
			}
		}
	}
	if d.err || len(d.b) != 0 {
		return nil, errBadStateRecord
	}
	return c, nil
}

// decodeJSONRecord decodes a record of the first, JSON format.
func decodeJSONRecord(b []byte) (*flow.Conversation, error) {
	var rec conversationRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, err
	}
	return rec.conversation(nil), nil
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendTime(b []byte, t time.Time) []byte {
	return binary.AppendUvarint(binary.AppendVarint(b, t.Unix()), uint64(t.Nanosecond()))
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

func (d *decoder) string() string { return string(d.bytes()) }

func (d *decoder) int() int {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return int(v)
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.err = true
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

// count reads an element count, refusing one that the remaining bytes
// cannot hold (each element takes at least min bytes).
func (d *decoder) count(min int) int {
	n := d.uvarint()
	if n > uint64(len(d.b)/min) {
		d.err, d.b = true, nil
		return 0
	}
	return int(n)
}

func (d *decoder) time() time.Time {
	sec := d.int()
	nsec := d.uvarint()
	if nsec >= 1e9 {
		d.err = true
		return time.Time{}
	}
	t := time.Unix(int64(sec), int64(nsec)).UTC()
	if t.IsZero() {
		return time.Time{}
	}
	return t
}

// recordHead returns the bot id, version and status of a binary record
// (its second to fourth fields) without decoding the rest, so a list can
// pass over conversations it does not show cheaply. ok is false for a
// malformed record.
func recordHead(b []byte) (bot []byte, version int, status []byte, ok bool) {
	d := decoder{b: b}
	d.bytes() // the conversation id
	bot = d.bytes()
	version = d.int()
	status = d.bytes()
	return bot, version, status, !d.err
}

// decodeStateRecord decodes the record of a state value of either format.
func decodeStateRecord(format byte, record []byte) (*flow.Conversation, error) {
	switch format {
	case stateFormatBinary:
		return decodeRecord(record)
	case stateFormatJSON:
		return decodeJSONRecord(record)
	}
	return nil, fmt.Errorf("unknown state format %d", format)
}
