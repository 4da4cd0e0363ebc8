package store

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowbot/flowbot/flow"
	bolt "go.etcd.io/bbolt"
)

// crashDirEnv switches TestCrashChild on and names its data folder.
const crashDirEnv = "FLOWBOT_STORE_CRASH_DIR"

// crashAcks is how many acknowledged writes the parent reads before it
// kills the child.
const crashAcks = 300

func crashFlow(id string) flow.Flow {
	return flow.Flow{Start: "m", Steps: []flow.Step{{ID: "m", Type: flow.TypeEnd, Text: "bot " + id}}}
}

// TestCrashChild is the child half of TestCrash: it writes until killed
// and prints a line for every write right after the store acknowledged it.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("runs only as TestCrash's child process")
	}
	ctx := context.Background()
	db, err := Open(filepath.Join(dir, "flowbot.db"))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	fail := func(err error) {
		fmt.Println("error", err)
		os.Exit(2)
	}
	for i := 0; i < 1_000_000; i++ {
		b := &flow.Bot{Name: fmt.Sprint("crash ", i)}
		if err := db.CreateBot(ctx, b); err != nil {
			fail(err)
		}
		// One write syscall per line: a pipe write this short is atomic.
		fmt.Printf("ack %s 1\n", b.ID)
		rev := int64(1)
		if i%2 == 0 {
			if _, err := db.SaveDraft(ctx, b.ID, crashFlow(b.ID), 1); err != nil {
				fail(err)
			}
			fmt.Printf("ack %s 2\n", b.ID)
			rev = 2
		}
		if i%5 == 0 {
			if _, err := db.Publish(ctx, b.ID, rev, "crash"); err != nil {
				fail(err)
			}
			fmt.Printf("pub %s 1\n", b.ID)
		}
	}
}

// TestCrash kills a process that is writing to the store with SIGKILL and
// checks that every write it acknowledged survived and the file is
// consistent. While the child runs, it also checks that a second process
// cannot open the file.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	if os.Getenv(crashDirEnv) != "" {
		t.Skip("already the child")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	timer := time.AfterFunc(90*time.Second, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()

	revision := map[string]int64{} // highest acknowledged revision per bot
	published := map[string]bool{}
	var last string // the bot created last; its next write may be in flight
	acks := 0
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "ack", "pub":
			if len(f) != 3 {
				t.Fatalf("bad line %q", sc.Text())
			}
			n, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil {
				t.Fatalf("bad line %q", sc.Text())
			}
			if f[0] == "pub" {
				published[f[1]] = true
			} else {
				revision[f[1]], last = n, f[1]
			}
			acks++
		case "error":
			t.Fatalf("child failed: %s", sc.Text())
		}
		if acks == 1 {
			// The child holds the file: another process gets a clear error.
			if other, err := open(filepath.Join(dir, "flowbot.db"), 100*time.Millisecond); err == nil {
				_ = other.Close()
				t.Error("opened the database while the child holds it")
			} else if !errors.Is(err, bolt.ErrTimeout) || !strings.Contains(err.Error(), "database is locked by another process") {
				t.Errorf("open while the child holds it: %v", err)
			}
		}
		// Lines still in the pipe after the kill were acknowledged too;
		// keep reading them until EOF.
		if acks == crashAcks && !killed {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child ended after %d acknowledged writes: %v\n%s", acks, err, stderr.String())
	}
	t.Logf("child killed after %d acknowledged writes (%d bots)", acks, len(revision))

	db := mustOpenPath(t, filepath.Join(dir, "flowbot.db"))
	mustCheck(t, db)
	ctx := context.Background()
	for id, rev := range revision {
		b, err := db.Bot(ctx, id)
		if err != nil {
			t.Fatalf("acknowledged bot %s: %v", id, err)
		}
		// The write after the last acknowledged one may have committed
		// without being acknowledged, so only the last bot may be ahead.
		if b.Revision < rev || (b.Revision > rev && id != last) {
			t.Errorf("bot %s at revision %d, acknowledged %d", id, b.Revision, rev)
		}
		if b.Revision >= 2 {
			mustEqual(t, "draft of "+id, b.Flow, crashFlow(id))
		}
	}
	for id := range published {
		v, err := db.Version(ctx, id, 1)
		if err != nil {
			t.Fatalf("acknowledged version 1 of %s: %v", id, err)
		}
		if v.Revision != revision[id] {
			t.Errorf("version 1 of %s has revision %d, want %d", id, v.Revision, revision[id])
		}
	}
	if _, total, err := db.Bots(ctx, flow.Page{Limit: 1}); err != nil || total < len(revision) {
		t.Fatalf("total %d, want at least %d (%v)", total, len(revision), err)
	}
}
