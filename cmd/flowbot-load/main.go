// Command flowbot-load measures flowbot's unit of work, a chat turn that
// calls an API, the way a chat widget drives it.
//
// It creates and publishes a bot (as admin):
//
//	ask "What is your order number?" (variable order)
//	  -> api_call GET <upstream>/orders/{{order}}, saving $.status and $.eta
//	       success -> message "Good news! Order {{order}} is {{status}} and should arrive on {{eta}}." -> ask
//	       failure -> message "Sorry, I could not look up order {{order}} right now." -> ask
//
// checks one turn of each branch, and then, for every concurrency level,
// starts that many conversations and lets one worker per conversation send
// turns (text "42") in a closed loop for -duration. Every turn is one
// POST /v1/conversations/{id}/messages with the conversation token; flowbot
// answers only after the turn is stored. It reports turns/s, latency
// percentiles (exact, from every sample), errors, and the server's CPU and
// peak RSS when -pid is given, as a table and as JSON (-json).
//
// Other modes, all against a running server:
//
//	-preload N       first start N conversations that stay waiting for input
//	                 (stored conversations; RSS with N waiting)
//	-flow-sizes L    time create / save / validate / publish of flows of
//	                 the given step counts (no turn load unless -concurrency is set too)
//
// "flowbot-load prepare -out FILE" only sets up a run for an external load
// tool: it publishes the bot, checks both branches, starts N conversations
// that wait for input and writes "<conversation id> <token>" lines to FILE
// (bench/run.sh then drives them with wrk and bench/load/flowbot-turn.lua;
// see prepare.go).
//
// To profile flowbot under this load, run cmd/flowbot with --pprof-addr.
//
// Only loopback targets are expected; the tool refuses others unless
// -allow-remote is given.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type config struct {
	BaseURL       string        `json:"base_url"`
	Upstream      string        `json:"upstream"`
	Concurrency   []int         `json:"concurrency"`
	Duration      time.Duration `json:"-"`
	Warmup        time.Duration `json:"-"`
	WarmupConns   int           `json:"warmup_conns"`
	Pause         time.Duration `json:"-"`
	Order         string        `json:"order"`
	TurnsPerConv  int           `json:"turns_per_conversation"`
	Timeout       time.Duration `json:"-"`
	Preload       int           `json:"preload"`
	PreloadConns  int           `json:"preload_conns"`
	FlowSizes     []int         `json:"flow_sizes,omitempty"`
	FlowRepeats   int           `json:"flow_repeats,omitempty"`
	Label         string        `json:"label,omitempty"`
	PID           int           `json:"pid,omitempty"`
	DurationS     float64       `json:"duration_s"`
	WarmupS       float64       `json:"warmup_s"`
	PauseS        float64       `json:"pause_s"`
	token         string
	jsonOut       string
	mdRows        string
	mdTarget      string
	allowRemote   bool
	skipTurnSweep bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if len(os.Args) > 1 && os.Args[1] == "prepare" {
		err = prepareMain(ctx, os.Args[2:], os.Stdout, os.Stderr)
	} else {
		err = run(ctx, os.Args[1:], os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "flowbot-load:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (*config, error) {
	cfg := &config{}
	fs := flag.NewFlagSet("flowbot-load", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: flowbot-load [flags]\n"+
			"       flowbot-load prepare -out FILE [flags]   (publish the bot, start conversations, write \"<id> <token>\" lines for wrk; see -h there)\n"+
			"\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.BaseURL, "url", "http://127.0.0.1:8080", "flowbot base URL")
	fs.StringVar(&cfg.token, "token", os.Getenv("FLOWBOT_ADMIN_TOKEN"), "admin (or designer) API token (default $FLOWBOT_ADMIN_TOKEN)")
	fs.StringVar(&cfg.Upstream, "upstream", "https://127.0.0.1:18443", "base URL of the order API the bot's api_call reaches (the peer upstream's TLS port)")
	conc := fs.String("concurrency", "1,16,64,256", "comma-separated concurrency levels (one conversation and one keep-alive connection per worker); empty: no turn sweep")
	fs.DurationVar(&cfg.Duration, "duration", 20*time.Second, "measured time per concurrency level")
	fs.DurationVar(&cfg.Warmup, "warmup", 5*time.Second, "discarded warm-up before the sweep (0: none)")
	fs.IntVar(&cfg.WarmupConns, "warmup-conns", 16, "concurrency of the warm-up")
	fs.DurationVar(&cfg.Pause, "pause", 2*time.Second, "idle time before each level (as the peer run.sh sleeps 2 s)")
	fs.StringVar(&cfg.Order, "order", "42", "text each turn sends (the order number)")
	fs.IntVar(&cfg.TurnsPerConv, "turns-per-conversation", 500, "start a fresh conversation after this many turns (0: one conversation per worker per level, which flowbot ends after 1,000 replies); starts are not counted as turns")
	fs.DurationVar(&cfg.Timeout, "timeout", 30*time.Second, "per-request timeout (as wrk --timeout 30s)")
	fs.IntVar(&cfg.Preload, "preload", 0, "before the sweep, start this many extra conversations and leave them waiting for input")
	fs.IntVar(&cfg.PreloadConns, "preload-conns", 32, "concurrency used to preload conversations")
	sizes := fs.String("flow-sizes", "", "comma-separated step counts: time create/save/validate/publish of such flows (e.g. 100,1000,10000)")
	fs.IntVar(&cfg.FlowRepeats, "flow-repeats", 5, "repetitions per flow size (the median is reported)")
	fs.IntVar(&cfg.PID, "pid", 0, "flowbot's process id on this machine: adds its CPU time, RSS and peak RSS (VmHWM) from /proc")
	fs.StringVar(&cfg.jsonOut, "json", "", "write the results as JSON to this file")
	fs.StringVar(&cfg.mdRows, "md-rows", "", "append one markdown table row per level to this file, in the peers' run.sh columns")
	fs.StringVar(&cfg.mdTarget, "md-target", "flowbot", "target name in the -md-rows rows")
	fs.StringVar(&cfg.Label, "label", "", "free-form label stored in the JSON (e.g. the run's name)")
	fs.BoolVar(&cfg.allowRemote, "allow-remote", false, "allow a non-loopback -url (never needed for the bench)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if cfg.Concurrency, err = parseInts(*conc); err != nil {
		return nil, fmt.Errorf("-concurrency: %w", err)
	}
	if cfg.FlowSizes, err = parseInts(*sizes); err != nil {
		return nil, fmt.Errorf("-flow-sizes: %w", err)
	}
	cfg.skipTurnSweep = len(cfg.Concurrency) == 0
	if cfg.token == "" {
		return nil, errors.New("-token (or FLOWBOT_ADMIN_TOKEN) is required")
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	cfg.Upstream = strings.TrimRight(cfg.Upstream, "/")
	if err := checkLoopback(cfg.BaseURL, cfg.allowRemote); err != nil {
		return nil, err
	}
	if cfg.Duration <= 0 || cfg.WarmupConns < 1 || cfg.PreloadConns < 1 || cfg.FlowRepeats < 1 {
		return nil, errors.New("-duration, -warmup-conns, -preload-conns and -flow-repeats must be positive")
	}
	cfg.DurationS, cfg.WarmupS, cfg.PauseS = cfg.Duration.Seconds(), cfg.Warmup.Seconds(), cfg.Pause.Seconds()
	return cfg, nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func checkLoopback(base string, allowRemote bool) error {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return fmt.Errorf("-url %q is not an absolute URL", base)
	}
	if allowRemote {
		return nil
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("-url %q is not a loopback address; pass -allow-remote if you really mean it", base)
}

// Report is the JSON document the tool writes.
type Report struct {
	Tool      string       `json:"tool"`
	Started   time.Time    `json:"started"`
	Finished  time.Time    `json:"finished"`
	Machine   machine      `json:"machine"`
	Config    *config      `json:"config"`
	BotID     string       `json:"bot_id,omitempty"`
	Check     []string     `json:"check,omitempty"`
	Preload   *preloadInfo `json:"preload,omitempty"`
	Levels    []*level     `json:"levels,omitempty"`
	FlowSizes []*flowSize  `json:"flow_sizes,omitempty"`
	// Conversations is how many conversations this run started (preload,
	// sweep and checks), i.e. the stored-conversation count it added.
	Conversations int64 `json:"conversations_started"`
}

func run(ctx context.Context, args []string, out io.Writer) error {
	cfg, err := parseFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	maxConns := cfg.PreloadConns
	for _, c := range cfg.Concurrency {
		maxConns = max(maxConns, c)
	}
	cl := newClient(cfg.BaseURL, cfg.token, maxConns+8, cfg.Timeout)
	rep := &Report{Tool: "flowbot-load", Started: time.Now().UTC(), Config: cfg}
	rep.Machine = readMachine(cfg.PID)

	write := func() error {
		rep.Finished = time.Now().UTC()
		rep.Conversations = cl.started.Load()
		rep.Machine.LoadAvgEnd = loadAvg()
		if cfg.jsonOut == "" {
			return nil
		}
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(cfg.jsonOut, append(b, '\n'), 0o644)
	}

	if len(cfg.FlowSizes) > 0 {
		fmt.Fprintf(out, "flow sizes %v, %d repetitions each (median reported)\n", cfg.FlowSizes, cfg.FlowRepeats)
		for _, n := range cfg.FlowSizes {
			fsz, err := measureFlowSize(ctx, cl, cfg, n)
			if err != nil {
				return fmt.Errorf("flow size %d: %w", n, err)
			}
			rep.FlowSizes = append(rep.FlowSizes, fsz)
			fmt.Fprintln(out, fsz.String())
		}
	}
	if cfg.skipTurnSweep && cfg.Preload == 0 {
		return write()
	}

	botID, err := setupBot(ctx, cl, cfg.Upstream)
	if err != nil {
		return err
	}
	rep.BotID = botID
	fmt.Fprintf(out, "bot %s published; upstream %s\n", botID, cfg.Upstream)
	if rep.Check, err = checkTurns(ctx, cl, botID, cfg.Order); err != nil {
		return err
	}
	for _, l := range rep.Check {
		fmt.Fprintln(out, "check:", l)
	}

	if cfg.Preload > 0 {
		p, err := preload(ctx, cl, botID, cfg.Preload, cfg.PreloadConns, cfg.PID)
		if err != nil {
			return err
		}
		rep.Preload = p
		fmt.Fprintln(out, p.String())
	}
	if !cfg.skipTurnSweep {
		if cfg.Warmup > 0 {
			fmt.Fprintf(out, "warm-up %s at c=%d\n", cfg.Warmup, cfg.WarmupConns)
			if _, err := runLevel(ctx, cl, cfg, botID, cfg.WarmupConns, cfg.Warmup); err != nil {
				return fmt.Errorf("warm-up: %w", err)
			}
		}
		fmt.Fprintln(out, levelHeader())
		for _, c := range cfg.Concurrency {
			if err := sleepCtx(ctx, cfg.Pause); err != nil {
				return err
			}
			l, err := runLevel(ctx, cl, cfg, botID, c, cfg.Duration)
			if err != nil {
				return fmt.Errorf("c=%d: %w", c, err)
			}
			rep.Levels = append(rep.Levels, l)
			fmt.Fprintln(out, l.row())
			if err := appendMDRow(cfg, l); err != nil {
				return err
			}
			if err := write(); err != nil { // partial results survive an interrupted run
				return err
			}
		}
	}
	return write()
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// client is a keep-alive HTTP client for one flowbot.
type client struct {
	base    string
	token   string
	hc      *http.Client
	started atomicCounter
}

func newClient(base, token string, conns int, timeout time.Duration) *client {
	tr := &http.Transport{
		Proxy:               nil, // loopback only: never through a proxy
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &client{base: base, token: token, hc: &http.Client{Transport: tr, Timeout: timeout}}
}

// do sends a request and returns status and body. auth is the bearer token
// ("" for none).
func (c *client) do(ctx context.Context, method, path, auth string, body []byte, hdr map[string]string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(string(body))
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// admin sends an admin request and decodes a 2xx answer into out.
func (c *client) admin(ctx context.Context, method, path string, in any, out any, hdr map[string]string) (int, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return 0, err
		}
	}
	st, b, err := c.do(ctx, method, path, c.token, body, hdr)
	if err != nil {
		return st, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if st/100 != 2 {
		return st, fmt.Errorf("%s %s: HTTP %d: %s", method, path, st, truncate(b, 600))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return st, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return st, nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// appendMDRow writes a level as a row of the peers' results table:
// | target | conns | req/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx | sock errs | peak RSS MiB |
// (non-2xx includes 200 answers with a wrong reply text).
func appendMDRow(cfg *config, l *level) error {
	if cfg.mdRows == "" {
		return nil
	}
	f, err := os.OpenFile(cfg.mdRows, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	rss := "-"
	if cfg.PID > 0 {
		rss = strconv.Itoa(int(l.ServerPeakMiB))
	}
	_, err = fmt.Fprintf(f, "| %s | %d | %.1f | %.3f | %.3f | %.3f | %.3f | %d | %d | %s |\n",
		cfg.mdTarget, l.Concurrency, l.TurnsPerSec, l.P50MS, l.P90MS, l.P99MS, l.MaxMS, l.Non2xx+l.BadReply, l.Errors, rss)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
