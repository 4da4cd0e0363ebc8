package main

// "flowbot-load prepare" sets a running flowbot up for an external load
// tool (wrk with bench/load/flowbot-turn.lua): it creates and publishes the
// benchmark bot, checks both branches once, starts -conversations
// conversations that wait at the ask step, and writes one line per
// conversation to -out:
//
//	# flowbot-load prepare: bot <bot id>, <n> conversations, lines "<conversation id> <token>"
//	# path /v1/conversations/{id}/messages
//	# body {"text":"42"}
//	# want Good news! Order 42 is shipped and should arrive on 2026-12-01.
//	<conversation id> <token>
//	...
//
// A turn is POST <path with the id> with "Authorization: Bearer <token>",
// "Content-Type: application/json" and the body; it is good if the answer
// is 200 and contains the want text. The conversations loop back to their
// ask step after every turn, so each can take any number of turns.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type prepareConfig struct {
	base, token, upstream, order, out string
	conversations, conns, preload     int
	pid                               int
	timeout                           time.Duration
	allowRemote                       bool
}

func parsePrepareFlags(args []string, stderr io.Writer) (*prepareConfig, error) {
	cfg := &prepareConfig{}
	fs := flag.NewFlagSet("flowbot-load prepare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: flowbot-load prepare -out FILE [flags]

Against a running flowbot: create and publish the benchmark bot, check both
branches once, start -conversations conversations (each waits at its ask
step) and write them to FILE, one "<conversation id> <token>" line each,
after "#" header lines with the request path, the body and the success text
(see bench/load/flowbot-turn.lua, which drives them with wrk).

`)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.base, "url", "http://127.0.0.1:8080", "flowbot base URL")
	fs.StringVar(&cfg.token, "token", os.Getenv("FLOWBOT_ADMIN_TOKEN"), "admin (or designer) API token (default $FLOWBOT_ADMIN_TOKEN)")
	fs.StringVar(&cfg.upstream, "upstream", "https://127.0.0.1:18443", "base URL of the order API the bot's api_call reaches (the peer upstream's TLS port)")
	fs.StringVar(&cfg.order, "order", "42", "text each turn sends (the order number)")
	fs.IntVar(&cfg.conversations, "conversations", 1024, "conversations to start and write to -out (use more than the load's connection count)")
	fs.StringVar(&cfg.out, "out", "", "file to write (required); written to a temporary file and renamed")
	fs.IntVar(&cfg.conns, "conns", 32, "concurrency used to start the conversations")
	fs.IntVar(&cfg.preload, "preload", 0, "first start this many extra conversations, not written to -out, and leave them waiting (stored conversations)")
	fs.IntVar(&cfg.pid, "pid", 0, "flowbot's process id: report its RSS around -preload")
	fs.DurationVar(&cfg.timeout, "timeout", 30*time.Second, "per-request timeout")
	fs.BoolVar(&cfg.allowRemote, "allow-remote", false, "allow a non-loopback -url (never needed for the bench)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if cfg.out == "" {
		return nil, errors.New("-out is required")
	}
	if cfg.token == "" {
		return nil, errors.New("-token (or FLOWBOT_ADMIN_TOKEN) is required")
	}
	if cfg.conversations < 1 || cfg.conns < 1 || cfg.preload < 0 {
		return nil, errors.New("-conversations and -conns must be positive, -preload not negative")
	}
	if strings.ContainsAny(cfg.order, "\r\n") {
		return nil, errors.New("-order must be one line")
	}
	cfg.base = strings.TrimRight(cfg.base, "/")
	cfg.upstream = strings.TrimRight(cfg.upstream, "/")
	if err := checkLoopback(cfg.base, cfg.allowRemote); err != nil {
		return nil, err
	}
	return cfg, nil
}

// prepareMain runs "flowbot-load prepare"; progress goes to out.
func prepareMain(ctx context.Context, args []string, out, stderr io.Writer) error {
	cfg, err := parsePrepareFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	cl := newClient(cfg.base, cfg.token, cfg.conns+8, cfg.timeout)
	botID, err := setupBot(ctx, cl, cfg.upstream)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "bot %s published; upstream %s\n", botID, cfg.upstream)
	check, err := checkTurns(ctx, cl, botID, cfg.order)
	for _, l := range check {
		fmt.Fprintln(out, "check:", l)
	}
	if err != nil {
		return err
	}
	if cfg.preload > 0 {
		p, err := preload(ctx, cl, botID, cfg.preload, cfg.conns, cfg.pid)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, p.String())
	}
	began := time.Now()
	convs, err := startConversations(ctx, cl, botID, cfg.conversations, cfg.conns)
	if err != nil {
		return err
	}
	if err := writeConversations(cfg.out, botID, cfg.order, convs); err != nil {
		return err
	}
	fmt.Fprintf(out, "prepare: %d conversations waiting for input in %.1f s, written to %s\n",
		len(convs), time.Since(began).Seconds(), cfg.out)
	return nil
}

// startConversations starts n conversations with conns requests in flight.
// Any failure fails the whole step: the file must hold n usable lines.
func startConversations(ctx context.Context, cl *client, botID string, n, conns int) ([]*turnReply, error) {
	convs := make([]*turnReply, n)
	var next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for w := 0; w < min(conns, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil || firstErr.Load() != nil {
					return
				}
				conv, err := startConversation(ctx, cl, botID)
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				convs[i] = conv
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err, _ := firstErr.Load().(error); err != nil {
		return nil, err
	}
	return convs, nil
}

// writeConversations writes the file flowbot-turn.lua reads (see the top
// of this file), atomically.
func writeConversations(path, botID, order string, convs []*turnReply) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# flowbot-load prepare: bot %s, %d conversations, lines \"<conversation id> <token>\"\n", botID, len(convs))
	b.WriteString("# path /v1/conversations/{id}/messages\n")
	fmt.Fprintf(&b, "# body {\"text\":%s}\n", jsonString(order))
	fmt.Fprintf(&b, "# want %s\n", wantReply(order))
	for _, c := range convs {
		if strings.ContainsAny(c.ID, " \t\r\n") || strings.ContainsAny(c.Token, " \t\r\n") {
			return fmt.Errorf("conversation id %q or its token contains white space", c.ID)
		}
		fmt.Fprintf(&b, "%s %s\n", c.ID, c.Token)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".flowbot-convs-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.WriteString(b.String()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
