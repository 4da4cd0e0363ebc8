package store

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// convCrashDirEnv switches TestConversationCrashChild on and names its
// data folder.
const convCrashDirEnv = "FLOWBOT_STORE_CONV_CRASH_DIR"

// Shape of TestConversationCrash: convCrashSavers goroutines in the child
// save turns at once (so commits are shared), starting a new conversation
// every convCrashTurns turns; the parent kills the child after
// convCrashAcks acknowledged turns.
const (
	convCrashSavers = 16
	convCrashTurns  = 5
	convCrashAcks   = 600
)

// TestConversationCrashChild is the child half of TestConversationCrash:
// it saves turns from many goroutines until killed and prints a line for
// every turn right after SaveTurn acknowledged it.
func TestConversationCrashChild(t *testing.T) {
	dir := os.Getenv(convCrashDirEnv)
	if dir == "" {
		t.Skip("runs only as TestConversationCrash's child process")
	}
	db, err := Open(filepath.Join(dir, "flowbot.db"))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	var wg sync.WaitGroup
	for g := range convCrashSavers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				id := fmt.Sprintf("g%02d-c%06d", g, i)
				c := sampleConversation(id, "hash-"+id, time.Now().UTC())
				for range convCrashTurns {
					c.UpdatedAt = time.Now().UTC()
					if err := db.SaveTurn(context.Background(), nextTurn(c)); err != nil {
						fmt.Println("error", err)
						os.Exit(2)
					}
					// One short write per line: atomic on a pipe, so
					// lines from different goroutines never mix.
					fmt.Printf("turn %s %d\n", id, c.Turns)
				}
			}
		}()
	}
	wg.Wait()
}

// TestConversationCrash kills a process saving turns from many goroutines
// with SIGKILL and checks that every acknowledged turn survived, that each
// conversation's state matches its transcript and log (one transaction),
// and that the file is consistent.
func TestConversationCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	if os.Getenv(convCrashDirEnv) != "" {
		t.Skip("already the child")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestConversationCrashChild$", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), convCrashDirEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(90*time.Second, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()

	acked := map[string]int{} // highest acknowledged turn per conversation
	acks, killed := 0, false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "turn":
			n, err := strconv.Atoi(f[len(f)-1])
			if len(f) != 3 || err != nil {
				t.Fatalf("bad line %q", sc.Text())
			}
			acked[f[1]] = max(acked[f[1]], n)
			acks++
		case "error":
			t.Fatalf("child failed: %s", sc.Text())
		}
		// Lines still in the pipe after the kill were acknowledged too;
		// keep reading them until EOF.
		if acks == convCrashAcks && !killed {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child ended after %d acknowledged turns: %v\n%s", acks, err, stderr.String())
	}
	t.Logf("child killed after %d acknowledged turns (%d conversations)", acks, len(acked))

	db := mustOpenPath(t, filepath.Join(dir, "flowbot.db"))
	mustCheck(t, db)
	ctx := context.Background()
	for id, turns := range acked {
		c, err := db.ConversationByTokenHash(ctx, []byte("hash-"+id))
		if err != nil {
			t.Fatalf("acknowledged conversation %s: %v", id, err)
		}
		// A turn after the last acknowledged one may have committed
		// unacknowledged, so the stored state may be ahead by one.
		if c.ID != id || c.Turns < turns || c.Turns > turns+1 {
			t.Errorf("conversation %s at turn %d, acknowledged %d", c.ID, c.Turns, turns)
		}
		tr, lg := mustTranscript(t, db, id), mustLog(t, db, id)
		if len(tr) != 2*c.Turns || len(lg) != c.Turns {
			t.Errorf("%s at turn %d has %d transcript and %d log entries, want %d and %d",
				id, c.Turns, len(tr), len(lg), 2*c.Turns, c.Turns)
		}
		for i, e := range tr {
			if i > 0 && e.Seq <= tr[i-1].Seq {
				t.Fatalf("transcript of %s out of order at %d", id, i)
			}
		}
	}
}
