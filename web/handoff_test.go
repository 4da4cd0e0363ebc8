package web_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowbot/flowbot/connections"
	"github.com/flowbot/flowbot/web"
)

const handoffSecret = "handoff-secret-0123456789abcdef!" // 32 characters

// desk is a help desk's webhook: a real TLS server that checks each
// notice's signature and answers with the statuses it is given, then 204.
type desk struct {
	srv      *httptest.Server
	statuses chan int
	got      chan web.HandoffNotice
	bad      atomic.Int32
}

func newDesk(t *testing.T, statuses ...int) *desk {
	d := &desk{statuses: make(chan int, len(statuses)), got: make(chan web.HandoffNotice, 8)}
	for _, s := range statuses {
		d.statuses <- s
	}
	d.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sig := r.Header.Get("Flowbot-Signature")
		ts, _, _ := strings.Cut(strings.TrimPrefix(sig, "t="), ",")
		at, _ := time.Parse(time.RFC3339, "1970-01-01T00:00:00Z")
		if n, err := json.Number(ts).Int64(); err == nil {
			at = time.Unix(n, 0)
		}
		// The signature as the README tells a help desk to check it,
		// computed here with crypto/hmac, not with flowbot's own code.
		mac := hmac.New(sha256.New, []byte(handoffSecret))
		mac.Write([]byte(ts + "."))
		mac.Write(body)
		if r.Method != http.MethodPost || r.URL.Path != "/hook" || r.Header.Get("Content-Type") != "application/json" ||
			sig != "t="+ts+",v1="+hex.EncodeToString(mac.Sum(nil)) || time.Since(at) > time.Minute {
			d.bad.Add(1)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		select {
		case s := <-d.statuses:
			w.WriteHeader(s)
			return
		default:
		}
		var n web.HandoffNotice
		if err := json.Unmarshal(body, &n); err != nil {
			d.bad.Add(1)
		}
		d.got <- n
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(d.srv.Close)
	return d
}

func (d *desk) next(t *testing.T) web.HandoffNotice {
	t.Helper()
	select {
	case n := <-d.got:
		return n
	case <-time.After(10 * time.Second):
		t.Fatal("no hand-off notice arrived")
		return web.HandoffNotice{}
	}
}

// TestHandoff_NoticeToTheHelpDesk: a conversation handed to a human (the
// order bot's failure branch) posts one signed notice to the help desk's
// webhook, with the bot, the conversation, the reason, the user and the
// transcript, after the turn is stored; a 5xx is tried again; an answer
// replayed for a resent message sends no second notice.
func TestHandoff_NoticeToTheHelpDesk(t *testing.T) {
	dk := newDesk(t, http.StatusServiceUnavailable)
	var h *web.Handoff
	e := newEnv(t, func(d *web.Deps, e *env) {
		h = &web.Handoff{URL: dk.srv.URL + "/hook", Secret: []byte(handoffSecret), Client: e.client,
			Transcript: e.db.Transcript, Backoff: []time.Duration{10 * time.Millisecond}}
		d.Runtime.OnTransfer = h.Notify
	})
	e.trust(dk.srv)
	s := newShop(t)
	e.trust(s.srv)
	bot := e.publishBot(orderFlow(s.srv.URL))

	c := e.start(bot, map[string]any{"user": map[string]any{"name": "Ann"}})
	if r := e.sendKeyed(c.ID, c.Token, "k1", map[string]string{"text": "4040"}); r.Code != 200 || !strings.Contains(string(r.Body), `"transferred"`) {
		t.Fatalf("turn: %d %s", r.Code, r.Body)
	}
	n := dk.next(t) // after one 503
	if n.Event != "conversation.transferred" || n.ID == "" || n.BotID != bot || n.ConversationID != c.ID || n.Version != 1 ||
		n.Reason != "lookup failed" || n.User.Name != "Ann" || n.At.IsZero() {
		t.Fatalf("notice %+v", n)
	}
	var lines []string
	for _, e := range n.Transcript {
		lines = append(lines, e.From+": "+e.Text)
	}
	if got := strings.Join(lines, " | "); got != "bot: Your order number? | user: 4040 | bot: Sorry (404), let me get a human." {
		t.Errorf("transcript %q", got)
	}

	// The same message sent again gets the stored answer, and no notice.
	if r := e.sendKeyed(c.ID, c.Token, "k1", map[string]string{"text": "4040"}); r.Code != 200 || r.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %s", r.Code, r.Body)
	}
	// A conversation that ends without a hand-off sends none either.
	c2 := e.start(bot, nil)
	if code, tr := e.send(c2.ID, c2.Token, map[string]string{"text": "1001"}); code != 200 || tr.Status != "ended" {
		t.Fatalf("turn: %d %+v", code, tr)
	}
	h.Wait()
	select {
	case n := <-dk.got:
		t.Fatalf("a second notice: %+v", n)
	default:
	}
	if dk.bad.Load() != 0 {
		t.Fatalf("%d notices had a bad signature or shape", dk.bad.Load())
	}
}

// TestHandoff_GivesUp: a help desk that refuses a notice (4xx) is not
// asked again; one that keeps failing is asked as often as Backoff says.
func TestHandoff_GivesUp(t *testing.T) {
	for _, tc := range []struct {
		name     string
		statuses []int
		backoff  int
		calls    int
	}{
		{"Err400NotRetried", []int{400, 400, 400}, 3, 1},
		{"Err500RetriedThenGivenUp", []int{500, 500, 500, 500}, 2, 3},
		// A 302 is not followed (Go would re-send it as a GET without the
		// notice) and not tried again.
		{"Err302NotFollowed", []int{302, 200, 200}, 3, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				status := tc.statuses[calls.Add(1)-1]
				if status == http.StatusFound {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(status)
			}))
			t.Cleanup(srv.Close)
			var h *web.Handoff
			e := newEnv(t, func(d *web.Deps, e *env) {
				h = &web.Handoff{URL: srv.URL, Secret: []byte(handoffSecret), Client: e.client, Transcript: e.db.Transcript,
					Backoff: make([]time.Duration, tc.backoff)}
				d.Runtime.OnTransfer = h.Notify
			})
			e.trust(srv)
			bot := e.publishBot(`{"start":"t","steps":[{"id":"t","type":"transfer","text":"A person will help.","reason":"asked"}]}`)
			if c := e.start(bot, nil); c.Status != "transferred" {
				t.Fatalf("start: %+v", c)
			}
			h.Wait()
			if got := int(calls.Load()); got != tc.calls {
				t.Fatalf("the desk was called %d times; want %d", got, tc.calls)
			}
		})
	}
}

// TestHandoff_InternalAddressRefused: the notice goes through the same
// guard as API calls, so a hand-off URL on a loopback or private address
// is never called (outside tests and development).
func TestHandoff_InternalAddressRefused(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	t.Cleanup(srv.Close)
	// The client trusts the server's certificate: only the guard stops it.
	client := connections.NewGuardedClient(false)
	tr := client.Transport.(*connections.Transport)
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{}
	}
	tr.TLSClientConfig.RootCAs = x509.NewCertPool()
	tr.TLSClientConfig.RootCAs.AddCert(srv.Certificate())
	var h *web.Handoff
	e := newEnv(t, func(d *web.Deps, e *env) {
		h = &web.Handoff{URL: srv.URL, Secret: []byte(handoffSecret), Client: client,
			Transcript: e.db.Transcript, Backoff: []time.Duration{0}}
		d.Runtime.OnTransfer = h.Notify
	})
	bot := e.publishBot(`{"start":"t","steps":[{"id":"t","type":"transfer","text":"A person will help.","reason":"asked"}]}`)
	e.start(bot, nil)
	h.Wait()
	if calls.Load() != 0 {
		t.Fatalf("the internal address was called %d times", calls.Load())
	}
}

// TestHandoff_LogsWithoutTheURL: a help desk's URL may carry its token;
// a failed notice is logged without it.
func TestHandoff_LogsWithoutTheURL(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Close() // nothing listens there now: every attempt fails
	var logs bytes.Buffer
	var h *web.Handoff
	e := newEnv(t, func(d *web.Deps, e *env) {
		h = &web.Handoff{URL: srv.URL + "/hook?token=DESK-TOKEN-123", Secret: []byte(handoffSecret), Client: e.client,
			Transcript: e.db.Transcript, Backoff: []time.Duration{0}, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
		d.Runtime.OnTransfer = h.Notify
	})
	bot := e.publishBot(`{"start":"t","steps":[{"id":"t","type":"transfer","text":"A person will help.","reason":"asked"}]}`)
	e.start(bot, nil)
	h.Wait()
	if !strings.Contains(string(logs.Bytes()), "not delivered") || strings.Contains(string(logs.Bytes()), "DESK-TOKEN") {
		t.Fatalf("logs: %s", string(logs.Bytes()))
	}
}

// TestHandoff_CloseStopsTheWaits: at shutdown a notice waiting to be tried
// again is given up (logged) at once instead of holding the server.
func TestHandoff_CloseStopsTheWaits(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	var logs syncBuffer
	var h *web.Handoff
	e := newEnv(t, func(d *web.Deps, e *env) {
		h = &web.Handoff{URL: srv.URL, Secret: []byte(handoffSecret), Client: e.client, Transcript: e.db.Transcript,
			Backoff: []time.Duration{time.Hour}, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
		d.Runtime.OnTransfer = h.Notify
	})
	e.trust(srv)
	bot := e.publishBot(`{"start":"t","steps":[{"id":"t","type":"transfer","text":"A person will help.","reason":"asked"}]}`)
	e.start(bot, nil)
	waitFor(t, "a first attempt", func() bool { return strings.Contains(string(logs.Bytes()), "trying again") })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.Close(ctx); err != nil || calls.Load() != 1 || !strings.Contains(string(logs.Bytes()), "server stopped before the next try") {
		t.Fatalf("close: %v, %d calls, logs %s", err, calls.Load(), string(logs.Bytes()))
	}
}
