package web_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConversation_EraseWhileATurnIsStored: an erasure that comes while
// one of the conversation's turns is being stored is refused with 409,
// and the same erasure a moment later, with no turn in the way, succeeds.
// Turns are sent back to back so that one is nearly always being stored;
// an erasure that comes between two of them succeeds, and the test tries
// again on a new conversation, for at most ten seconds.
func TestConversation_EraseWhileATurnIsStored(t *testing.T) {
	e := newEnv(t)
	bot := e.publishBot(echoFlow)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		c := e.start(bot, nil)
		stop := sendBackToBack(e, c)
		r := e.do("DELETE", "/v1/conversations/"+c.ID, adminToken, nil)
		stop()
		switch r.Code {
		case 204:
			continue // between two turns: try again
		case 409:
		default:
			t.Fatalf("%d %s", r.Code, r.Body)
		}
		if r.errCode(t) != "conflict" || !strings.Contains(string(r.Body), "try again") {
			t.Fatalf("%d %s", r.Code, r.Body)
		}
		if r := e.do("DELETE", "/v1/conversations/"+c.ID, adminToken, nil); r.Code != 204 {
			t.Fatalf("erase once the turns stopped: %d %s", r.Code, r.Body)
		}
		return
	}
	t.Fatal("no erasure was refused in ten seconds")
}

// sendBackToBack sends messages to c one after another until the
// returned stop is called (which waits for the last one), and returns
// once the first has been answered.
func sendBackToBack(e *env, c turn) (stop func()) {
	var done atomic.Bool
	first := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() {
			select {
			case <-first:
			default:
				close(first)
			}
		}()
		for n := 0; !done.Load(); n++ {
			// Not e.do: that reports to e.t, which only the test's own
			// goroutine may stop.
			rec := httptest.NewRecorder()
			e.srv.ServeHTTP(rec, newMessage(context.Background(), c, `{"text":"x"}`))
			if rec.Code != 200 {
				return
			}
			if n == 0 {
				close(first)
			}
		}
	}()
	<-first
	return func() { done.Store(true); wg.Wait() }
}

// TestConversation_EraseWhileATurnRuns: a conversation erased while one of
// its turns waits for an API answer is gone for good: the erasure
// succeeds at once, and the turn, when it comes to be stored, ends with
// 404 rather than bringing the conversation back.
func TestConversation_EraseWhileATurnRuns(t *testing.T) {
	e := newEnv(t)
	bot, arrived, release := newHeldBot(e)
	c := e.start(bot, nil)
	body := `{"text":"7"}`
	wait := sendAsync(context.Background(), e, c, body)
	<-arrived
	if r := e.do("DELETE", "/v1/conversations/"+c.ID, adminToken, nil); r.Code != 204 {
		t.Fatalf("erase while the turn runs: %d %s", r.Code, r.Body)
	}
	close(release)
	req, rec := wait()
	r := resp{Code: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	checkSpec(t, "POST", req.URL.Path, []byte(body), req.Header, r)
	if r.Code != 404 || r.errCode(t) != "not_found" {
		t.Fatalf("the turn of an erased conversation: %d %s", r.Code, r.Body)
	}
	if r := e.do("GET", "/v1/conversations/"+c.ID, adminToken, nil); r.Code != 404 {
		t.Fatalf("the erased conversation came back: %d %s", r.Code, r.Body)
	}
}
