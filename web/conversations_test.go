package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowbot/flowbot/flow"
	"github.com/flowbot/flowbot/web"
)

// shop is a real TLS upstream standing in for an order API.
type shop struct {
	srv  *httptest.Server
	hits atomic.Int64
	mu   sync.Mutex
	seen []string
}

func newShop(t *testing.T) *shop {
	s := &shop{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/orders/{n}", func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		s.seen = append(s.seen, r.URL.EscapedPath())
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", "req-"+r.PathValue("n"))
		if r.PathValue("n") == "2002" { // an order the shop has not given a status yet
			fmt.Fprint(w, `{"order":{"customer_id":"c9"}}`)
			return
		}
		if r.PathValue("n") != "1001" {
			w.WriteHeader(404)
			fmt.Fprint(w, `{"error":"no such order"}`)
			return
		}
		fmt.Fprint(w, `{"order":{"status":"shipped","customer_id":"c77","items":[{"name":"Shoes"},{"name":"Hat"}]}}`)
	})
	mux.HandleFunc("GET /api/customers/{id}", func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"name":"Ann (%s)"}`, r.PathValue("id"))
	})
	s.srv = httptest.NewTLSServer(mux)
	t.Cleanup(s.srv.Close)
	return s
}

// orderFlow: ask order → look it up → look up its customer (chained) →
// tell the status; or apologise and transfer.
func orderFlow(base string) string {
	return `{"start":"ask","steps":[
 {"id":"ask","type":"ask","text":"Your order number?","variable":"order_number","input":"text","next":"lookup"},
 {"id":"lookup","type":"api_call","method":"GET","url":"` + base + `/api/orders/{{order_number}}",
  "variables":[{"name":"order_status","path":"$.order.status"},{"name":"customer_id","path":"$.order.customer_id"},
   {"name":"items","path":"$.order.items"},{"name":"status_code","path":"$status"},{"name":"req_id","path":"$headers.x-request-id"}],
  "on_success":"customer","on_failure":"sorry"},
 {"id":"customer","type":"api_call","method":"GET","url":"` + base + `/api/customers/{{customer_id}}",
  "variables":[{"name":"customer_name","path":"$.name"}],"on_success":"tell","on_failure":"tell"},
 {"id":"tell","type":"message","text":"Order {{order_number}} is {{order_status}}, {{customer_name}}.","next":"done"},
 {"id":"done","type":"end","text":"Bye!"},
 {"id":"sorry","type":"transfer","text":"Sorry ({{status_code}}), let me get a human.","reason":"lookup failed"}]}`
}

// newOrderBot is a server with the order bot published against a shop
// it trusts.
func newOrderBot(t *testing.T) (*env, *shop, string) {
	e := newEnv(t)
	s := newShop(t)
	e.trust(s.srv)
	return e, s, e.publishBot(orderFlow(s.srv.URL))
}

// publishBot creates and publishes a bot and returns its id.
func (e *env) publishBot(flowJSON string) string {
	e.t.Helper()
	id, _ := e.createBot(flowJSON)
	r := e.do("POST", "/v1/bots/"+id+"/publish", adminToken, nil)
	if r.Code != 201 {
		e.t.Fatalf("publish: %d %s", r.Code, r.Body)
	}
	return id
}

type turn struct {
	ID       string `json:"id"`
	Token    string `json:"token"`
	Status   string `json:"status"`
	Messages []struct {
		StepID string `json:"step_id"`
		Text   string `json:"text"`
	} `json:"messages"`
	Awaiting struct {
		Type    string `json:"type"`
		Options []struct{ ID, Label string }
	} `json:"awaiting"`
}

func (tr turn) text() string {
	var s []string
	for _, m := range tr.Messages {
		s = append(s, m.Text)
	}
	return strings.Join(s, " | ")
}

func (e *env) start(botID string, body any) turn {
	e.t.Helper()
	r := e.do("POST", "/v1/bots/"+botID+"/conversations", "", body)
	if r.Code != 201 {
		e.t.Fatalf("start: %d %s", r.Code, r.Body)
	}
	var tr turn
	r.json(e.t, &tr)
	return tr
}

func (e *env) send(convID, token string, body any) (int, turn) {
	e.t.Helper()
	r := e.do("POST", "/v1/conversations/"+convID+"/messages", token, body)
	var tr turn
	if r.Code == 200 {
		r.json(e.t, &tr)
	}
	return r.Code, tr
}

func TestConversation_OrderBotBothBranches(t *testing.T) {
	e, s, bot := newOrderBot(t)

	t.Run("SuccessBranchWithChaining", func(t *testing.T) {
		e := e.with(t)
		c := e.start(bot, map[string]any{"user": map[string]any{"name": "Ann"}})
		if c.Status != "active" || c.Awaiting.Type != "text" || c.text() != "Your order number?" || !strings.HasPrefix(c.Token, "fbc_") {
			t.Fatalf("start: %+v", c)
		}
		code, tr := e.send(c.ID, c.Token, map[string]string{"text": "1001"})
		if code != 200 || tr.text() != "Order 1001 is shipped, Ann (c77). | Bye!" || tr.Status != "ended" || tr.Awaiting.Type != "none" {
			t.Fatalf("turn: %d %+v", code, tr)
		}
		// The designer sees the variables, including status, header and JSON array.
		r := e.do("GET", "/v1/conversations/"+c.ID, e.designerToken(), nil)
		var v struct {
			Variables  map[string]string
			Transcript []map[string]any
		}
		r.json(t, &v)
		if v.Variables["status_code"] != "200" || v.Variables["req_id"] != "req-1001" || v.Variables["items"] != `[{"name":"Shoes"},{"name":"Hat"}]` {
			t.Fatalf("variables: %v", v.Variables)
		}
		if len(v.Transcript) != 4 {
			t.Fatalf("transcript: %v", v.Transcript)
		}
		// The token holder sees the transcript but not the variables.
		r = e.do("GET", "/v1/conversations/"+c.ID, c.Token, nil)
		if r.Code != 200 || strings.Contains(string(r.Body), "variables") {
			t.Fatalf("holder view: %d %s", r.Code, r.Body)
		}
		// A message to an ended conversation is a clear 409.
		r = e.do("POST", "/v1/conversations/"+c.ID+"/messages", c.Token, map[string]string{"text": "hello?"})
		if r.Code != 409 || !strings.Contains(string(r.Body), "ended") {
			t.Fatalf("after end: %d %s", r.Code, r.Body)
		}
	})

	t.Run("FailureBranchTransfers", func(t *testing.T) {
		e := e.with(t)
		c := e.start(bot, nil)
		code, tr := e.send(c.ID, c.Token, map[string]string{"text": "4040"})
		if code != 200 || tr.Status != "transferred" || tr.text() != "Sorry (404), let me get a human." {
			t.Fatalf("turn: %d %+v", code, tr)
		}
		r := e.do("GET", "/v1/conversations/"+c.ID+"/log", adminToken, nil)
		if r.Code != 200 || !strings.Contains(string(r.Body), `"error":"http_status"`) || !strings.Contains(string(r.Body), `"branch":"failure"`) {
			t.Fatalf("log: %s", r.Body)
		}
		// The API's answer is in the log, to see why the call failed.
		if !strings.Contains(string(r.Body), `"response_body":"{\"error\":\"no such order\"}"`) {
			t.Fatalf("log without the response body: %s", r.Body)
		}
	})

	t.Run("PeriodInOrderNumberFailsWithoutCalling", func(t *testing.T) {
		e := e.with(t)
		before := s.hits.Load()
		c := e.start(bot, nil)
		code, tr := e.send(c.ID, c.Token, map[string]string{"text": "10.01"})
		if code != 200 || tr.Status != "transferred" {
			t.Fatalf("turn: %d %+v", code, tr)
		}
		if s.hits.Load() != before {
			t.Fatal("the upstream was called")
		}
		r := e.do("GET", "/v1/conversations/"+c.ID+"/log", adminToken, nil)
		if !strings.Contains(string(r.Body), "period_in_path_variable") {
			t.Fatalf("log: %s", r.Body)
		}
	})

	t.Run("TypedTemplateIsDataAndSlashStaysOneSegment", func(t *testing.T) {
		e := e.with(t)
		c := e.start(bot, nil)
		e.send(c.ID, c.Token, map[string]string{"text": "{{order_status}}/x"})
		s.mu.Lock()
		last := s.seen[len(s.seen)-1]
		s.mu.Unlock()
		if last != "/api/orders/%7B%7Border_status%7D%7D%2Fx" {
			t.Fatalf("upstream saw %q", last)
		}
	})
}

// TestConversation_StepRunAgainUnsetsItsVariables: an api_call run a
// second time in one conversation (a loop) starts its variables afresh,
// so a path that matches nothing this time, or a failed call, leaves them
// unset instead of showing the first answer (SPEC §3 rule 8). A name the
// ask step also writes (order_number, which the call could refine from
// the answer) keeps the typed value when the answer lacks it.
func TestConversation_StepRunAgainUnsetsItsVariables(t *testing.T) {
	e := newEnv(t)
	s := newShop(t)
	e.trust(s.srv)
	bot := e.publishBot(`{"start":"ask","steps":[
 {"id":"ask","type":"ask","text":"Order?","variable":"order_number","input":"text","next":"lookup"},
 {"id":"lookup","type":"api_call","method":"GET","url":"` + s.srv.URL + `/api/orders/{{order_number}}",
  "variables":[{"name":"order_status","path":"$.order.status"},{"name":"code","path":"$status"},{"name":"order_number","path":"$.order.number"}],
  "on_success":"tell","on_failure":"tell"},
 {"id":"tell","type":"message","text":"{{order_number}}: [{{order_status}}] {{code}}","next":"ask"}]}`)
	c := e.start(bot, nil)
	for _, step := range []struct{ send, want string }{
		{"1001", "1001: [shipped] 200 | Order?"},
		{"4040", "4040: [] 404 | Order?"}, // failure branch
		{"1001", "1001: [shipped] 200 | Order?"},
		{"2002", "2002: [] 200 | Order?"}, // 2xx, the path matches nothing
		{"10.01", "10.01: []  | Order?"},  // refused before sending: no status
	} {
		code, tr := e.send(c.ID, c.Token, map[string]string{"text": step.send})
		if code != 200 || tr.text() != step.want {
			t.Fatalf("%s: %d %q; want %q", step.send, code, tr.text(), step.want)
		}
	}
	// The designer's view agrees: the typed order number, nothing else.
	r := e.do("GET", "/v1/conversations/"+c.ID, adminToken, nil)
	var v struct{ Variables map[string]string }
	r.json(t, &v)
	if !maps.Equal(v.Variables, map[string]string{"order_number": "10.01"}) {
		t.Fatalf("variables: %v", v.Variables)
	}
}

// TestConversation_LogWithoutBodies: with FLOWBOT_LOG_BODIES=false the
// execution log keeps the call's method, URL, status and branch, but no
// body sent or received.
func TestConversation_LogWithoutBodies(t *testing.T) {
	e := newEnv(t, func(d *web.Deps, _ *env) { d.Executor.OmitLogBodies = true })
	s := newShop(t)
	e.trust(s.srv)
	bot := e.publishBot(orderFlow(s.srv.URL))
	c := e.start(bot, nil)
	if code, tr := e.send(c.ID, c.Token, map[string]string{"text": "1001"}); code != 200 || tr.Status != "ended" {
		t.Fatalf("turn: %d %+v", code, tr)
	}
	r := e.do("GET", "/v1/conversations/"+c.ID+"/log", adminToken, nil)
	if r.Code != 200 || !strings.Contains(string(r.Body), `"status":200`) || strings.Contains(string(r.Body), "_body") || strings.Contains(string(r.Body), "shipped") {
		t.Fatalf("log: %s", r.Body)
	}
}

func TestConversation_StartRules(t *testing.T) {
	e := newEnv(t)
	id, _ := e.createBot(`{"start":"m","steps":[{"id":"m","type":"message","text":"hi"}]}`)
	t.Run("ErrNeverPublished", func(t *testing.T) {
		r := e.with(t).do("POST", "/v1/bots/"+id+"/conversations", "", nil)
		if r.Code != 404 || !strings.Contains(string(r.Body), "published") {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
	})
	t.Run("ErrUnknownBot", func(t *testing.T) {
		if r := e.with(t).do("POST", "/v1/bots/nope/conversations", "", nil); r.Code != 404 {
			t.Fatal(r.Code)
		}
	})
	e.do("POST", "/v1/bots/"+id+"/publish", adminToken, nil)
	t.Run("ErrBadVariableName", func(t *testing.T) {
		r := e.with(t).do("POST", "/v1/bots/"+id+"/conversations", "", `{"variables":{"Bad":"x"}}`)
		if r.Code != 422 || !strings.Contains(string(r.Body), "/variables/Bad") {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
	})
	t.Run("VariableNameEdges", func(t *testing.T) {
		// SPEC §2: names ^[a-z0-9_]{1,64}$.
		ok := strings.Repeat("a", 64)
		r := e.with(t).do("POST", "/v1/bots/"+id+"/conversations", "", `{"variables":{"`+ok+`":"x","a_1":"y"}}`)
		if r.Code != 201 {
			t.Fatalf("64-character name: %d %s", r.Code, r.Body)
		}
		for _, bad := range []string{ok + "a", "user.name", "a-b", "Ab"} {
			r := e.with(t).do("POST", "/v1/bots/"+id+"/conversations", "", `{"variables":{"`+bad+`":"x"}}`)
			if r.Code != 422 || !strings.Contains(string(r.Body), `"pointer":"/variables/`+bad+`"`) {
				t.Fatalf("%q: %d %s", bad, r.Code, r.Body)
			}
		}
	})
	t.Run("ErrUnknownField", func(t *testing.T) {
		r := e.with(t).do("POST", "/v1/bots/"+id+"/conversations", "", `{"usr":{}}`)
		if r.Code != 400 || !strings.Contains(string(r.Body), "usr") {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
	})
	t.Run("OKEmptyBodyEndsAtOnce", func(t *testing.T) {
		c := e.with(t).start(id, nil)
		if c.Status != "ended" || c.text() != "hi" {
			t.Fatalf("%+v", c)
		}
	})
	t.Run("ErrEmptyMessage", func(t *testing.T) {
		e := e.with(t)
		ask := e.publishBot(`{"start":"q","steps":[{"id":"q","type":"ask","text":"?","variable":"v","input":"text"}]}`)
		c := e.start(ask, nil)
		r := e.do("POST", "/v1/conversations/"+c.ID+"/messages", c.Token, `{"text":"  "}`)
		if r.Code != 422 || !strings.Contains(string(r.Body), `"pointer":"/text"`) {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
		r = e.do("POST", "/v1/conversations/"+c.ID+"/messages", c.Token, `{"txt":"hi"}`)
		if r.Code != 400 || !strings.Contains(string(r.Body), "/txt") {
			t.Fatalf("unknown field: %d %s", r.Code, r.Body)
		}
	})
}

// A conversation keeps the version it started on (SPEC §4): publishing a
// new version changes only conversations started after it. Options are
// answered by option_id over HTTP.
func TestConversation_KeepsItsVersion(t *testing.T) {
	e := newEnv(t)
	v1 := `{"start":"o","steps":[
 {"id":"o","type":"options","text":"Pick","options":[{"id":"a","label":"A","next":"m"}]},
 {"id":"m","type":"message","text":"V1 says {{o}}","next":"o"}]}`
	bot := e.publishBot(v1)
	old := e.start(bot, nil)
	if old.Awaiting.Type != "options" || len(old.Awaiting.Options) != 1 || old.Awaiting.Options[0].ID != "a" {
		t.Fatalf("start: %+v", old)
	}
	v2 := strings.Replace(v1, "V1 says", "V2 says", 1)
	if r := e.do("PUT", "/v1/bots/"+bot+"/flow", adminToken, v2, "If-Match", "1"); r.Code != 200 {
		t.Fatalf("save v2: %d %s", r.Code, r.Body)
	}
	if r := e.do("POST", "/v1/bots/"+bot+"/publish", adminToken, nil); r.Code != 201 {
		t.Fatalf("publish v2: %d %s", r.Code, r.Body)
	}
	young := e.start(bot, nil)
	for _, tc := range []struct {
		c    turn
		want string
	}{{old, "V1 says"}, {young, "V2 says"}} {
		code, tr := e.send(tc.c.ID, tc.c.Token, map[string]string{"option_id": "a"})
		if code != 200 || !strings.HasPrefix(tr.text(), tc.want) {
			t.Fatalf("conversation %s: %d %q; want %q", tc.c.ID, code, tr.text(), tc.want)
		}
	}
	// An unknown option is not a choice: the step asks again.
	code, tr := e.send(old.ID, old.Token, map[string]string{"option_id": "zz"})
	if code != 200 || tr.text() != "Please choose one of the options." || tr.Awaiting.Type != "options" {
		t.Fatalf("unknown option_id: %d %+v", code, tr)
	}
}

func TestConversation_LoopStopsAtStepCap(t *testing.T) {
	e := newEnv(t)
	bot := e.publishBot(`{"start":"a","steps":[
		{"id":"a","type":"set_variable","variable":"n","value":"1","next":"b"},
		{"id":"b","type":"message","text":"loop","next":"a"}]}`)
	c := e.start(bot, nil)
	if c.Status != "error" || len(c.Messages) != 50 {
		t.Fatalf("status %s, %d messages", c.Status, len(c.Messages))
	}
	r := e.do("GET", "/v1/conversations/"+c.ID+"/log", adminToken, nil)
	if !strings.Contains(string(r.Body), "step_limit") {
		t.Fatal("no step_limit entry in the log")
	}
	// The stats count 50 runs of each step, and the stop before a's 51st
	// run, which is not a run.
	var st struct {
		ByStatus map[string]int `json:"by_status"`
		Steps    []struct {
			StepID  string         `json:"step_id"`
			Runs    int            `json:"runs"`
			Stopped map[string]int `json:"stopped"`
		} `json:"steps"`
	}
	r = e.do("GET", "/v1/bots/"+bot+"/stats", adminToken, nil)
	if r.json(t, &st); r.Code != 200 || st.ByStatus["error"] != 1 || len(st.Steps) != 2 {
		t.Fatalf("stats: %d %s", r.Code, r.Body)
	}
	for _, s := range st.Steps {
		if s.Runs != 50 || (s.StepID == "a") != (s.Stopped["step_limit"] == 1) {
			t.Errorf("%+v", s)
		}
	}
}

// echoFlow waits for text, repeats it, and waits again.
const echoFlow = `{"start":"q","steps":[
	{"id":"q","type":"ask","text":"Say something","variable":"said","input":"text","next":"m"},
	{"id":"m","type":"message","text":"You said {{said}}","next":"q"}]}`

func TestConversation_ConcurrentTurnsLoseNothing(t *testing.T) {
	e := newEnv(t)
	bot := e.publishBot(echoFlow)

	t.Run("FiftyTurnsOnOneConversation", func(t *testing.T) {
		e := e.with(t)
		c := e.start(bot, nil)
		var wg sync.WaitGroup
		codes := make([]int, 50)
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i], _ = e.send(c.ID, c.Token, map[string]string{"text": fmt.Sprintf("msg-%02d", i)})
			}()
		}
		wg.Wait()
		for i, code := range codes {
			if code != 200 {
				t.Fatalf("turn %d: %d", i, code)
			}
		}
		r := e.do("GET", "/v1/conversations/"+c.ID, adminToken, nil)
		var v struct{ Transcript []struct{ From, Text string } }
		r.json(t, &v)
		user := map[string]bool{}
		for _, en := range v.Transcript {
			if en.From == "user" {
				user[en.Text] = true
			}
		}
		if len(user) != 50 || len(v.Transcript) != 1+50*3 {
			t.Fatalf("%d distinct user entries, %d entries", len(user), len(v.Transcript))
		}
	})

	t.Run("FiftyConversationsAtOnce", func(t *testing.T) {
		e := e.with(t)
		convs := make([]turn, 50)
		for i := range convs {
			convs[i] = e.start(bot, nil)
		}
		var wg sync.WaitGroup
		got := make([]turn, 50)
		for i := range convs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, got[i] = e.send(convs[i].ID, convs[i].Token, map[string]string{"text": fmt.Sprintf("c%d", i)})
			}()
		}
		wg.Wait()
		for i := range got {
			if !strings.HasPrefix(got[i].text(), fmt.Sprintf("You said c%d |", i)) {
				t.Fatalf("conversation %d got %q", i, got[i].text())
			}
		}
	})
}

func TestConversation_RateLimits(t *testing.T) {
	e := newEnv(t, func(d *web.Deps, _ *env) {
		d.IPRateLimit = web.RateLimit{PerSecond: 0.01, Burst: 2}
		d.ConversationRateLimit = web.RateLimit{PerSecond: 0.01, Burst: 3}
	})
	bot := e.publishBot(echoFlow)
	c := e.start(bot, nil)
	e.start(bot, nil)
	r := e.do("POST", "/v1/bots/"+bot+"/conversations", "", nil)
	if r.Code != 429 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("third start: %d %v", r.Code, r.Header)
	}
	for i := range 3 {
		if code, _ := e.send(c.ID, c.Token, map[string]string{"text": "x"}); code != 200 {
			t.Fatalf("message %d: %d", i, code)
		}
	}
	r = e.do("POST", "/v1/conversations/"+c.ID+"/messages", c.Token, map[string]string{"text": "x"})
	if r.Code != 429 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("fourth message: %d", r.Code)
	}
}

// The start limit is per client address. X-Forwarded-For is believed only
// from a trusted proxy: any client can send one. (httptest's requests come
// from 192.0.2.1.)
func TestConversation_RateLimitClientAddress(t *testing.T) {
	start := func(e *env, bot, xff string) int {
		return e.do("POST", "/v1/bots/"+bot+"/conversations", "", nil, "X-Forwarded-For", xff).Code
	}
	limit := func(d *web.Deps, _ *env) { d.IPRateLimit = web.RateLimit{PerSecond: 0.01, Burst: 1} }
	t.Run("ForgedHeaderIgnored", func(t *testing.T) {
		e := newEnv(t, limit)
		bot := e.publishBot(echoFlow)
		if got := []int{start(e, bot, "203.0.113.1"), start(e, bot, "203.0.113.2"), start(e, bot, "203.0.113.3")}; !slices.Equal(got, []int{201, 429, 429}) {
			t.Fatalf("starts with a new X-Forwarded-For each: %v; want 201 429 429 (one client)", got)
		}
	})
	t.Run("TrustedProxy", func(t *testing.T) {
		e := newEnv(t, limit, func(d *web.Deps, _ *env) {
			d.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
		})
		bot := e.publishBot(echoFlow)
		got := []int{
			start(e, bot, "203.0.113.1"),
			start(e, bot, "203.0.113.2"),
			start(e, bot, "203.0.113.1"),
			// A client's own X-Forwarded-For comes first; the proxy adds
			// the address it saw last, and that is the one counted.
			start(e, bot, "198.51.100.7, 203.0.113.2"),
		}
		if !slices.Equal(got, []int{201, 201, 429, 429}) {
			t.Fatalf("starts: %v; want 201 201 429 429", got)
		}
	})
}

func TestConversation_TokenOpensOnlyItsOwnConversation(t *testing.T) {
	e := newEnv(t)
	bot := e.publishBot(echoFlow)
	a, b := e.start(bot, nil), e.start(bot, nil)
	if r := e.do("POST", "/v1/conversations/"+b.ID+"/messages", a.Token, map[string]string{"text": "x"}); r.Code != 403 {
		t.Fatalf("other conversation: %d", r.Code)
	}
	if r := e.do("GET", "/v1/conversations/"+a.ID+"/log", a.Token, nil); r.Code != 403 {
		t.Fatalf("log with conversation token: %d", r.Code)
	}
	if r := e.do("GET", "/v1/bots", a.Token, nil); r.Code != 403 {
		t.Fatalf("designer route with conversation token: %d", r.Code)
	}
	// Designers cannot post into a widget's conversation.
	if r := e.do("POST", "/v1/conversations/"+a.ID+"/messages", adminToken, map[string]string{"text": "x"}); r.Code != 403 {
		t.Fatalf("admin posting: %d", r.Code)
	}
	var _ = json.Marshal
}

// A widget that goes away while its turn waits on an API (a closed tab, a
// dropped mobile connection) must not undo the turn: the API may already
// have acted on the call, so the turn runs to its end and is stored, and
// the widget finds the answer in the transcript when it comes back.
func TestConversation_TurnOutlivesItsClient(t *testing.T) {
	e := newEnv(t)
	bot, arrived, release := newHeldBot(e)
	c := e.start(bot, nil)

	ctx, cancel := context.WithCancel(context.Background())
	wait := sendAsync(ctx, e, c, `{"text":"7"}`)
	<-arrived
	cancel() // the client is gone while the API works
	time.Sleep(50 * time.Millisecond)
	close(release)
	_, rec := wait()

	r := e.do("GET", "/v1/conversations/"+c.ID, c.Token, nil)
	var v struct {
		Status     string
		Transcript []struct{ From, Text string }
	}
	r.json(t, &v)
	last := v.Transcript[len(v.Transcript)-1]
	if v.Status != "ended" || last.Text != "Order 7 is shipped." {
		t.Fatalf("after the client left: status %q, transcript %+v (reply was %d %s)", v.Status, v.Transcript, rec.Code, rec.Body)
	}
}

// A turn has a time limit for its steps together (flow.DefaultTurnTimeout,
// 1 s here): an API slower than that is cut, the next step does not run,
// and the conversation ends with status error; the turn is stored and its
// log says why.
func TestConversation_TurnTimeLimit(t *testing.T) {
	e := newEnv(t, func(d *web.Deps, _ *env) { d.Runtime.TurnTimeout = time.Second })
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(up.Close)
	e.trust(up)
	bot := e.publishBot(`{"start":"ask","steps":[
 {"id":"ask","type":"ask","text":"Order?","variable":"n","input":"text","next":"call"},
 {"id":"call","type":"api_call","method":"GET","url":"` + up.URL + `/orders/{{n}}","timeout_ms":10000,"on_success":"ok","on_failure":"sorry"},
 {"id":"ok","type":"end","text":"Found."},
 {"id":"sorry","type":"transfer","text":"Let me get a colleague."}]}`)
	c := e.start(bot, nil)
	t0 := time.Now()
	code, tr := e.send(c.ID, c.Token, map[string]string{"text": "7"})
	if d := time.Since(t0); d < 900*time.Millisecond || d > 3*time.Second {
		t.Errorf("the turn took %v; want about 1 s", d)
	}
	if code != 200 || tr.Status != "error" || tr.text() != "" {
		t.Fatalf("turn: %d %+v; want status error and no message from the failure branch", code, tr)
	}
	r := e.do("GET", "/v1/conversations/"+c.ID+"/log", adminToken, nil)
	body := string(r.Body)
	for _, want := range []string{"before the turn ran out of time (a turn may take at most 1s)", `"outcome":"time_limit"`, `"step_id":"sorry"`} {
		if !strings.Contains(body, want) {
			t.Errorf("log lacks %s: %s", want, body)
		}
	}
	// A turn well inside the limit is not touched.
	fast := e.publishBot(echoFlow)
	c = e.start(fast, nil)
	if code, tr := e.send(c.ID, c.Token, map[string]string{"text": "hi"}); code != 200 || tr.Status != "active" {
		t.Fatalf("fast turn: %d %+v", code, tr)
	}
}

// Designers page through a bot's conversations, newest first; other bots'
// conversations are not in the list, and a conversation that just took a
// turn comes first.
func TestConversation_BotConversationList(t *testing.T) {
	e := newEnv(t)
	bot := e.publishBot(echoFlow)
	other := e.publishBot(echoFlow)
	var started []turn
	for i := range 5 {
		started = append(started, e.start(bot, map[string]any{"user": map[string]any{"name": fmt.Sprintf("user %d", i)}}))
		e.start(other, nil)
	}
	if code, _ := e.send(started[1].ID, started[1].Token, map[string]string{"text": "again"}); code != 200 {
		t.Fatal(code)
	}
	type page struct {
		Items []struct {
			ID     string
			Status string
			Turns  int
			User   struct{ Name string }
		}
		NextCursor string `json:"next_cursor"`
	}
	designer := e.designerToken()
	var got []string
	cursor := ""
	for range 5 {
		path := "/v1/bots/" + bot + "/conversations?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		r := e.do("GET", path, designer, nil)
		var p page
		r.json(t, &p)
		if r.Code != 200 || len(p.Items) > 2 {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
		for _, it := range p.Items {
			got = append(got, it.User.Name)
		}
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	want := []string{"user 1", "user 4", "user 3", "user 2", "user 0"}
	if !slices.Equal(got, want) {
		t.Fatalf("pages gave %v; want %v (the conversation with the latest turn first)", got, want)
	}
	for _, bad := range []string{"?limit=0", "?limit=101", "?limit=x", "?cursor=zz"} {
		if r := e.do("GET", "/v1/bots/"+bot+"/conversations"+bad, designer, nil); r.Code != 400 {
			t.Errorf("%s: %d %s", bad, r.Code, r.Body)
		}
	}
	if r := e.do("GET", "/v1/bots/"+bot+"/conversations?limit=100", designer, nil); r.Code != 200 {
		t.Errorf("limit=100: %d", r.Code)
	}
	if r := e.do("GET", "/v1/bots/nope/conversations", designer, nil); r.Code != 404 {
		t.Errorf("unknown bot: %d", r.Code)
	}
	if r := e.do("GET", "/v1/bots/"+bot+"/conversations", started[0].Token, nil); r.Code != 403 {
		t.Errorf("conversation token: %d", r.Code)
	}
}

// The list filters by status; an unknown status is refused, named.
func TestConversation_BotConversationListByStatus(t *testing.T) {
	e := newEnv(t)
	bot := e.publishBot(`{"start":"q","steps":[{"id":"q","type":"ask","text":"Say","variable":"said","input":"text","next":"e"},{"id":"e","type":"end","text":"Bye"}]}`)
	ended := map[string]bool{}
	for i := range 6 {
		c := e.start(bot, nil)
		if i%2 == 0 {
			if code, tr := e.send(c.ID, c.Token, map[string]string{"text": "done"}); code != 200 || tr.Status != "ended" {
				t.Fatal(code, tr)
			}
			ended[c.ID] = true
		}
	}
	designer := e.designerToken()
	list := func(q string) (ids []string, statuses []string) {
		t.Helper()
		r := e.do("GET", "/v1/bots/"+bot+"/conversations"+q, designer, nil)
		var p struct{ Items []struct{ ID, Status string } }
		if r.json(t, &p); r.Code != 200 {
			t.Fatalf("%s: %d %s", q, r.Code, r.Body)
		}
		for _, it := range p.Items {
			ids, statuses = append(ids, it.ID), append(statuses, it.Status)
		}
		return ids, statuses
	}
	for q, want := range map[string]int{"": 6, "?status=ended": 3, "?status=active": 3, "?status=error": 0, "?status=transferred": 0} {
		ids, statuses := list(q)
		if len(ids) != want {
			t.Errorf("%q: %d conversations, want %d", q, len(ids), want)
		}
		for i, id := range ids {
			if q == "?status=ended" && (!ended[id] || statuses[i] != "ended") || q == "?status=active" && (ended[id] || statuses[i] != "active") {
				t.Errorf("%q listed %s (%s)", q, id, statuses[i])
			}
		}
	}
	for _, bad := range []string{"?status=done", "?status=ENDED", "?status="} {
		r := e.do("GET", "/v1/bots/"+bot+"/conversations"+bad, designer, nil)
		if bad == "?status=" {
			if r.Code != 200 {
				t.Errorf("empty status (all): %d", r.Code)
			}
			continue
		}
		if r.Code != 400 || !strings.Contains(string(r.Body), `"pointer":"/status"`) {
			t.Errorf("%s: %d %s", bad, r.Code, r.Body)
		}
	}
}

// TestConversation_BotStats: the stats of the order bot's conversations,
// step by step, match what the conversations did.
func TestConversation_BotStats(t *testing.T) {
	e, s, bot := newOrderBot(t)
	for _, answer := range []string{"1001", "4040", ""} {
		c := e.start(bot, nil)
		if answer != "" {
			if code, _ := e.send(c.ID, c.Token, map[string]string{"text": answer}); code != 200 {
				t.Fatal(code)
			}
		}
	}
	designer := e.designerToken()
	type stepStats = flow.StepStats
	var got struct {
		Conversations int            `json:"conversations"`
		Since         string         `json:"since"`
		More          bool           `json:"more"`
		ByStatus      map[string]int `json:"by_status"`
		Steps         []stepStats    `json:"steps"`
	}
	r := e.do("GET", "/v1/bots/"+bot+"/stats", designer, nil)
	if r.json(t, &got); r.Code != 200 {
		t.Fatalf("%d %s", r.Code, r.Body)
	}
	if got.Conversations != 3 || got.More || got.Since == "" ||
		!maps.Equal(got.ByStatus, map[string]int{"ended": 1, "transferred": 1, "active": 1}) {
		t.Fatalf("totals: %s", r.Body)
	}
	steps := map[string]stepStats{}
	for _, st := range got.Steps {
		steps[st.StepID] = st
	}
	want := map[string]stepStats{
		"ask":      {StepType: "ask", Runs: 3, Conversations: 3, Outcomes: map[string]int{"answered": 2, "waiting": 1}, Waiting: 1},
		"lookup":   {StepType: "api_call", Runs: 2, Conversations: 2, Outcomes: map[string]int{"success": 1, "failure": 1}, Errors: map[string]int{"http_404": 1}},
		"customer": {StepType: "api_call", Runs: 1, Conversations: 1, Outcomes: map[string]int{"success": 1}},
		"tell":     {StepType: "message", Runs: 1, Conversations: 1, Outcomes: map[string]int{"ok": 1}},
		"done":     {StepType: "end", Runs: 1, Conversations: 1, Outcomes: map[string]int{"ended": 1}},
		"sorry":    {StepType: "transfer", Runs: 1, Conversations: 1, Outcomes: map[string]int{"transferred": 1}},
	}
	if len(steps) != len(want) || got.Steps[0].StepID != "ask" {
		t.Fatalf("steps: %s", r.Body)
	}
	for id, w := range want {
		g := steps[id]
		if g.StepType != w.StepType || g.Runs != w.Runs || g.Conversations != w.Conversations || g.Waiting != w.Waiting ||
			!maps.Equal(g.Outcomes, w.Outcomes) || !maps.Equal(g.Errors, w.Errors) {
			t.Errorf("%s: %+v, want %+v", id, g, w)
		}
	}

	// Version 2: the default counts only its conversations; ?version=1
	// the first three again.
	var saved struct{ Revision int64 }
	e.do("GET", "/v1/bots/"+bot, adminToken, nil).json(t, &saved)
	v2 := strings.Replace(orderFlow(s.srv.URL), "Your order number?", "Order number, please?", 1)
	if r := e.do("PUT", "/v1/bots/"+bot+"/flow", adminToken, v2, "If-Match", fmt.Sprint(saved.Revision)); r.Code != 200 {
		t.Fatalf("save v2: %d %s", r.Code, r.Body)
	}
	if r := e.do("POST", "/v1/bots/"+bot+"/publish", adminToken, nil); r.Code != 201 {
		t.Fatalf("publish v2: %d %s", r.Code, r.Body)
	}
	e.start(bot, nil)
	var v struct {
		Version       int            `json:"version"`
		Conversations int            `json:"conversations"`
		More          bool           `json:"more"`
		ByStatus      map[string]int `json:"by_status"`
	}
	r = e.do("GET", "/v1/bots/"+bot+"/stats", designer, nil)
	if r.json(t, &v); r.Code != 200 || v.Version != 2 || v.Conversations != 1 || v.ByStatus["active"] != 1 {
		t.Fatalf("latest version: %d %s", r.Code, r.Body)
	}
	r = e.do("GET", "/v1/bots/"+bot+"/stats?version=1", designer, nil)
	if r.json(t, &v); r.Code != 200 || v.Version != 1 || v.Conversations != 3 {
		t.Fatalf("version 1: %d %s", r.Code, r.Body)
	}
	for _, bad := range []string{"0", "3", "x"} {
		r := e.do("GET", "/v1/bots/"+bot+"/stats?version="+bad, designer, nil)
		if r.Code != 400 || !strings.Contains(string(r.Body), `"pointer":"/version"`) {
			t.Errorf("version=%s: %d %s", bad, r.Code, r.Body)
		}
	}

	// Fewer conversations: the newest, and more are left.
	r = e.do("GET", "/v1/bots/"+bot+"/stats?version=1&conversations=1", designer, nil)
	if r.json(t, &got); r.Code != 200 || got.Conversations != 1 || !got.More || got.ByStatus["active"] != 1 {
		t.Fatalf("conversations=1: %d %s", r.Code, r.Body)
	}
	if r := e.do("GET", "/v1/bots/"+bot+"/stats?conversations=1000", designer, nil); r.Code != 200 {
		t.Errorf("conversations=1000: %d", r.Code)
	}
	for _, bad := range []string{"0", "1001", "x"} {
		r := e.do("GET", "/v1/bots/"+bot+"/stats?conversations="+bad, designer, nil)
		if r.Code != 400 || !strings.Contains(string(r.Body), `"pointer":"/conversations"`) {
			t.Errorf("conversations=%s: %d %s", bad, r.Code, r.Body)
		}
	}
	// A bot without conversations, an unknown bot, a conversation token.
	empty := e.publishBot(echoFlow)
	r = e.do("GET", "/v1/bots/"+empty+"/stats", designer, nil)
	got.Since, got.Steps = "", nil
	if r.json(t, &got); r.Code != 200 || got.Conversations != 0 || len(got.Steps) != 0 || got.Since != "" {
		t.Errorf("no conversations: %d %s", r.Code, r.Body)
	}
	if r := e.do("GET", "/v1/bots/nope/stats", designer, nil); r.Code != 404 {
		t.Errorf("unknown bot: %d", r.Code)
	}
	c := e.start(bot, nil)
	if r := e.do("GET", "/v1/bots/"+bot+"/stats", c.Token, nil); r.Code != 403 {
		t.Errorf("conversation token: %d", r.Code)
	}
}

// An admin erases a conversation: it is gone for everyone, its token opens
// nothing, the bot's list no longer has it, and the erasure is audited.
// Designers and the token holder may not erase.
func TestConversation_Erase(t *testing.T) {
	e := newEnv(t)
	bot := e.publishBot(echoFlow)
	c := e.start(bot, map[string]any{"user": map[string]any{"name": "Forget me"}})
	other := e.start(bot, nil)
	if code, _ := e.send(c.ID, c.Token, map[string]string{"text": "my address is 1 Main St"}); code != 200 {
		t.Fatal(code)
	}
	for _, tok := range []string{e.designerToken(), c.Token} {
		if r := e.do("DELETE", "/v1/conversations/"+c.ID, tok, nil); r.Code != 403 {
			t.Fatalf("non-admin erase: %d %s", r.Code, r.Body)
		}
	}
	if r := e.do("DELETE", "/v1/conversations/"+c.ID, adminToken, nil); r.Code != 204 {
		t.Fatalf("erase: %d %s", r.Code, r.Body)
	}
	for _, path := range []string{"/v1/conversations/" + c.ID, "/v1/conversations/" + c.ID + "/log"} {
		if r := e.do("GET", path, adminToken, nil); r.Code != 404 {
			t.Errorf("GET %s after erase: %d", path, r.Code)
		}
	}
	if r := e.do("GET", "/v1/conversations/"+c.ID, c.Token, nil); r.Code != 401 {
		t.Errorf("its token after erase: %d", r.Code)
	}
	r := e.do("GET", "/v1/bots/"+bot+"/conversations", adminToken, nil)
	if strings.Contains(string(r.Body), c.ID) || !strings.Contains(string(r.Body), other.ID) {
		t.Errorf("list after erase: %s", r.Body)
	}
	if r := e.do("DELETE", "/v1/conversations/"+c.ID, adminToken, nil); r.Code != 404 {
		t.Errorf("second erase: %d", r.Code)
	}
	a := e.do("GET", "/v1/audit", adminToken, nil)
	if !strings.Contains(string(a.Body), `"action":"conversation.deleted"`) || !strings.Contains(string(a.Body), c.ID) {
		t.Errorf("audit: %s", a.Body)
	}
	if strings.Contains(string(a.Body), "Main St") {
		t.Error("the audit log kept the conversation's content")
	}
}

// sendKeyed sends a message with an Idempotency-Key and returns the
// response, checked against openapi.yaml.
func (e *env) sendKeyed(convID, token, key string, body any) resp {
	e.t.Helper()
	return e.do("POST", "/v1/conversations/"+convID+"/messages", token, body, "Idempotency-Key", key)
}

// TestConversation_IdempotencyKey: a message sent again with the key of
// the conversation's latest turn gets that turn's answer, and its API
// calls are not made again; the key must be used for one message only.
func TestConversation_IdempotencyKey(t *testing.T) {
	e, s, bot := newOrderBot(t)

	t.Run("OKReplayRunsNothingTwice", func(t *testing.T) {
		e := e.with(t)
		c := e.start(bot, nil)
		before := s.hits.Load()
		first := e.sendKeyed(c.ID, c.Token, "0f8fad5b-d9cb-469f-a165-70867728950e", map[string]string{"text": "1001"})
		if first.Code != 200 || first.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("first: %d %v %s", first.Code, first.Header, first.Body)
		}
		if got := s.hits.Load() - before; got != 2 {
			t.Fatalf("the turn made %d API calls, want 2", got)
		}
		again := e.sendKeyed(c.ID, c.Token, "0f8fad5b-d9cb-469f-a165-70867728950e", map[string]string{"text": "1001"})
		if again.Code != 200 || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("again: %d %v %s", again.Code, again.Header, again.Body)
		}
		if string(again.Body) != string(first.Body) {
			t.Fatalf("the replay differs:\n first %s\n again %s", first.Body, again.Body)
		}
		var tr turn
		again.json(t, &tr)
		if tr.Status != "ended" || !strings.Contains(tr.text(), "Order 1001 is shipped, Ann (c77).") {
			t.Fatalf("replayed turn %+v", tr)
		}
		if got := s.hits.Load() - before; got != 2 {
			t.Fatalf("the replay made API calls: %d in all, want 2", got)
		}
		r := e.do("GET", "/v1/conversations/"+c.ID, adminToken, nil)
		var v struct{ Transcript []struct{ From, Text string } }
		r.json(t, &v)
		users := 0
		for _, en := range v.Transcript {
			if en.From == "user" {
				users++
			}
		}
		if users != 1 {
			t.Fatalf("%d user lines in the transcript, want 1: %s", users, r.Body)
		}
		// The conversation has ended: a new message is refused, and a
		// message with another key is a new message.
		if r := e.sendKeyed(c.ID, c.Token, "another-key", map[string]string{"text": "1001"}); r.Code != 409 {
			t.Fatalf("new key after the end: %d %s", r.Code, r.Body)
		}
	})

	t.Run("ErrKeyReusedForAnotherMessage", func(t *testing.T) {
		e := e.with(t)
		c := e.start(bot, nil)
		if r := e.sendKeyed(c.ID, c.Token, "k1", map[string]string{"text": "1002"}); r.Code != 200 {
			t.Fatalf("first: %d %s", r.Code, r.Body)
		}
		before := s.hits.Load()
		for _, body := range []map[string]string{{"text": "1001"}, {"option_id": "1002"}, {"text": "1002 "}} {
			r := e.sendKeyed(c.ID, c.Token, "k1", body)
			if r.Code != 422 || r.errCode(t) != "rule_violation" || !strings.Contains(string(r.Body), `"pointer":"/Idempotency-Key"`) ||
				!strings.Contains(string(r.Body), "Idempotency-Key") {
				t.Fatalf("%v with a reused key: %d %s", body, r.Code, r.Body)
			}
		}
		if s.hits.Load() != before {
			t.Fatal("a refused message made an API call")
		}
	})

	t.Run("OKConcurrentRetriesRunOnce", func(t *testing.T) {
		e := e.with(t)
		c := e.start(bot, nil)
		before := s.hits.Load()
		const n = 8
		got := make([]resp, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i] = e.sendKeyed(c.ID, c.Token, "same-key", map[string]string{"text": "1001"})
			}()
		}
		wg.Wait()
		ran := 0
		for i, r := range got {
			if r.Code != 200 || string(r.Body) != string(got[0].Body) {
				t.Fatalf("request %d: %d %s (first: %s)", i, r.Code, r.Body, got[0].Body)
			}
			if r.Header.Get("Idempotent-Replayed") == "" {
				ran++
			}
		}
		if ran != 1 || s.hits.Load()-before != 2 {
			t.Fatalf("%d requests ran the turn, %d API calls; want 1 and 2", ran, s.hits.Load()-before)
		}
	})

	t.Run("EarlierKeysAreRefusedUpToEight", func(t *testing.T) {
		e := e.with(t)
		bot := e.publishBot(echoFlow)
		c := e.start(bot, nil)
		say := func(key, text string) string {
			r := e.sendKeyed(c.ID, c.Token, key, map[string]string{"text": text})
			var tr turn
			if r.Code == 200 {
				r.json(t, &tr)
			}
			return fmt.Sprint(r.Code, " ", r.Header.Get("Idempotent-Replayed"), " ", tr.text())
		}
		users := func() int {
			r := e.do("GET", "/v1/conversations/"+c.ID, c.Token, nil)
			return strings.Count(string(r.Body), `"from":"user"`)
		}
		for _, c := range []struct{ key, text, want string }{
			{"a", "one", "200  You said one | Say something"},
			{"b", "two", "200  You said two | Say something"},
			{"b", "two", "200 true You said two | Say something"},
			// "a" was answered and "b" followed: refused, not run again.
			{"a", "one", "409  "},
		} {
			if got := say(c.key, c.text); got != c.want {
				t.Fatalf("%s %s: %q, want %q", c.key, c.text, got, c.want)
			}
		}
		// Without a key every message runs, the same text too; the keys
		// are kept across such turns.
		for range 2 {
			if code, tr := e.send(c.ID, c.Token, map[string]string{"text": "one"}); code != 200 || tr.text() != "You said one | Say something" {
				t.Fatal(code, tr)
			}
		}
		if got := say("b", "two"); got != "409  " {
			t.Fatalf("b after turns without a key: %q", got)
		}
		// The latest eight keyed turns are remembered: "a" is the eighth
		// after k1..k6, and forgotten after k7.
		for i := 1; i <= 6; i++ {
			if got := say(fmt.Sprint("k", i), "x"); got != "200  You said x | Say something" {
				t.Fatal(got)
			}
		}
		if got := say("a", "one"); got != "409  " {
			t.Fatalf("a as the eighth key: %q", got)
		}
		if got := say("k7", "x"); got != "200  You said x | Say something" {
			t.Fatal(got)
		}
		n := users()
		if got := say("a", "one"); got != "200  You said one | Say something" {
			t.Fatalf("a as the ninth key: %q", got)
		}
		if users() != n+1 || n != 11 {
			t.Fatalf("%d user lines before the last message, want 11", n)
		}
		// The keys now: a, k7 … k1. A turn without a key forgets none of
		// them; the next keyed one pushes k1 out.
		if code, _ := e.send(c.ID, c.Token, map[string]string{"text": "plain"}); code != 200 {
			t.Fatal(code)
		}
		if got := say("k1", "x"); got != "409  " {
			t.Fatalf("k1 as the eighth key, after a turn without one: %q", got)
		}
		if got := say("k8", "x"); got != "200  You said x | Say something" {
			t.Fatal(got)
		}
		if got := say("k1", "x"); got != "200  You said x | Say something" {
			t.Fatalf("k1 as the ninth key: %q", got)
		}
	})

	t.Run("KeyLimits", func(t *testing.T) {
		e := e.with(t)
		bot := e.publishBot(echoFlow)
		c := e.start(bot, nil)
		ok := strings.Repeat("k", 255)
		if r := e.sendKeyed(c.ID, c.Token, ok, map[string]string{"text": "x"}); r.Code != 200 {
			t.Fatalf("255-character key: %d %s", r.Code, r.Body)
		}
		if r := e.sendKeyed(c.ID, c.Token, "!~"+strings.Repeat("a", 20), map[string]string{"text": "x"}); r.Code != 200 {
			t.Fatalf("key of the edge characters: %d %s", r.Code, r.Body)
		}
		for name, key := range map[string]string{
			"256 characters": strings.Repeat("k", 256),
			"a space":        "two words",
			"non-ASCII":      "clé",
			"a tab":          "a\tb",
		} {
			r := e.sendKeyed(c.ID, c.Token, key, map[string]string{"text": "x"})
			if r.Code != 400 || r.errCode(t) != "invalid" || !strings.Contains(string(r.Body), `"pointer":"/Idempotency-Key"`) {
				t.Errorf("%s: %d %s", name, r.Code, r.Body)
			}
		}
		// Empty, or sent twice: the header is named too.
		for name, set := range map[string]func(http.Header){
			"empty": func(h http.Header) { h["Idempotency-Key"] = []string{""} },
			"twice": func(h http.Header) { h["Idempotency-Key"] = []string{"a", "b"} },
		} {
			req := httptest.NewRequest("POST", "/v1/conversations/"+c.ID+"/messages", strings.NewReader(`{"text":"x"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+c.Token)
			set(req.Header)
			rec := httptest.NewRecorder()
			e.srv.ServeHTTP(rec, req)
			if rec.Code != 400 || !strings.Contains(rec.Body.String(), "Idempotency-Key header") {
				t.Errorf("%s: %d %s", name, rec.Code, rec.Body)
			}
		}
		// Nothing refused was run: the two good keys made two turns.
		r := e.do("GET", "/v1/conversations/"+c.ID, c.Token, nil)
		if n := strings.Count(string(r.Body), `"from":"user"`); n != 2 {
			t.Fatalf("%d user lines, want 2", n)
		}
	})
}
