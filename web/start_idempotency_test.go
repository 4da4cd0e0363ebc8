package web_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestConversation_StartIdempotencyKey: a start sent again with its
// Idempotency-Key gets the first start's conversation, token and answer,
// and its API calls are not made again.
func TestConversation_StartIdempotencyKey(t *testing.T) {
	e := newEnv(t)
	s := newShop(t)
	e.trust(s.srv)
	bot := e.publishBot(`{"start":"lookup","steps":[
 {"id":"lookup","type":"api_call","method":"GET","url":"` + s.srv.URL + `/api/orders/{{order_number}}",
  "variables":[{"name":"order_status","path":"$.order.status"}],"on_success":"tell","on_failure":"tell"},
 {"id":"tell","type":"message","text":"Order {{order_number}} is {{order_status}}.","next":"ask"},
 {"id":"ask","type":"ask","text":"Anything else?","variable":"more","next":"bye"},
 {"id":"bye","type":"end","text":"Bye!"}]}`)
	other := e.publishBot(`{"start":"ask","steps":[{"id":"ask","type":"ask","text":"Yes?","variable":"x","next":"bye"},{"id":"bye","type":"end","text":"Bye!"}]}`)
	body := map[string]any{"variables": map[string]string{"order_number": "1001"}}
	start := func(e *env, bot, key string, body any) resp {
		e.t.Helper()
		return e.do("POST", "/v1/bots/"+bot+"/conversations", "", body, "Idempotency-Key", key)
	}
	decode := func(e *env, r resp) turn {
		e.t.Helper()
		var tr turn
		r.json(e.t, &tr)
		return tr
	}
	const key = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"

	first := start(e, bot, key, body)
	if first.Code != http.StatusCreated || first.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first start: %d %v %s", first.Code, first.Header, first.Body)
	}
	c := decode(e, first)
	if c.text() != "Order 1001 is shipped. | Anything else?" || s.hits.Load() != 1 {
		t.Fatalf("first answer %q, %d calls", c.text(), s.hits.Load())
	}

	t.Run("RetryGetsTheSameConversation", func(t *testing.T) {
		e := e.with(t)
		again := start(e, bot, key, body)
		if again.Code != http.StatusCreated || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("retry: %d %v %s", again.Code, again.Header, again.Body)
		}
		r := decode(e, again)
		if r.ID != c.ID || r.Token != c.Token || r.text() != c.text() || r.Status != "active" || r.Awaiting.Type != "text" {
			t.Fatalf("retry answered %+v; want the first start's %+v", r, c)
		}
		if s.hits.Load() != 1 {
			t.Fatalf("the API was called %d times; the retry must not call it", s.hits.Load())
		}
		list := e.do("GET", "/v1/bots/"+bot+"/conversations", adminToken, nil)
		if n := strings.Count(string(list.Body), `"turns"`); n != 1 {
			t.Fatalf("%d conversations after the retry; want 1: %s", n, list.Body)
		}
	})

	t.Run("ConcurrentDuplicatesShareOne", func(t *testing.T) {
		e := e.with(t)
		const k = "0b0e6d3e-2f43-4b4e-9d0c-6d6a4c0e5a11"
		var wg sync.WaitGroup
		got := make([]resp, 4)
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i] = e.do("POST", "/v1/bots/"+other+"/conversations", "", nil, "Idempotency-Key", k)
			}()
		}
		wg.Wait()
		replayed := 0
		var want turn
		for i, r := range got {
			if r.Code != http.StatusCreated {
				t.Fatalf("start %d: %d %s", i, r.Code, r.Body)
			}
			tr := decode(e, r)
			if i == 0 {
				want = tr
			}
			if tr.ID != want.ID || tr.Token != want.Token {
				t.Fatalf("start %d got conversation %s; start 0 got %s", i, tr.ID, want.ID)
			}
			if r.Header.Get("Idempotent-Replayed") == "true" {
				replayed++
			}
		}
		if replayed != len(got)-1 {
			t.Fatalf("%d of %d answers replayed; want all but one", replayed, len(got))
		}
	})

	t.Run("TheTokenWorks", func(t *testing.T) {
		e := e.with(t)
		const k = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
		a, b := decode(e, start(e, other, k, nil)), decode(e, start(e, other, k, nil))
		if code, r := e.send(b.ID, b.Token, map[string]string{"text": "hi"}); code != http.StatusOK || r.text() != "Bye!" || a.Token != b.Token {
			t.Fatalf("message with the replayed token: %d %+v", code, r)
		}
		// Messages followed: the key no longer hands out the token.
		r := start(e, other, k, nil)
		if r.Code != http.StatusConflict || strings.Contains(string(r.Body), b.Token) {
			t.Fatalf("start after messages: %d %s", r.Code, r.Body)
		}
	})

	t.Run("AMessageWithTheStartsKeyRuns", func(t *testing.T) {
		e := e.with(t)
		const k = "7d444840-9dc0-11d1-b245-5ffdce74fad2"
		c := decode(e, start(e, other, k, nil))
		for i, want := range []string{"", "true"} { // the message runs, then its retry replays it
			r := e.sendKeyed(c.ID, c.Token, k, map[string]string{"text": "hi"})
			if r.Code != http.StatusOK || r.Header.Get("Idempotent-Replayed") != want || !strings.Contains(string(r.Body), "Bye!") {
				t.Fatalf("message %d with the start's key: %d %v %s", i+1, r.Code, r.Header, r.Body)
			}
		}
		if r := start(e, other, k, nil); r.Code != http.StatusConflict {
			t.Fatalf("the start again after the message: %d %s", r.Code, r.Body)
		}
	})

	t.Run("KeyWithOtherValuesRefused", func(t *testing.T) {
		e := e.with(t)
		r := start(e, bot, key, map[string]any{"variables": map[string]string{"order_number": "2002"}})
		if r.Code != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), `"key_reused"`) || !strings.Contains(string(r.Body), "/Idempotency-Key") {
			t.Fatalf("same key, other variables: %d %s", r.Code, r.Body)
		}
	})

	t.Run("KeyIsPerBot", func(t *testing.T) {
		e := e.with(t)
		r := start(e, other, key, nil)
		if r.Code != http.StatusCreated || r.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("the key on another bot: %d %v %s", r.Code, r.Header, r.Body)
		}
		if tr := decode(e, r); tr.ID == c.ID || tr.Token == c.Token {
			t.Fatal("another bot's start with the same key got the same conversation")
		}
	})

	t.Run("KeyLength", func(t *testing.T) {
		e := e.with(t)
		r := start(e, other, strings.Repeat("k", 21), nil)
		if r.Code != http.StatusBadRequest || !strings.Contains(string(r.Body), "Idempotency-Key") || !strings.Contains(string(r.Body), "at least 22") {
			t.Fatalf("21-character key: %d %s", r.Code, r.Body)
		}
		if r := start(e, other, strings.Repeat("k", 22), nil); r.Code != http.StatusCreated {
			t.Fatalf("22-character key: %d %s", r.Code, r.Body)
		}
		if r := start(e, other, strings.Repeat("k", 255), nil); r.Code != http.StatusCreated {
			t.Fatalf("255-character key: %d %s", r.Code, r.Body)
		}
		if r := start(e, other, strings.Repeat("k", 256), nil); r.Code != http.StatusBadRequest {
			t.Fatalf("256-character key: %d %s", r.Code, r.Body)
		}
	})
}
