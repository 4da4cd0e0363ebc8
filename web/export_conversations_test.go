package web_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/flowbot/flowbot/flow"
	"github.com/flowbot/flowbot/store"
	"github.com/flowbot/flowbot/web"
	"github.com/getkin/kin-openapi/openapi3filter"
)

func init() {
	// The export is JSON lines; the spec check takes the body as text, and
	// the test checks each line against the Conversation schema.
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", openapi3filter.FileBodyDecoder)
}

// exported is one line of a conversation export.
type exported struct {
	ID         string            `json:"id"`
	BotID      string            `json:"bot_id"`
	Status     string            `json:"status"`
	Variables  map[string]string `json:"variables"`
	User       struct{ Name string }
	Transcript []struct{ From, Text string }
	UpdatedAt  string `json:"updated_at"`
	Error      *struct{ Code string }
}

// TestConversation_Export: a designer exports a bot's conversations as
// JSON lines, most recently updated first, each with its transcript,
// variables and user, filtered by status, time and count; each export
// is audited.
func TestConversation_Export(t *testing.T) {
	e := newEnv(t)
	bot := e.publishBot(echoFlow)
	other := e.publishBot(transferBot)
	var ids []string
	for _, name := range []string{"Ann", "Bo", "Cy"} {
		c := e.start(bot, map[string]any{"user": map[string]any{"name": name}})
		if code, _ := e.send(c.ID, c.Token, map[string]string{"text": "hi " + name}); code != 200 {
			t.Fatalf("send: %d", code)
		}
		ids = append(ids, c.ID)
	}
	transferred := e.start(other, nil) // another bot's: never in bot's export
	schema, _ := spec(t)
	export := func(e *env, query, token string) (resp, []exported) {
		e.t.Helper()
		r := e.do("GET", "/v1/bots/"+bot+"/conversations/export"+query, token, nil)
		if r.Code != 200 {
			return r, nil
		}
		var lines []exported
		sc := bufio.NewScanner(bytes.NewReader(r.Body))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var v any
			if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
				e.t.Fatalf("line %q: %v", sc.Text(), err)
			}
			if err := schema.Components.Schemas["Conversation"].Value.VisitJSON(v); err != nil {
				e.t.Fatalf("line %s does not match the Conversation schema: %v", sc.Text(), err)
			}
			var x exported
			json.Unmarshal(sc.Bytes(), &x)
			lines = append(lines, x)
		}
		return r, lines
	}

	t.Run("All", func(t *testing.T) {
		e := e.with(t)
		r, lines := export(e, "", e.designerToken())
		if r.Code != 200 || r.Header.Get("Content-Type") != "application/x-ndjson" || r.Header.Get("Cache-Control") != "no-store" ||
			!strings.HasPrefix(r.Header.Get("Content-Disposition"), `attachment; filename="flowbot-conversations-`) {
			t.Fatalf("export: %d %v", r.Code, r.Header)
		}
		if len(lines) != 3 {
			t.Fatalf("%d lines; want the bot's 3 conversations: %s", len(lines), r.Body)
		}
		for i, l := range lines {
			want := []string{"Cy", "Bo", "Ann"}[i] // most recently updated first
			if l.ID != ids[2-i] || l.BotID != bot || l.User.Name != want || l.Variables["said"] != "hi "+want ||
				len(l.Transcript) != 4 || l.Transcript[1].Text != "hi "+want || l.Error != nil {
				t.Fatalf("line %d: %+v; want %s's conversation", i, l, want)
			}
		}
		if strings.Contains(string(r.Body), transferred.ID) {
			t.Fatal("another bot's conversation is in the export")
		}
		events, _ := e.auditLog()
		if a := findAudit(events, "conversations.exported", bot); a == nil || a.Detail["conversations"] != "3" || a.Detail["complete"] != "true" {
			t.Fatalf("audit event: %+v", a)
		}
	})

	t.Run("Filters", func(t *testing.T) {
		e := e.with(t)
		_, all := export(e, "", adminToken)
		_, lines := export(e, "?since="+all[1].UpdatedAt, adminToken)
		if len(lines) != 2 || lines[0].ID != ids[2] || lines[1].ID != ids[1] {
			t.Fatalf("since Bo's update: %+v", lines)
		}
		if _, lines = export(e, "?limit=1", adminToken); len(lines) != 1 || lines[0].ID != ids[2] {
			t.Fatalf("limit 1: %+v", lines)
		}
		if _, lines = export(e, "?status=ended", adminToken); len(lines) != 0 {
			t.Fatalf("status ended: %+v", lines)
		}
		if _, lines = export(e, "?status=active&limit=100000", adminToken); len(lines) != 3 {
			t.Fatalf("status active, limit 100000: %d lines", len(lines))
		}
	})

	t.Run("BadParameters", func(t *testing.T) {
		e := e.with(t)
		for q, ptr := range map[string]string{"?since=yesterday": "/since", "?status=gone": "/status", "?limit=0": "/limit", "?limit=100001": "/limit"} {
			r, _ := export(e, q, adminToken)
			if r.Code != 400 || !strings.Contains(string(r.Body), `"pointer":"`+ptr+`"`) {
				t.Errorf("%s: %d %s", q, r.Code, r.Body)
			}
		}
		if r := e.do("GET", "/v1/bots/00000000-0000-0000-0000-000000000000/conversations/export", adminToken, nil); r.Code != http.StatusNotFound {
			t.Errorf("unknown bot: %d", r.Code)
		}
	})

	t.Run("Roles", func(t *testing.T) {
		e := e.with(t)
		c := e.start(bot, nil)
		if r, _ := export(e, "", c.Token); r.Code != http.StatusUnauthorized && r.Code != http.StatusForbidden {
			t.Errorf("with a conversation token: %d", r.Code)
		}
		if r, _ := export(e, "", ""); r.Code != http.StatusUnauthorized {
			t.Errorf("without a token: %d", r.Code)
		}
	})
}

// hookedTranscripts is the real store, with a hook run at its first
// Transcript read: something that happens while an export runs.
type hookedTranscripts struct {
	*store.DB
	once sync.Once
	hook func()
}

func (h *hookedTranscripts) Transcript(ctx context.Context, id string) ([]flow.Entry, error) {
	h.once.Do(h.hook)
	return h.DB.Transcript(ctx, id)
}

// TestConversation_ExportSeesUpdatesMadeMeanwhile: the export reads the
// list a page at a time, newest update first; a conversation not read
// yet that gets a message meanwhile moves above the pages already read.
// It is exported all the same, once, as it is after the message.
func TestConversation_ExportSeesUpdatesMadeMeanwhile(t *testing.T) {
	h := &hookedTranscripts{}
	e := newEnv(t, func(d *web.Deps, e *env) {
		h.DB = e.db
		d.Conversations = h
	})
	bot := e.publishBot(echoFlow)
	var oldest turn
	for i := range 105 { // more than one page of 100
		c := e.start(bot, nil)
		if i == 0 {
			oldest = c
		}
	}
	h.hook = func() {
		if code, _ := e.send(oldest.ID, oldest.Token, map[string]string{"text": "late"}); code != 200 {
			t.Errorf("the message during the export: %d", code)
		}
		// A list's first page checkpoints the journal into bbolt, as the
		// background checkpointer does twice a second: the export's next
		// page then sees the conversation moved to the top.
		if _, _, err := e.db.RecentConversations(context.Background(), bot, flow.ConversationFilter{}, "", 1); err != nil {
			t.Error(err)
		}
	}
	r := e.do("GET", "/v1/bots/"+bot+"/conversations/export", adminToken, nil)
	lines := strings.Split(strings.TrimSpace(string(r.Body)), "\n")
	count := map[string]int{}
	late := false
	for _, l := range lines {
		var x exported
		if err := json.Unmarshal([]byte(l), &x); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		count[x.ID]++
		if x.ID == oldest.ID && x.Variables["said"] == "late" {
			late = true
		}
	}
	if len(lines) != 105 || len(count) != 105 || count[oldest.ID] != 1 || !late {
		t.Fatalf("%d lines, %d conversations, the updated one %d times (with its message: %v); want 105, each once",
			len(lines), len(count), count[oldest.ID], late)
	}
}
