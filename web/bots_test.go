package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/flowbot/flowbot/connections"
	"github.com/flowbot/flowbot/flow"
	"github.com/flowbot/flowbot/web"
)

const validFlow = `{"start":"ask","steps":[
 {"id":"ask","type":"ask","text":"Your order number?","variable":"order_number","input":"text","next":"lookup"},
 {"id":"lookup","type":"api_call","method":"GET","url":"https://shop.example.com/api/orders/{{order_number}}.json",
  "variables":[{"name":"order_status","path":"$.order.status"}],"on_success":"tell","on_failure":"sorry"},
 {"id":"tell","type":"message","text":"Your order is {{order_status}}.","next":""},
 {"id":"sorry","type":"transfer","text":"Sorry, let me get a human.","reason":"lookup failed"}]}`

func TestBots_CreateReadListDelete(t *testing.T) {
	e := newEnv(t)
	tok := e.designerToken()
	id, rev := e.createBot(validFlow)
	if rev != 1 {
		t.Fatalf("revision %d", rev)
	}
	r := e.do("GET", "/v1/bots/"+id, tok, nil)
	if r.Code != 200 || r.Header.Get("ETag") != `"1"` {
		t.Fatalf("get: %d etag %q", r.Code, r.Header.Get("ETag"))
	}
	m := r.m(t)
	if len(m["problems"].([]any)) != 0 {
		t.Fatalf("valid flow has problems: %v", m["problems"])
	}
	steps := m["flow"].(map[string]any)["steps"].([]any)
	if len(steps) != 4 || steps[1].(map[string]any)["url"] != "https://shop.example.com/api/orders/{{order_number}}.json" {
		t.Fatalf("flow did not round-trip: %v", steps)
	}
	e.createBot("")
	r = e.do("GET", "/v1/bots?limit=1", tok, nil)
	lm := r.m(t)
	if r.Code != 200 || lm["total"].(float64) != 2 || len(lm["items"].([]any)) != 1 {
		t.Fatalf("list: %d %s", r.Code, r.Body)
	}
	r = e.do("GET", "/v1/bots?offset=1&limit=1", tok, nil)
	if items := r.m(t)["items"].([]any); items[0].(map[string]any)["id"] == id {
		t.Fatal("offset did not page")
	}
	for _, q := range []string{"limit=0", "limit=201", "offset=-1", "limit=x"} {
		if r := e.do("GET", "/v1/bots?"+q, tok, nil); r.Code != 400 {
			t.Fatalf("%s: %d", q, r.Code)
		}
	}
	if r := e.do("GET", "/v1/bots?limit=200", tok, nil); r.Code != 200 {
		t.Fatalf("limit=200: %d", r.Code)
	}
	if r := e.do("DELETE", "/v1/bots/"+id, tok, nil); r.Code != 204 {
		t.Fatalf("delete: %d", r.Code)
	}
	if r := e.do("GET", "/v1/bots/"+id, tok, nil); r.Code != 404 || r.errCode(t) != "not_found" {
		t.Fatalf("after delete: %d", r.Code)
	}
}

func TestBots_CreateRefusesBadInput(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, body string
		code       int
		errCode    string
		contains   string
	}{
		{"ErrMalformedJSON", `{"name":`, 400, "invalid", "not valid JSON"},
		{"ErrEmptyBody", ``, 400, "invalid", "empty"},
		{"ErrUnknownTopField", `{"name":"a","nmae":"b"}`, 400, "invalid", "/nmae"},
		{"ErrUnknownStepField", `{"name":"a","flow":{"start":"x","steps":[{"id":"x","type":"api_call","on_sucess":"y"}]}}`, 400, "invalid", "/flow/steps/0/on_sucess"},
		{"ErrWrongType", `{"name":42}`, 400, "invalid", "/name"},
		{"ErrNameMissing", `{"description":"x"}`, 422, "required", "/name"},
		{"ErrNameTooLong", `{"name":"` + strings.Repeat("n", 201) + `"}`, 422, "max", "/name"},
		{"ErrNameOfSpaces", `{"name":"   "}`, 422, "required", "/name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			r := e.do("POST", "/v1/bots", adminToken, tc.body)
			if r.Code != tc.code || !strings.Contains(string(r.Body), tc.contains) {
				t.Fatalf("got %d %s", r.Code, r.Body)
			}
			if tc.code == 422 {
				var b struct {
					Error struct {
						Details []struct{ Pointer, Code string }
					}
				}
				r.json(t, &b)
				if b.Error.Details[0].Code != tc.errCode {
					t.Fatalf("detail code %q", b.Error.Details[0].Code)
				}
			} else if r.errCode(t) != tc.errCode {
				t.Fatalf("code %q", r.errCode(t))
			}
		})
	}
	t.Run("OKNameTrimmed", func(t *testing.T) {
		e := e.with(t)
		r := e.do("POST", "/v1/bots", adminToken, `{"name":" a "}`)
		if r.Code != 201 || r.m(t)["name"] != "a" {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
	})
	t.Run("OKEdgeName200AndReadOnlyFieldsIgnored", func(t *testing.T) {
		e := e.with(t)
		r := e.do("POST", "/v1/bots", adminToken, `{"id":"mine","revision":99,"name":"`+strings.Repeat("n", 200)+`"}`)
		if r.Code != 201 {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
		m := r.m(t)
		if m["id"] == "mine" || m["revision"].(float64) != 1 {
			t.Fatalf("read-only fields were not ignored: %v", m)
		}
	})
}

func TestBots_SaveDraftNeedsCurrentRevision(t *testing.T) {
	e := newEnv(t)
	id, _ := e.createBot(validFlow)
	path := "/v1/bots/" + id + "/flow"
	broken := strings.Replace(validFlow, `"on_failure":"sorry"`, `"on_failure":"nowhere"`, 1)

	if r := e.do("PUT", path, adminToken, broken); r.Code != 409 {
		t.Fatalf("no If-Match: %d", r.Code)
	}
	r := e.do("PUT", path, adminToken, broken, "If-Match", "1")
	if r.Code != 200 {
		t.Fatalf("save: %d %s", r.Code, r.Body)
	}
	m := r.m(t)
	if m["revision"].(float64) != 2 || !hasProblem(m["problems"].([]any), "/steps/1/on_failure", "unknown_target") {
		t.Fatalf("save response: %s", r.Body)
	}
	// A second designer still holding revision 1 is refused, and names the current revision.
	r = e.do("PUT", path, adminToken, validFlow, "If-Match", `"1"`)
	if r.Code != 409 || !strings.Contains(string(r.Body), "2") {
		t.Fatalf("stale save: %d %s", r.Code, r.Body)
	}
	// Nothing stored was lost: the draft is still the revision-2 one.
	r = e.do("GET", "/v1/bots/"+id, adminToken, nil)
	if !strings.Contains(string(r.Body), "nowhere") {
		t.Fatal("stale save changed the draft")
	}
	if r := e.do("PUT", path, adminToken, validFlow, "If-Match", "abc"); r.Code != 400 {
		t.Fatalf("bad If-Match: %d", r.Code)
	}
	if r := e.do("PUT", path, adminToken, `{"start":"a","steps":[],"extra":1}`, "If-Match", "2"); r.Code != 400 || !strings.Contains(string(r.Body), "extra") {
		t.Fatalf("unknown field: %d %s", r.Code, r.Body)
	}
	if r := e.do("PUT", "/v1/bots/nope/flow", adminToken, validFlow, "If-Match", "1"); r.Code != 404 {
		t.Fatalf("unknown bot: %d", r.Code)
	}
	// Saving the same draft again (re-indented: the stored form is what
	// counts) makes no new revision, and still answers with the problems.
	var doc any
	if err := json.Unmarshal([]byte(broken), &doc); err != nil {
		t.Fatal(err)
	}
	same, _ := json.MarshalIndent(doc, "", "   ")
	r = e.do("PUT", path, adminToken, string(same), "If-Match", "2")
	if r.Code != 200 || r.m(t)["revision"].(float64) != 2 || r.Header.Get("ETag") != `"2"` ||
		!hasProblem(r.m(t)["problems"].([]any), "/steps/1/on_failure", "unknown_target") {
		t.Fatalf("unchanged save: %d %s (ETag %s); want revision 2 with its problems", r.Code, r.Body, r.Header.Get("ETag"))
	}
}

// TestBots_SaveDraftRefusesANonObject: a flow document that is not an
// object, null included (which Go's json would take as "no change" and
// the save as an empty flow), is refused at the root, and the draft and
// its revision stay as they were.
func TestBots_SaveDraftRefusesANonObject(t *testing.T) {
	e := newEnv(t)
	id, _ := e.createBot(validFlow)
	before := e.do("GET", "/v1/bots/"+id, adminToken, nil).m(t)
	for _, tc := range []struct{ name, body string }{
		{"ErrNull", "null"}, {"ErrNullSpaced", " null\n"}, {"ErrArray", "[]"}, {"ErrString", `"flow"`}, {"ErrNumber", "5"}, {"ErrBool", "true"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			r := e.do("PUT", "/v1/bots/"+id+"/flow", adminToken, tc.body, "If-Match", "1")
			var b web.ErrorBody
			r.json(t, &b)
			if r.Code != 400 || b.Error.Code != "invalid" || len(b.Error.Details) != 1 ||
				b.Error.Details[0].Pointer != "" || b.Error.Details[0].Code != "wrong_type" {
				t.Fatalf("got %d %s", r.Code, r.Body)
			}
			after := e.do("GET", "/v1/bots/"+id, adminToken, nil)
			if m := after.m(t); m["revision"].(float64) != 1 || after.Header.Get("ETag") != `"1"` ||
				fmt.Sprint(m["flow"]) != fmt.Sprint(before["flow"]) {
				t.Fatalf("the draft changed: %s", after.Body)
			}
		})
	}
}

func TestBots_PublishRefusesErrorsThenPublishesImmutableVersion(t *testing.T) {
	e := newEnv(t)
	broken := strings.Replace(validFlow, `https://shop.example.com`, `https://{{shop}}.example.com`, 1)
	id, _ := e.createBot(broken)
	r := e.do("POST", "/v1/bots/"+id+"/validate", adminToken, nil)
	if r.Code != 200 || !hasProblem(r.m(t)["problems"].([]any), "/steps/1/url", "variable_in_host") {
		t.Fatalf("validate: %d %s", r.Code, r.Body)
	}
	r = e.do("POST", "/v1/bots/"+id+"/publish", adminToken, nil)
	if r.Code != 422 || r.errCode(t) != "rule_violation" || !strings.Contains(string(r.Body), "/steps/1/url") {
		t.Fatalf("publish invalid: %d %s", r.Code, r.Body)
	}
	r = e.do("PUT", "/v1/bots/"+id+"/flow", adminToken, validFlow, "If-Match", "1")
	if r.Code != 200 {
		t.Fatal(r.Code)
	}
	r = e.do("POST", "/v1/bots/"+id+"/publish", adminToken, nil)
	if r.Code != 201 || r.m(t)["number"].(float64) != 1 {
		t.Fatalf("publish: %d %s", r.Code, r.Body)
	}
	// Later draft edits do not change version 1.
	changed := strings.Replace(validFlow, "Your order number?", "Order number, please?", 1)
	e.do("PUT", "/v1/bots/"+id+"/flow", adminToken, changed, "If-Match", "2")
	r = e.do("GET", "/v1/bots/"+id+"/versions/1", adminToken, nil)
	if r.Code != 200 || !strings.Contains(string(r.Body), "Your order number?") {
		t.Fatalf("version 1: %d %s", r.Code, r.Body)
	}
	r = e.do("GET", "/v1/bots/"+id+"/versions", adminToken, nil)
	if r.Code != 200 || len(r.m(t)["items"].([]any)) != 1 {
		t.Fatalf("versions: %s", r.Body)
	}
	for _, n := range []string{"2", "0", "x"} {
		if r := e.do("GET", "/v1/bots/"+id+"/versions/"+n, adminToken, nil); r.Code != 404 {
			t.Fatalf("version %s: %d", n, r.Code)
		}
	}
	r = e.do("GET", "/v1/bots/"+id, adminToken, nil)
	if r.m(t)["published_version"].(float64) != 1 {
		t.Fatal("published_version not set")
	}
	r = e.do("GET", "/v1/audit", adminToken, nil)
	if !strings.Contains(string(r.Body), "bot.published") {
		t.Fatalf("audit: %s", r.Body)
	}
}

// TestBots_Patch: PATCH renames and re-describes a bot. A flow sent with
// it is accepted only as the client read it (the draft, however written);
// any other is refused at /flow rather than silently dropped, and nothing
// is changed. A name is trimmed, and one of spaces only is refused.
func TestBots_Patch(t *testing.T) {
	e := newEnv(t)
	id, _ := e.createBot(validFlow)
	path := "/v1/bots/" + id
	draft := func(t *testing.T) (map[string]any, string) {
		r := e.do("GET", path, adminToken, nil)
		m := r.m(t)
		return m, r.Header.Get("ETag")
	}

	t.Run("OKRenameTrimmed", func(t *testing.T) {
		e := e.with(t)
		r := e.do("PATCH", path, adminToken, map[string]any{"name": "  Orders  ", "description": "where is my order"})
		if m := r.m(t); r.Code != 200 || m["name"] != "Orders" || m["description"] != "where is my order" || r.Header.Get("ETag") != `"1"` {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
	})
	t.Run("OKSendBackWhatWasRead", func(t *testing.T) {
		e := e.with(t)
		read, _ := draft(t)
		read["name"] = "Order status"
		// Written differently, the same draft: an empty list the server
		// leaves out is sent, and the document is re-indented.
		read["flow"].(map[string]any)["steps"].([]any)[0].(map[string]any)["options"] = []any{}
		body, _ := json.MarshalIndent(read, "", "    ")
		r := e.do("PATCH", path, adminToken, string(body))
		if r.Code != 200 || r.m(t)["name"] != "Order status" || r.m(t)["revision"].(float64) != 1 {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
	})
	t.Run("ErrFlowChanged", func(t *testing.T) {
		e := e.with(t)
		read, etag := draft(t)
		sent := map[string]any{"name": "Renamed", "flow": read["flow"]}
		sent["flow"].(map[string]any)["steps"].([]any)[2].(map[string]any)["text"] = "Changed here"
		r := e.do("PATCH", path, adminToken, sent)
		var b web.ErrorBody
		r.json(t, &b)
		if r.Code != 400 || len(b.Error.Details) != 1 || b.Error.Details[0].Pointer != "/flow" ||
			b.Error.Details[0].Code != "read_only_field" || !strings.Contains(b.Error.Message, "PUT /v1/bots/{id}/flow") {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
		after, afterTag := draft(t)
		if after["name"] != read["name"] || afterTag != etag || strings.Contains(fmt.Sprint(after["flow"]), "Changed here") {
			t.Fatalf("a refused PATCH changed the bot: %v", after)
		}
	})
	for _, tc := range []struct{ name, body, pointer, code string }{
		{"ErrBlankName", `{"name":"   "}`, "/name", "required"},
		{"ErrEmptyName", `{"name":""}`, "/name", "required"},
		{"ErrNameTooLong", `{"name":"` + strings.Repeat("n", 201) + `"}`, "/name", "max"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			r := e.do("PATCH", path, adminToken, tc.body)
			if r.Code != 422 || details(t, r)[tc.pointer] != tc.code {
				t.Fatalf("%d %s", r.Code, r.Body)
			}
			if after, _ := draft(t); after["name"] != "Order status" {
				t.Fatalf("a refused PATCH renamed the bot: %v", after["name"])
			}
		})
	}
	t.Run("ErrNotFound", func(t *testing.T) {
		e := e.with(t)
		if r := e.do("PATCH", "/v1/bots/nope", adminToken, `{"name":"x"}`); r.Code != 404 || r.errCode(t) != "not_found" {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
		if r := e.do("PATCH", "/v1/bots/nope", adminToken, `{"name":"x","flow":{"start":"","steps":[]}}`); r.Code != 404 {
			t.Fatalf("with a flow: %d %s", r.Code, r.Body)
		}
	})
}

func TestBots_ExportImportRoundTrip(t *testing.T) {
	e := newEnv(t)
	id, _ := e.createBot(validFlow)
	r := e.do("GET", "/v1/bots/"+id+"/export", adminToken, nil)
	if r.Code != 200 {
		t.Fatal(r.Code)
	}
	doc := r.Body
	r = e.do("POST", "/v1/bots/import", adminToken, doc)
	if r.Code != 201 {
		t.Fatalf("import: %d %s", r.Code, r.Body)
	}
	m := r.m(t)
	if m["id"] == id || m["name"] != "Test bot" || len(m["flow"].(map[string]any)["steps"].([]any)) != 4 {
		t.Fatalf("imported: %s", r.Body)
	}
	for _, tc := range []struct {
		name, body string
		code       int
		pointer    string
		message    string
	}{
		{"ErrWrongFormat", `{"format":"other","format_version":1,"name":"x","flow":{"start":"","steps":[]}}`,
			422, "/format", "/format must be flowbot.bot"},
		{"ErrWrongVersion", `{"format":"flowbot.bot","format_version":2,"name":"x","flow":{"start":"","steps":[]}}`,
			422, "/format_version", "/format_version must be 1"},
		{"ErrNoFlow", `{"format":"flowbot.bot","format_version":1,"name":"x"}`,
			422, "/flow", "/flow is required"},
		{"ErrUnknownField", `{"format":"flowbot.bot","format_version":1,"name":"x","flow":{"start":"","steps":[]},"extra":1}`,
			400, "/extra", "extra"},
		{"ErrBlankName", `{"format":"flowbot.bot","format_version":1,"name":" \t ","flow":{"start":"","steps":[]}}`,
			422, "/name", "/name is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			r := e.do("POST", "/v1/bots/import", adminToken, tc.body)
			var b web.ErrorBody
			r.json(t, &b)
			if r.Code != tc.code || len(b.Error.Details) == 0 || b.Error.Details[0].Pointer != tc.pointer || !strings.Contains(b.Error.Details[0].Message, tc.message) {
				t.Fatalf("%d %s; want %d naming %s with %q", r.Code, r.Body, tc.code, tc.pointer, tc.message)
			}
		})
	}
}

func TestBots_BodyLimit(t *testing.T) {
	e := newEnv(t)
	big := fmt.Sprintf(`{"name":"x","description":"%s"}`, strings.Repeat("a", 9<<20))
	r := e.do("POST", "/v1/bots", adminToken, big)
	if r.Code != http.StatusRequestEntityTooLarge || r.errCode(t) != "too_large" {
		t.Fatalf("%d %s", r.Code, truncate(r.Body))
	}
}

// TestBots_SaveAndImportLimits: a draft save or an import over the body
// limit is 413, and a draft of more than flow.MaxStepsPerFlow steps is
// 422 too_many_steps at /steps; the draft stays as it was.
func TestBots_SaveAndImportLimits(t *testing.T) {
	e := newEnv(t, func(d *web.Deps, _ *env) { d.BodyLimit = 64 << 10 })
	id, _ := e.createBot(validFlow)
	big := `{"start":"a","steps":[{"id":"a","type":"message","text":"` + strings.Repeat("a", 64<<10) + `"}]}`
	if r := e.do("PUT", "/v1/bots/"+id+"/flow", adminToken, big, "If-Match", "1"); r.Code != 413 || r.errCode(t) != "too_large" {
		t.Fatalf("save: %d %s", r.Code, truncate(r.Body))
	}
	doc := `{"format":"flowbot.bot","format_version":1,"name":"big","flow":` + big + `}`
	if r := e.do("POST", "/v1/bots/import", adminToken, doc); r.Code != 413 || r.errCode(t) != "too_large" {
		t.Fatalf("import: %d %s", r.Code, truncate(r.Body))
	}

	e = newEnv(t)
	id, _ = e.createBot(validFlow)
	steps := make([]string, flow.MaxStepsPerFlow+1)
	for i := range steps {
		steps[i] = fmt.Sprintf(`{"id":"s%d","type":"end"}`, i)
	}
	r := e.do("PUT", "/v1/bots/"+id+"/flow", adminToken, `{"start":"s0","steps":[`+strings.Join(steps, ",")+`]}`, "If-Match", "1")
	if r.Code != 422 || details(t, r)["/steps"] != "too_many_steps" {
		t.Fatalf("too many steps: %d %s", r.Code, truncate(r.Body))
	}
	if r := e.do("GET", "/v1/bots/"+id, adminToken, nil); r.Header.Get("ETag") != `"1"` {
		t.Fatalf("a refused save changed the draft: ETag %s", r.Header.Get("ETag"))
	}
}

// beforeListing is the real connection store, with a hook that runs (once)
// the next time the connections are listed: every validation lists them,
// so the hook runs between a handler's read of a bot and its write.
type beforeListing struct {
	connections.Store
	hook *atomic.Pointer[func()]
}

func (b beforeListing) Connections(ctx context.Context) ([]*connections.Connection, error) {
	if f := b.hook.Swap(nil); f != nil {
		(*f)()
	}
	return b.Store.Connections(ctx)
}

// TestBots_PublishRefusesADraftSavedMeanwhile: a publish publishes the
// draft it validated; when a save comes between its validation and its
// write, it is refused with 409 and publishes nothing, and a publish
// after that publishes the new draft.
func TestBots_PublishRefusesADraftSavedMeanwhile(t *testing.T) {
	var hook atomic.Pointer[func()]
	e := newEnv(t, func(_ *web.Deps, e *env) { e.conns.Store = beforeListing{Store: e.db, hook: &hook} })
	id, _ := e.createBot(validFlow)
	var changed flow.Flow
	if err := json.Unmarshal([]byte(strings.Replace(validFlow, "Your order number?", "Order number, please?", 1)), &changed); err != nil {
		t.Fatal(err)
	}
	save := func() {
		if _, err := e.db.SaveDraft(context.Background(), id, changed, 1); err != nil {
			t.Error(err)
		}
	}
	hook.Store(&save)
	r := e.do("POST", "/v1/bots/"+id+"/publish", adminToken, nil)
	if r.Code != 409 || r.errCode(t) != "conflict" || !strings.Contains(string(r.Body), "revision 2") {
		t.Fatalf("publish across a save: %d %s", r.Code, r.Body)
	}
	if r := e.do("GET", "/v1/bots/"+id+"/versions", adminToken, nil); len(r.m(t)["items"].([]any)) != 0 {
		t.Fatalf("the refused publish made a version: %s", r.Body)
	}
	r = e.do("POST", "/v1/bots/"+id+"/publish", adminToken, nil)
	if m := r.m(t); r.Code != 201 || m["revision"].(float64) != 2 || !strings.Contains(string(r.Body), "Order number, please?") {
		t.Fatalf("publish again: %d %s", r.Code, r.Body)
	}
}

func TestMe_TellsRole(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/v1/me", e.designerToken(), nil)
	if r.Code != 200 || r.m(t)["role"] != "designer" {
		t.Fatalf("%d %s", r.Code, r.Body)
	}
	if r := e.do("GET", "/v1/me", adminToken, nil); r.m(t)["role"] != "admin" {
		t.Fatal(string(r.Body))
	}
}

// An unexpected failure answers 500 with no detail: the cause (here, a
// closed database) is logged, never sent (SPEC §5).
func TestInternalErrorTellsNothing(t *testing.T) {
	e := newEnv(t)
	id, _ := e.createBot(validFlow)
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/v1/bots", "/v1/bots/" + id} {
		r := e.do("GET", path, adminToken, nil)
		if r.Code != 500 || string(r.Body) != `{"error":{"code":"internal","message":"internal error"}}`+"\n" {
			t.Fatalf("GET %s: %d %q", path, r.Code, r.Body)
		}
		if r.Header.Get("X-Request-Id") == "" {
			t.Fatalf("GET %s: no X-Request-Id to find the logged cause by", path)
		}
	}
}

// The largest flow validation allows, made of typical steps (one api_call
// in four, messages with variables, canvas positions), fits in the request
// body limit and is saved and published.
func TestBots_LargestFlowFits(t *testing.T) {
	e := newEnv(t)
	type pos struct {
		X int `json:"x"`
		Y int `json:"y"`
	}
	steps := make([]map[string]any, 0, flow.MaxStepsPerFlow)
	id := func(i int) string { return fmt.Sprintf("s%05d", i) }
	for i := range flow.MaxStepsPerFlow {
		next := ""
		if i+1 < flow.MaxStepsPerFlow {
			next = id(i + 1)
		}
		st := map[string]any{"id": id(i), "position": pos{i % 1000 * 220, i / 1000 * 140}}
		if i%4 == 0 && next != "" {
			st["type"], st["method"] = "api_call", "GET"
			st["url"] = "https://api.example.com/orders/{{order_number}}"
			st["variables"] = []map[string]string{{"name": "order_status", "path": "$.order.status"}, {"name": "eta", "path": "$.order.eta"}}
			st["on_success"], st["on_failure"] = next, next
		} else {
			st["type"], st["text"] = "message", "Order {{order_number}} is {{order_status}} and should arrive on {{eta}}."
			if next != "" {
				st["next"] = next
			}
		}
		steps = append(steps, st)
	}
	body, err := json.Marshal(map[string]any{"start": id(0), "steps": steps})
	if err != nil {
		t.Fatal(err)
	}
	if len(body) > web.DefaultBodyLimit/2 {
		t.Fatalf("a typical %d-step flow is %d bytes: over half the %d-byte body limit", flow.MaxStepsPerFlow, len(body), web.DefaultBodyLimit)
	}
	bot, _ := e.createBot(`{"start":"m","steps":[{"id":"m","type":"message","text":"hi"}]}`)
	if r := e.do("PUT", "/v1/bots/"+bot+"/flow", adminToken, body, "If-Match", "1"); r.Code != 200 {
		t.Fatalf("save: %d %s", r.Code, truncate(r.Body))
	}
	if r := e.do("POST", "/v1/bots/"+bot+"/publish", adminToken, nil); r.Code != 201 {
		t.Fatalf("publish: %d %s", r.Code, truncate(r.Body))
	}
}
