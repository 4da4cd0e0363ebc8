package store

import (
	"context"
	"encoding/json"
	"fmt"
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
		for n := range len(b) {
			if _, err := decodeRecord(b[:n]); err == nil {
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
		return applyState(tx, []byte(c.ID), state, nil, nil)
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
