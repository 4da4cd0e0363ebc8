package web_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/flowbot/flowbot/web"
)

// turnBench is the benchmark turn of bench/README.md, end to end in one
// process: a real flowbot (bbolt in a temp dir, the real router and
// middleware, a JSON logger at info level as cmd/flowbot has) behind a
// real listener, a keep-alive HTTP client in the widget's place, and a
// real TLS upstream that offers HTTP/2, like the peers' Go upstream.
type turnBench struct {
	e      *env
	base   string // flowbot's URL
	client *http.Client
	botID  string
	hits   atomic.Int64 // upstream calls
}

// benchTurnText is the reply to "42" on the success branch.
const benchTurnText = "Good news! Order 42 is shipped and should arrive on 2026-12-01."

func newTurnBench(b *testing.B, conns int) *turnBench {
	b.Helper()
	tb := &turnBench{}
	logToDiscard := func(d *web.Deps, _ *env) {
		d.Logger = slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	tb.e = newEnv(b, logToDiscard)

	// The peers' upstream (../shared/bench/peers/upstream): GET /orders/{id}.
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		tb.hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(struct {
			ID     string `json:"id"`
			Status string `json:"status"`
			ETA    string `json:"eta"`
		}{r.PathValue("id"), "shipped", "2026-12-01"})
	})
	up := httptest.NewUnstartedServer(mux)
	up.EnableHTTP2 = true
	up.StartTLS()
	b.Cleanup(up.Close)
	tb.e.trust(up)
	b.Cleanup(tb.e.client.CloseIdleConnections)

	// cmd/flowbot-load's bot (orderFlow), published through the API.
	tb.botID = tb.e.publishBot(`{"start":"ask","steps":[
 {"id":"ask","type":"ask","text":"What is your order number?","variable":"order","input":"text","next":"lookup"},
 {"id":"lookup","type":"api_call","method":"GET","url":"` + up.URL + `/orders/{{order}}",
  "variables":[{"name":"status","path":"$.status"},{"name":"eta","path":"$.eta"}],"on_success":"good","on_failure":"sorry"},
 {"id":"good","type":"message","text":"Good news! Order {{order}} is {{status}} and should arrive on {{eta}}.","next":"ask"},
 {"id":"sorry","type":"message","text":"Sorry, I could not look up order {{order}} right now.","next":"ask"}]}`)

	srv := httptest.NewServer(tb.e.srv)
	b.Cleanup(srv.Close)
	tb.base = srv.URL
	tb.client = &http.Client{Transport: &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns}, Timeout: 30 * time.Second}
	b.Cleanup(tb.client.CloseIdleConnections)
	return tb
}

// benchConv is a started conversation and its token.
type benchConv struct {
	id, token string
}

// start starts a conversation over HTTP.
func (tb *turnBench) start(b *testing.B) benchConv {
	resp, err := tb.client.Post(tb.base+"/v1/bots/"+tb.botID+"/conversations", "application/json", strings.NewReader(`{}`))
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var tr turn
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || resp.StatusCode != 201 || tr.Token == "" {
		b.Fatalf("start: %d %v %+v", resp.StatusCode, err, tr)
	}
	return benchConv{tr.ID, tr.Token}
}

// send sends "42" and checks the answer of the success branch. It
// reports errors with Errorf, which RunParallel's goroutines may call.
func (tb *turnBench) send(b *testing.B, c benchConv, buf *bytes.Buffer) bool {
	req, err := http.NewRequest(http.MethodPost, tb.base+"/v1/conversations/"+c.id+"/messages", strings.NewReader(`{"text":"42"}`))
	if err != nil {
		b.Error(err)
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := tb.client.Do(req)
	if err != nil {
		b.Error(err)
		return false
	}
	buf.Reset()
	_, err = buf.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		b.Errorf("send: %d %v %s", resp.StatusCode, err, buf.Bytes())
		return false
	}
	var tr turn
	if err := json.Unmarshal(buf.Bytes(), &tr); err != nil || len(tr.Messages) != 2 || tr.Messages[0].Text != benchTurnText ||
		tr.Status != "active" || tr.Awaiting.Type != "text" {
		b.Errorf("reply %v: %s", err, buf.Bytes())
		return false
	}
	return true
}

// cpuTime is the process's user plus system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkTurn measures one durable chat turn through the whole stack
// (POST /v1/conversations/{id}/messages → engine → api_call over TLS →
// bbolt commit → reply). The fsync of each commit dominates ns/op; watch
// allocs/op, cpu-µs/op (the process's CPU time per turn, which includes
// the client and the upstream in this process) and -cpuprofile instead.
//
//	go test ./web/ -run x -bench Turn -benchtime 3s -count 5 -cpuprofile cpu.out
func BenchmarkTurn(b *testing.B) {
	b.Run("Serial", func(b *testing.B) {
		tb := newTurnBench(b, 1)
		c := tb.start(b)
		var buf bytes.Buffer
		tb.send(b, c, &buf) // open the keep-alive connections
		b.ReportAllocs()
		cpu0 := cpuTime(b)
		b.ResetTimer()
		for b.Loop() {
			if !tb.send(b, c, &buf) {
				b.FailNow()
			}
		}
		b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	})
	// Parallel runs 16 and 64 conversations at once, each on its own
	// keep-alive connection, as flowbot-load's c=16 and c=64 levels do.
	for _, conns := range []int{16, 64} {
		b.Run("Parallel"+strconv.Itoa(conns), func(b *testing.B) {
			tb := newTurnBench(b, conns)
			perProc := max(1, conns/runtime.GOMAXPROCS(0))
			n := perProc * runtime.GOMAXPROCS(0)
			convs := make(chan benchConv, n)
			var buf bytes.Buffer
			for range n {
				c := tb.start(b)
				tb.send(b, c, &buf) // warm each conversation's connection
				convs <- c
			}
			b.SetParallelism(perProc)
			b.ReportAllocs()
			cpu0 := cpuTime(b)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				c := <-convs
				var buf bytes.Buffer
				for pb.Next() {
					if !tb.send(b, c, &buf) {
						return
					}
				}
			})
			b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}
