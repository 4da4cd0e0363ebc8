package main

import (
	"strings"
	"testing"
	"time"
)

func TestLogBuffer(t *testing.T) {
	t.Run("WritesInBatches", func(t *testing.T) {
		out := &syncBuffer{}
		b := newLogBuffer(out, 64, time.Hour)
		if _, err := b.Write([]byte("line one\n")); err != nil {
			t.Fatal(err)
		}
		if out.String() != "" {
			t.Fatalf("written before the buffer filled: %q", out.String())
		}
		// 9 + 60 bytes do not fit in 64: the first line goes out alone.
		if _, err := b.Write([]byte(strings.Repeat("x", 59) + "\n")); err != nil {
			t.Fatal(err)
		}
		if out.String() != "line one\n" {
			t.Fatalf("after overflow: %q", out.String())
		}
		// A line longer than the buffer is written at once.
		long := strings.Repeat("y", 100) + "\n"
		if _, err := b.Write([]byte(long)); err != nil {
			t.Fatal(err)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if want := "line one\n" + strings.Repeat("x", 59) + "\n" + long; out.String() != want {
			t.Fatalf("after Close: %q", out.String())
		}
	})
	t.Run("FlushesEveryInterval", func(t *testing.T) {
		out := &syncBuffer{}
		b := newLogBuffer(out, 1<<10, 10*time.Millisecond)
		defer b.Close()
		if _, err := b.Write([]byte("soon\n")); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(5 * time.Second); out.String() != "soon\n"; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("line not written by the timer")
			}
		}
	})
}
