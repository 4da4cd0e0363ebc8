package store

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/flowbot/flowbot/flow"
)

// decodeBoth decodes want's json.Marshal output and got into new values
// of want's type and fails unless they are equal.
func decodeBoth(t *testing.T, want any, got []byte) {
	t.Helper()
	std, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	typ := reflect.TypeOf(want).Elem()
	a, b := reflect.New(typ).Interface(), reflect.New(typ).Interface()
	if err := json.Unmarshal(std, a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got, b); err != nil {
		t.Fatalf("hand-written JSON does not parse: %v\n%s", err, got)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("decodes differently:\n json.Marshal %s\n appender     %s", std, got)
	}
}

func TestEntryJSON(t *testing.T) {
	t.Run("EveryField", func(t *testing.T) {
		var e flow.Entry
		fillAll(t, reflect.ValueOf(&e), "e")
		decodeBoth(t, &e, appendEntryJSON(nil, &e))
		var l flow.LogEntry
		fillAll(t, reflect.ValueOf(&l), "l")
		decodeBoth(t, &l, appendLogEntryJSON(nil, &l))
	})
	t.Run("ZeroValues", func(t *testing.T) {
		decodeBoth(t, &flow.Entry{}, appendEntryJSON(nil, &flow.Entry{}))
		decodeBoth(t, &flow.LogEntry{}, appendLogEntryJSON(nil, &flow.LogEntry{}))
		l := flow.LogEntry{APICall: &flow.APICallLog{}}
		decodeBoth(t, &l, appendLogEntryJSON(nil, &l))
	})
	t.Run("AwkwardStrings", func(t *testing.T) {
		for _, s := range []string{
			"", `"quoted"`, `back\slash`, "new\nline\r\ttab", "\x00\x01\x1f\x7f", "<a href='x'>&amp;</a>",
			"emoji 🎉 and ünïcödé", "\u2028\u2029", "bad utf-8 \xff\xfe end", "\xc3", "{{order}}",
		} {
			e := flow.Entry{Seq: 1, At: time.Date(2026, 11, 23, 1, 2, 3, 4, time.UTC), From: s, Text: s, OptionID: s}
			decodeBoth(t, &e, appendEntryJSON(nil, &e))
			l := flow.LogEntry{Detail: map[string]string{s: s}, APICall: &flow.APICallLog{URL: s, Headers: map[string]string{s: s}, Saved: []string{s, s}}}
			decodeBoth(t, &l, appendLogEntryJSON(nil, &l))
		}
	})
	t.Run("Numbers", func(t *testing.T) {
		for _, f := range []float64{0, 0.001, 1.5, 123456789.125, 1e21, 1e-7, math.MaxFloat64} {
			l := flow.LogEntry{Seq: math.MaxInt32, APICall: &flow.APICallLog{DurationMS: f, Bytes: math.MaxInt64, Status: 599}}
			decodeBoth(t, &l, appendLogEntryJSON(nil, &l))
		}
		// JSON has no NaN: json.Marshal refuses it, the appender writes 0.
		l := flow.LogEntry{APICall: &flow.APICallLog{DurationMS: math.NaN()}}
		var back flow.LogEntry
		if err := json.Unmarshal(appendLogEntryJSON(nil, &l), &back); err != nil || back.APICall.DurationMS != 0 {
			t.Fatalf("NaN: %v %+v", err, back.APICall)
		}
	})
	t.Run("Times", func(t *testing.T) {
		for _, at := range []time.Time{
			{}, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), time.Date(2026, 1, 2, 3, 4, 5, 999999999, time.FixedZone("x", 3600)),
		} {
			e := flow.Entry{At: at}
			decodeBoth(t, &e, appendEntryJSON(nil, &e))
		}
	})
}

func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\xff", "\u2028", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got string
		if err := json.Unmarshal(appendJSONString(nil, s), &got); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		want := s
		if !utf8.ValidString(s) {
			std, _ := json.Marshal(s)
			_ = json.Unmarshal(std, &want)
		}
		if got != want {
			t.Fatalf("%q decodes as %q, want %q", s, got, want)
		}
	})
}
