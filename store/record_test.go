package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/flowbot/flowbot/flow"
	bolt "go.etcd.io/bbolt"
)

// fillAll sets every field reachable from v (a pointer) to a non-zero
// value derived from its path, so a field the codec forgets shows up.
func fillAll(t *testing.T, v reflect.Value, path string) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		fillAll(t, v.Elem(), path)
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Date(2026, 11, 23, 16, 0, len(path), 123456789, time.UTC)))
			return
		}
		for i := range v.NumField() {
			fillAll(t, v.Field(i), path+"."+v.Type().Field(i).Name)
		}
	case reflect.String:
		v.SetString("value of " + path + " ✓")
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(-len(path) * 1000))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Float64:
		v.SetFloat(float64(len(path)) + 0.125)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte("bytes of " + path))
			return
		}
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fillAll(t, s.Index(i), fmt.Sprint(path, "[", i, "]"))
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for i := range 3 {
			k := reflect.New(v.Type().Key()).Elem()
			fillAll(t, k, fmt.Sprint(path, "/key", i))
			e := reflect.New(v.Type().Elem()).Elem()
			fillAll(t, e, fmt.Sprint(path, "/value", i))
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	default:
		t.Fatalf("fillAll: %s has kind %s; teach fillAll and the record codec", path, v.Kind())
	}
}

func TestRecordRoundTrip(t *testing.T) {
	var c flow.Conversation
	fillAll(t, reflect.ValueOf(&c), "c")
	c.TokenHash = nil // kept in the state header, not the record
	got, err := decodeRecord(appendRecord(nil, &c))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, &c) {
		t.Fatalf("round trip lost a field:\n got %+v\nwant %+v", got, &c)
	}

	if bot, v, st, ok := recordHead(appendRecord(nil, &c)); !ok || string(bot) != c.BotID || v != c.Version || string(st) != c.Status {
		t.Fatalf("recordHead = %q, %d, %q, %v; want %q, %d, %q", bot, v, st, ok, c.BotID, c.Version, c.Status)
	}
	if _, _, _, ok := recordHead([]byte{5, 'a'}); ok {
		t.Fatal("recordHead read a cut record")
	}

	t.Run("ZeroValues", func(t *testing.T) {
		c := flow.Conversation{Vars: map[string]string{}}
		got, err := decodeRecord(appendRecord(nil, &c))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, &c) {
			t.Fatalf("got %+v, want %+v", got, &c)
		}
	})

	t.Run("EveryTruncationFails", func(t *testing.T) {
		b := appendRecord(nil, &c)
		// Records written before LastTurn was added end where it starts,
		// and are read with a zero LastTurn; any other cut fails.
		last := binary.AppendVarint(appendString(appendString(nil, c.Last.Key), c.Last.Input), int64(c.Last.Seq))
		last = binary.AppendUvarint(last, uint64(len(c.Last.Earlier)))
		for _, k := range c.Last.Earlier {
			last = appendString(last, k)
		}
		old := len(b) - len(last)
		zero := c
		zero.Last = flow.LastTurn{}
		if got := appendRecord(nil, &zero); len(got) != old { // (the variables' order varies)
			t.Fatal("a zero LastTurn is written: older servers could not read the record")
		}
		for n := range len(b) {
			got, err := decodeRecord(b[:n])
			if n == old {
				want := c
				want.Last = flow.LastTurn{}
				if err != nil || !reflect.DeepEqual(got, &want) {
					t.Fatalf("a record without LastTurn: %v\n got %+v\nwant %+v", err, got, &want)
				}
				continue
			}
			if err == nil {
				t.Fatalf("%d of %d bytes decoded without error", n, len(b))
			}
		}
		if _, err := decodeRecord(append(b, 0)); err == nil {
			t.Fatal("a trailing byte decoded without error")
		}
	})
}

// TestReadsJSONStateFormat checks that a conversation stored by an earlier
// version, with its record in JSON, is still read and then rewritten in
// the binary format by its next turn.
func TestReadsJSONStateFormat(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	c := sampleConversation("old", "hash-old", convEpoch)
	c.Last = flow.LastTurn{} // not in the JSON format
	c.Vars = map[string]string{"order": "42"}
	c.Awaiting = flow.Awaiting{Type: flow.AwaitOptions, Options: []flow.AwaitOption{{ID: "a", Label: "A"}}}
	rec, err := json.Marshal(&conversationRecord{
		ID: c.ID, BotID: c.BotID, Version: c.Version, Status: c.Status, Waiting: c.Waiting,
		Awaiting: c.Awaiting, Vars: c.Vars, User: c.User, Turns: c.Turns, Seq: c.Seq,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	})
	if err != nil {
		t.Fatal(err)
	}
	state := encodeState(unixNanos(c.UpdatedAt), c.TokenHash, rec)
	state[0] = stateFormatJSON
	err = db.db.Update(func(tx *bolt.Tx) error {
		return applyState(tx, []byte(c.ID), state, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.ConversationByTokenHash(ctx, c.TokenHash)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("JSON-format state read as\n%+v\nwant\n%+v", got, c)
	}
	mustSaveTurn(t, db, nextTurn(got))
	if err := db.turns.checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	_ = db.db.View(func(tx *bolt.Tx) error {
		if f := tx.Bucket(bucketConversations).Get([]byte(c.ID))[0]; f != stateFormatBinary {
			t.Errorf("state format after a turn = %d, want %d", f, stateFormatBinary)
		}
		return nil
	})
	wantConversation(t, db, got, got.Turns)
}

// TestReadsPerEntryBuckets checks conversations stored by earlier
// versions, with one key per transcript and log entry: their entries are
// read before the new turns' and swept with the conversation, and a
// journal record of the first format, which carries such entries, is
// replayed into them.
func TestReadsPerEntryBuckets(t *testing.T) {
	ctx := context.Background()
	db := mustOpenWith(t, filepath.Join(t.TempDir(), "flowbot.db"), noCheckpoints)
	c := sampleConversation("old", "hash-old", convEpoch)
	old := nextTurn(c) // seq 1–3: two transcript entries, one log entry
	put := func(tx *bolt.Tx, name []byte, seq int, e any) error {
		v, err := json.Marshal(e)
		if err != nil {
			return err
		}
		return tx.Bucket(name).Put(entryKey([]byte(c.ID), uint64(seq)), v)
	}
	err := db.db.Update(func(tx *bolt.Tx) error {
		p, err := db.prepareTurn(old)
		if err != nil {
			return err
		}
		if err := applyState(tx, p.id, p.state, nil); err != nil {
			return err
		}
		for _, e := range old.Transcript {
			if err := put(tx, bucketTranscripts, e.Seq, e); err != nil {
				return err
			}
		}
		for _, e := range old.Log {
			if err := put(tx, bucketLogs, e.Seq, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mustSaveTurn(t, db, nextTurn(c)) // a new turn, in the turns bucket (overlay first)
	check := func(db *DB) {
		t.Helper()
		wantConversation(t, db, c, 2)
		tr := mustTranscript(t, db, c.ID)
		for i := 1; i < len(tr); i++ {
			if tr[i].Seq <= tr[i-1].Seq {
				t.Fatalf("transcript out of order at %d: %+v", i, tr)
			}
		}
	}
	check(db)
	if err := db.turns.checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	check(db)

	// A first-format journal record (transcript and log lists, no turns
	// list), as an earlier version left it, replays into the per-entry
	// buckets.
	c2 := sampleConversation("old2", "hash-old2", convEpoch)
	third := nextTurn(c2)
	p, err := db.prepareTurn(third)
	if err != nil {
		t.Fatal(err)
	}
	var legacyT, legacyL []keyValue
	for _, e := range third.Transcript {
		v, _ := json.Marshal(e)
		legacyT = append(legacyT, keyValue{entryKey(p.id, uint64(e.Seq)), v})
	}
	for _, e := range third.Log {
		v, _ := json.Marshal(e)
		legacyL = append(legacyL, keyValue{entryKey(p.id, uint64(e.Seq)), v})
	}
	rec := appendBytes(appendBytes(nil, p.id), p.state)
	for _, kvs := range [][]keyValue{legacyT, legacyL} {
		rec = binary.AppendUvarint(rec, uint64(len(kvs)))
		for _, kv := range kvs {
			rec = appendBytes(appendBytes(rec, kv.k), kv.v)
		}
	}
	if _, err := db.turns.j.append([][]byte{rec}); err != nil {
		t.Fatal(err)
	}
	re := mustOpenPath(t, crashImage(t, db))
	check(re)
	wantConversation(t, re, c2, 1)

	if n, err := re.DeleteConversationsBefore(ctx, convEpoch.Add(24*time.Hour)); n != 2 || err != nil {
		t.Fatalf("swept %d, %v", n, err)
	}
	_ = re.db.View(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketTurns, bucketTranscripts, bucketLogs} {
			if n := tx.Bucket(name).Stats().KeyN; n != 0 {
				t.Errorf("bucket %s keeps %d keys of the swept conversation", name, n)
			}
		}
		return nil
	})
}
