package web_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowbot/flowbot/store"
)

// An admin downloads a copy of the whole database while the service runs;
// it opens as a store and holds what was acknowledged, and the download is
// audited. Designers may not take it (the sweep in roles_test.go checks
// every other caller).
func TestBackup(t *testing.T) {
	e := newEnv(t)
	bot := e.publishBot(echoFlow)
	c := e.start(bot, nil)
	if code, _ := e.send(c.ID, c.Token, map[string]string{"text": "before the backup"}); code != 200 {
		t.Fatal(code)
	}

	if r := e.do("GET", "/v1/backup", e.designerToken(), nil); r.Code != 403 {
		t.Fatalf("designer: %d", r.Code)
	}
	r := e.do("GET", "/v1/backup", adminToken, nil)
	if r.Code != 200 || r.Header.Get("Content-Type") != "application/octet-stream" ||
		!strings.HasPrefix(r.Header.Get("Content-Disposition"), `attachment; filename="flowbot-`) ||
		r.Header.Get("Content-Length") != strconv.Itoa(len(r.Body)) || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("%d %v (%d bytes)", r.Code, r.Header, len(r.Body))
	}

	path := filepath.Join(t.TempDir(), "flowbot.db")
	if err := os.WriteFile(path, r.Body, 0o600); err != nil {
		t.Fatal(err)
	}
	restored, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	if _, err := restored.Bot(t.Context(), bot); err != nil {
		t.Fatalf("bot in the backup: %v", err)
	}
	tr, err := restored.Transcript(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	var said []string
	for _, en := range tr {
		said = append(said, en.Text)
	}
	if !strings.Contains(strings.Join(said, " | "), "You said before the backup") {
		t.Fatalf("the backup lacks the acknowledged turn: %v", tr)
	}

	a := e.do("GET", "/v1/audit", adminToken, nil)
	if !strings.Contains(string(a.Body), `"action":"backup.downloaded"`) {
		t.Fatalf("no audit event: %s", a.Body)
	}
}

// A backup larger than the socket buffers, read slowly, takes longer than
// the server's write timeout for API answers, and still arrives whole.
func TestBackup_OutlastsTheWriteTimeout(t *testing.T) {
	e := newEnv(t)
	long := strings.Repeat("x", 4000)
	for b := range 3 {
		var steps []string
		for i := range 1800 {
			steps = append(steps, fmt.Sprintf(`{"id":"s%d","type":"message","text":"%s %d","next":"s%d"}`, i, long, i, i+1))
		}
		steps = append(steps, `{"id":"s1800","type":"end","text":"bye"}`)
		id, _ := e.createBot(`{"start":"s0","steps":[` + strings.Join(steps, ",") + `]}`)
		if id == "" {
			t.Fatalf("bot %d not created", b)
		}
	}
	srv := httptest.NewUnstartedServer(e.srv)
	srv.Config.WriteTimeout = 300 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)

	req, _ := http.NewRequest("GET", srv.URL+"/v1/backup", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	began := time.Now()
	var got int64
	buf := make([]byte, 512<<10)
	for {
		n, err := resp.Body.Read(buf)
		got += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d bytes and %v: %v", got, time.Since(began), err)
		}
		time.Sleep(25 * time.Millisecond)
	}
	if got != resp.ContentLength || got < 16<<20 || time.Since(began) < time.Second {
		t.Fatalf("read %d of %d bytes in %v; want a whole copy of over 16 MiB taking over 1 s", got, resp.ContentLength, time.Since(began))
	}
	a := e.do("GET", "/v1/audit", adminToken, nil)
	if !strings.Contains(string(a.Body), `"complete":"true"`) {
		t.Fatalf("audit: %s", a.Body)
	}
}
