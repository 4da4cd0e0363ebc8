package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// level is the result of one concurrency level.
type level struct {
	Concurrency int     `json:"concurrency"`
	Seconds     float64 `json:"seconds"`
	Turns       int64   `json:"turns"`
	TurnsPerSec float64 `json:"turns_per_s"`
	MeanMS      float64 `json:"mean_ms"`
	P50MS       float64 `json:"p50_ms"`
	P90MS       float64 `json:"p90_ms"`
	P99MS       float64 `json:"p99_ms"`
	P999MS      float64 `json:"p999_ms"`
	MaxMS       float64 `json:"max_ms"`
	// Errors are transport errors (refused, reset, timeout); Non2xx are
	// answers other than 200; BadReply are 200s whose reply text was not
	// the success branch's. None of them count as turns.
	Errors    int64    `json:"errors"`
	Non2xx    int64    `json:"non2xx"`
	BadReply  int64    `json:"bad_reply"`
	ErrSample []string `json:"error_samples,omitempty"`
	// Server figures from /proc (with -pid): CPU seconds used during the
	// level, per turn, current and peak RSS (VmHWM since the server started).
	ServerCPUS      float64 `json:"server_cpu_s,omitempty"`
	ServerCPUPerTrn float64 `json:"server_cpu_us_per_turn,omitempty"`
	ServerRSSMiB    float64 `json:"server_rss_mib,omitempty"`
	ServerAnonMiB   float64 `json:"server_rss_anon_mib,omitempty"`
	ServerPeakMiB   float64 `json:"server_peak_rss_mib,omitempty"`
	// The load tool's own CPU seconds (it shares the machine).
	ClientCPUS float64 `json:"client_cpu_s"`
	LoadAvg    string  `json:"loadavg_after"`
	// ConversationsStarted counts the conversations this tool had started
	// (all modes) by the end of this level.
	ConversationsStarted int64 `json:"conversations_started"`
}

func levelHeader() string {
	return fmt.Sprintf("%5s %10s %9s %9s %9s %9s %9s %6s %6s %6s %9s %9s %8s",
		"conns", "turns/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "turns", "errs", "non2xx", "badrep", "srv CPU%", "srvµs/trn", "peakMiB")
}

func (l *level) row() string {
	return fmt.Sprintf("%5d %10.1f %9.3f %9.3f %9.3f %9.3f %9d %6d %6d %6d %9.0f %9.0f %8.1f",
		l.Concurrency, l.TurnsPerSec, l.P50MS, l.P90MS, l.P99MS, l.MaxMS, l.Turns, l.Errors, l.Non2xx, l.BadReply,
		100*l.ServerCPUS/max(l.Seconds, 1e-9), l.ServerCPUPerTrn, l.ServerPeakMiB)
}

type workerResult struct {
	samples  []int64 // turn latencies, ns
	errors   int64
	non2xx   int64
	badReply int64
	errs     []string
}

// runLevel starts c conversations and drives them with c closed-loop
// workers for d. Only turns (not the starts) are measured.
func runLevel(ctx context.Context, cl *client, cfg *config, botID string, c int, d time.Duration) (*level, error) {
	// Start the conversations first, outside the measurement.
	convs, err := startConversations(ctx, cl, botID, c, 32)
	if err != nil {
		return nil, err
	}

	want := []byte(wantReply(cfg.Order))
	body := []byte(`{"text":` + jsonString(cfg.Order) + `}`)
	results := make([]workerResult, c)
	cpu0 := readProc(cfg.PID)
	self0 := selfCPU()
	began := time.Now()
	deadline := began.Add(d)
	var wg sync.WaitGroup
	for i := 0; i < c; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = worker(ctx, cl, cfg, botID, convs[i], body, want, deadline)
		}()
	}
	wg.Wait()
	elapsed := time.Since(began)
	cpu1 := readProc(cfg.PID)
	self1 := selfCPU()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	l := &level{Concurrency: c, Seconds: elapsed.Seconds()}
	var all []int64
	for i := range results {
		r := &results[i]
		all = append(all, r.samples...)
		l.Errors += r.errors
		l.Non2xx += r.non2xx
		l.BadReply += r.badReply
		for _, e := range r.errs {
			if len(l.ErrSample) < 5 {
				l.ErrSample = append(l.ErrSample, e)
			}
		}
	}
	slices.Sort(all)
	l.Turns = int64(len(all))
	l.TurnsPerSec = float64(l.Turns) / l.Seconds
	if len(all) > 0 {
		var sum float64
		for _, v := range all {
			sum += float64(v)
		}
		l.MeanMS = sum / float64(len(all)) / 1e6
		l.P50MS = pct(all, 50)
		l.P90MS = pct(all, 90)
		l.P99MS = pct(all, 99)
		l.P999MS = pct(all, 99.9)
		l.MaxMS = float64(all[len(all)-1]) / 1e6
	}
	if cfg.PID > 0 {
		l.ServerCPUS = cpu1.CPUSeconds - cpu0.CPUSeconds
		if l.Turns > 0 {
			l.ServerCPUPerTrn = l.ServerCPUS / float64(l.Turns) * 1e6
		}
		l.ServerRSSMiB, l.ServerAnonMiB, l.ServerPeakMiB = cpu1.RSSMiB, cpu1.AnonMiB, cpu1.PeakRSSMiB
	}
	l.ClientCPUS = self1 - self0
	l.LoadAvg = loadAvg()
	l.ConversationsStarted = cl.started.Load()
	runtime.GC() // keep the tool's own memory small between levels
	return l, nil
}

// pct is the nearest-rank percentile of sorted ns samples, in ms.
func pct(sorted []int64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.999999999) - 1
	rank = min(max(rank, 0), len(sorted)-1)
	return float64(sorted[rank]) / 1e6
}

func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// worker sends turns on its conversation until the deadline.
func worker(ctx context.Context, cl *client, cfg *config, botID string, conv *turnReply, body, want []byte, deadline time.Time) workerResult {
	r := workerResult{samples: make([]int64, 0, 4096)}
	path := cl.base + "/v1/conversations/" + conv.ID + "/messages"
	auth := "Bearer " + conv.Token
	turns := 0
	var buf bytes.Buffer
	note := func(s string) {
		if len(r.errs) < 3 {
			r.errs = append(r.errs, s)
		}
	}
	for ctx.Err() == nil && time.Now().Before(deadline) {
		if cfg.TurnsPerConv > 0 && turns >= cfg.TurnsPerConv {
			nc, err := startConversation(ctx, cl, botID)
			if err != nil {
				r.errors++
				note("restart: " + err.Error())
				continue
			}
			conv, turns = nc, 0
			path = cl.base + "/v1/conversations/" + conv.ID + "/messages"
			auth = "Bearer " + conv.Token
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, path, bytes.NewReader(body))
		if err != nil {
			r.errors++
			note(err.Error())
			continue
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", auth)
		t0 := time.Now()
		resp, err := cl.hc.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			r.errors++
			note(err.Error())
			continue
		}
		buf.Reset()
		_, err = buf.ReadFrom(resp.Body)
		resp.Body.Close()
		lat := time.Since(t0)
		turns++
		switch {
		case err != nil:
			r.errors++
			note("read: " + err.Error())
		case resp.StatusCode != http.StatusOK:
			r.non2xx++
			note(fmt.Sprintf("HTTP %d: %s", resp.StatusCode, truncate(buf.Bytes(), 200)))
			if resp.StatusCode == http.StatusConflict || resp.StatusCode == http.StatusNotFound {
				// the conversation is gone or ended: go on with a new one
				if nc, err := startConversation(ctx, cl, botID); err == nil {
					conv, turns = nc, 0
					path = cl.base + "/v1/conversations/" + conv.ID + "/messages"
					auth = "Bearer " + conv.Token
				}
			}
		case !bytes.Contains(buf.Bytes(), want):
			r.badReply++
			note("bad reply: " + truncate(buf.Bytes(), 200))
		default:
			r.samples = append(r.samples, int64(lat))
		}
	}
	return r
}
