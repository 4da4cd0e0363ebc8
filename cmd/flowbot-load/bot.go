package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type atomicCounter struct{ atomic.Int64 }

func (a *atomicCounter) Load() int64 { return a.Int64.Load() }

// step is one flow step as the API takes it (only the fields used here).
type step struct {
	ID         string      `json:"id"`
	Type       string      `json:"type"`
	Text       string      `json:"text,omitempty"`
	Next       string      `json:"next,omitempty"`
	Variable   string      `json:"variable,omitempty"`
	Input      string      `json:"input,omitempty"`
	Value      *string     `json:"value,omitempty"`
	Method     string      `json:"method,omitempty"`
	URL        string      `json:"url,omitempty"`
	Variables  []saveVar   `json:"variables,omitempty"`
	OnSuccess  string      `json:"on_success,omitempty"`
	OnFailure  string      `json:"on_failure,omitempty"`
	TimeoutMS  int         `json:"timeout_ms,omitempty"`
	Conditions []condition `json:"conditions,omitempty"`
	Else       string      `json:"else,omitempty"`
	Reason     string      `json:"reason,omitempty"`
}

type saveVar struct {
	Name string `json:"name"`
	Path string `json:"path"`
}

type condition struct {
	Variable string `json:"variable"`
	Op       string `json:"op"`
	Value    string `json:"value,omitempty"`
	Next     string `json:"next"`
}

type flowDoc struct {
	Start string `json:"start"`
	Steps []step `json:"steps"`
}

type problem struct {
	Pointer  string `json:"pointer"`
	Code     string `json:"code"`
	Message  string `json:"message"`
	Severity string `json:"severity"`
}

type botAnswer struct {
	ID       string    `json:"id"`
	Revision int       `json:"revision"`
	Problems []problem `json:"problems"`
}

type turnReply struct {
	ID       string `json:"id"`
	Token    string `json:"token"`
	Status   string `json:"status"`
	Messages []struct {
		StepID string `json:"step_id"`
		Text   string `json:"text"`
	} `json:"messages"`
	Awaiting struct {
		Type string `json:"type"`
	} `json:"awaiting"`
}

func (t *turnReply) text() string {
	var parts []string
	for _, m := range t.Messages {
		parts = append(parts, m.Text)
	}
	return strings.Join(parts, " | ")
}

// orderFlow is the benchmark bot: the same turn as the peers' Node-RED and
// n8n flows, looping back to the question so a conversation takes many turns.
func orderFlow(upstream string) flowDoc {
	return flowDoc{Start: "ask", Steps: []step{
		{ID: "ask", Type: "ask", Text: "What is your order number?", Variable: "order", Input: "text", Next: "lookup"},
		{ID: "lookup", Type: "api_call", Method: "GET", URL: upstream + "/orders/{{order}}",
			Variables: []saveVar{{Name: "status", Path: "$.status"}, {Name: "eta", Path: "$.eta"}},
			OnSuccess: "good", OnFailure: "sorry"},
		{ID: "good", Type: "message", Text: "Good news! Order {{order}} is {{status}} and should arrive on {{eta}}.", Next: "ask"},
		{ID: "sorry", Type: "message", Text: "Sorry, I could not look up order {{order}} right now.", Next: "ask"},
	}}
}

func errorProblems(ps []problem) []problem {
	var out []problem
	for _, p := range ps {
		if p.Severity == "error" {
			out = append(out, p)
		}
	}
	return out
}

// setupBot creates and publishes the benchmark bot and returns its id.
func setupBot(ctx context.Context, cl *client, upstream string) (string, error) {
	var b botAnswer
	name := "flowbot-load order status " + time.Now().UTC().Format(time.RFC3339)
	if _, err := cl.admin(ctx, "POST", "/v1/bots", map[string]any{"name": name, "flow": orderFlow(upstream)}, &b, nil); err != nil {
		return "", fmt.Errorf("create bot: %w", err)
	}
	if errs := errorProblems(b.Problems); len(errs) > 0 {
		return "", fmt.Errorf("the benchmark flow has problems: %+v", errs)
	}
	if _, err := cl.admin(ctx, "POST", "/v1/bots/"+b.ID+"/publish", nil, nil, nil); err != nil {
		return "", fmt.Errorf("publish bot: %w", err)
	}
	return b.ID, nil
}

// startConversation starts one conversation; it returns id and token.
func startConversation(ctx context.Context, cl *client, botID string) (*turnReply, error) {
	st, b, err := cl.do(ctx, "POST", "/v1/bots/"+botID+"/conversations", "", []byte(`{"user":{"name":"load"}}`), nil)
	if err != nil {
		return nil, err
	}
	if st != 201 {
		return nil, fmt.Errorf("start conversation: HTTP %d: %s", st, truncate(b, 300))
	}
	var r turnReply
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("start conversation: %w", err)
	}
	if r.ID == "" || r.Token == "" || r.Awaiting.Type != "text" {
		return nil, fmt.Errorf("start conversation: unexpected answer %s", truncate(b, 300))
	}
	cl.started.Add(1)
	return &r, nil
}

func sendTurn(ctx context.Context, cl *client, conv *turnReply, text string) (*turnReply, error) {
	body, _ := json.Marshal(map[string]string{"text": text})
	st, b, err := cl.do(ctx, "POST", "/v1/conversations/"+conv.ID+"/messages", conv.Token, body, nil)
	if err != nil {
		return nil, err
	}
	if st != 200 {
		return nil, fmt.Errorf("turn: HTTP %d: %s", st, truncate(b, 300))
	}
	var r turnReply
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("turn: %w", err)
	}
	return &r, nil
}

func wantReply(order string) string {
	return "Good news! Order " + order + " is shipped and should arrive on 2026-12-01."
}

// checkTurns verifies both branches once, and that the conversation goes on.
func checkTurns(ctx context.Context, cl *client, botID, order string) ([]string, error) {
	conv, err := startConversation(ctx, cl, botID)
	if err != nil {
		return nil, err
	}
	var lines []string
	lines = append(lines, fmt.Sprintf("start -> %q awaiting %s", conv.text(), conv.Awaiting.Type))
	for i, tc := range []struct{ in, want string }{
		{order, wantReply(order)},
		{"missing", "Sorry, I could not look up order missing right now."},
		{order, wantReply(order)},
	} {
		r, err := sendTurn(ctx, cl, conv, tc.in)
		if err != nil {
			return lines, fmt.Errorf("check turn %d: %w", i+1, err)
		}
		got := r.text()
		lines = append(lines, fmt.Sprintf("%q -> %q (status %s, awaiting %s)", tc.in, got, r.Status, r.Awaiting.Type))
		if len(r.Messages) < 1 || r.Messages[0].Text != tc.want || r.Status != "active" || r.Awaiting.Type != "text" {
			return lines, fmt.Errorf("check turn %d: sent %q, want first message %q and an active conversation awaiting text, got %q (status %s, awaiting %s); "+
				"is flowbot started with --allow-private-networks and SSL_CERT_FILE=<upstream cert>, and the upstream running?",
				i+1, tc.in, tc.want, got, r.Status, r.Awaiting.Type)
		}
	}
	return lines, nil
}

type preloadInfo struct {
	Conversations int     `json:"conversations"`
	Seconds       float64 `json:"seconds"`
	PerSecond     float64 `json:"starts_per_s"`
	Errors        int64   `json:"errors"`
	RSSBeforeMiB  float64 `json:"server_rss_before_mib,omitempty"`
	RSSAfterMiB   float64 `json:"server_rss_after_mib,omitempty"`
	AnonBeforeMiB float64 `json:"server_rss_anon_before_mib,omitempty"`
	AnonAfterMiB  float64 `json:"server_rss_anon_after_mib,omitempty"`
	HeapNote      string  `json:"note,omitempty"`
	PeakRSSMiB    float64 `json:"server_peak_rss_mib,omitempty"`
}

func (p *preloadInfo) String() string {
	s := fmt.Sprintf("preload: %d conversations waiting for input in %.1f s (%.0f starts/s, %d errors)",
		p.Conversations, p.Seconds, p.PerSecond, p.Errors)
	if p.RSSAfterMiB > 0 {
		s += fmt.Sprintf("; server RSS %.1f -> %.1f MiB (anon %.1f -> %.1f), peak %.1f MiB",
			p.RSSBeforeMiB, p.RSSAfterMiB, p.AnonBeforeMiB, p.AnonAfterMiB, p.PeakRSSMiB)
	}
	return s
}

// preload starts n conversations that stay waiting for input.
func preload(ctx context.Context, cl *client, botID string, n, conns, pid int) (*preloadInfo, error) {
	p := &preloadInfo{Conversations: n}
	before := readProc(pid)
	p.RSSBeforeMiB, p.AnonBeforeMiB = before.RSSMiB, before.AnonMiB
	var next, errs atomic.Int64
	var wg sync.WaitGroup
	began := time.Now()
	var firstErr atomic.Value
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) && ctx.Err() == nil {
				if _, err := startConversation(ctx, cl, botID); err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	wg.Wait()
	p.Seconds = time.Since(began).Seconds()
	p.PerSecond = float64(n) / p.Seconds
	p.Errors = errs.Load()
	if err := ctx.Err(); err != nil {
		return p, err
	}
	if p.Errors > int64(n)/100 {
		return p, fmt.Errorf("preload: %d of %d starts failed, first: %v", p.Errors, n, firstErr.Load())
	}
	time.Sleep(time.Second) // let the server settle (GC) before reading RSS
	after := readProc(pid)
	p.RSSAfterMiB, p.AnonAfterMiB, p.PeakRSSMiB = after.RSSMiB, after.AnonMiB, after.PeakRSSMiB
	return p, nil
}
