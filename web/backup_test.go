package web_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

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
