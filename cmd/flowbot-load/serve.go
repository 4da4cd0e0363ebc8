package main

// "flowbot-load serve" runs flowbot in this process with the same wiring as
// cmd/flowbot (store, key, guarded outbound client, executor, runtime, web
// server) plus a net/http/pprof listener on a separate loopback address, so
// that a load run can be profiled:
//
//	FLOWBOT_ADMIN_TOKEN=... SSL_CERT_FILE=upstream.pem \
//	  flowbot-load serve -addr 127.0.0.1:8090 -data /tmp/fb -pprof 127.0.0.1:6061
//	flowbot-load -url http://127.0.0.1:8090 -concurrency 16 -duration 30s &
//	go tool pprof -top http://127.0.0.1:6061/debug/pprof/profile?seconds=20
//
// cmd/flowbot has no pprof endpoint, and its wiring lives in package main,
// so it is repeated here; keep the two in step when cmd/flowbot changes
// (cmd/flowbot/main.go serve). Rate limits are off and private networks are
// allowed, as the benchmark needs.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	rpprof "runtime/pprof"
	"syscall"
	"time"

	"github.com/flowbot/flowbot"
	"github.com/flowbot/flowbot/botstep"
	"github.com/flowbot/flowbot/connections"
	"github.com/flowbot/flowbot/flow"
	"github.com/flowbot/flowbot/store"
	"github.com/flowbot/flowbot/web"
)

func serveMain(args []string) int {
	fs := flag.NewFlagSet("flowbot-load serve", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8090", "flowbot listen address")
	data := fs.String("data", "", "data folder (required; use a scratch folder)")
	pprofAddr := fs.String("pprof", "127.0.0.1:6061", "net/http/pprof listen address (loopback)")
	cpuProfile := fs.String("cpuprofile", "", "also write a CPU profile of the whole run to this file")
	mutexFrac := fs.Int("mutex-fraction", 0, "runtime.SetMutexProfileFraction (0: off)")
	blockRate := fs.Int("block-rate", 0, "runtime.SetBlockProfileRate in ns (0: off)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *data == "" {
		fmt.Fprintln(os.Stderr, "flowbot-load serve: -data is required")
		return 2
	}
	token := os.Getenv("FLOWBOT_ADMIN_TOKEN")
	if len(token) < 16 {
		fmt.Fprintln(os.Stderr, "flowbot-load serve: set FLOWBOT_ADMIN_TOKEN (at least 16 characters)")
		return 2
	}
	runtime.SetMutexProfileFraction(*mutexFrac)
	runtime.SetBlockProfileRate(*blockRate)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "flowbot-load serve:", err)
			return 1
		}
		if err := rpprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "flowbot-load serve:", err)
			return 1
		}
		defer func() { rpprof.StopCPUProfile(); f.Close() }()
	}
	if err := serveInProcess(ctx, *addr, *data, *pprofAddr, token); err != nil {
		fmt.Fprintln(os.Stderr, "flowbot-load serve:", err)
		return 1
	}
	return 0
}

func serveInProcess(ctx context.Context, addr, dataDir, pprofAddr, token string) error {
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, closeDB, err := newFlowbot(ctx, dataDir, token, connections.NewGuardedClient(true), log)
	if err != nil {
		return err
	}
	defer closeDB()

	pmux := http.NewServeMux()
	pmux.HandleFunc("/debug/pprof/", pprof.Index)
	pmux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	pmux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	pmux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	pln, err := net.Listen("tcp", pprofAddr)
	if err != nil {
		return err
	}
	psrv := &http.Server{Handler: pmux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = psrv.Serve(pln) }()
	defer psrv.Close()

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second,
		WriteTimeout: 90 * time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	fmt.Printf("flowbot (in-process, profiled) listening on http://%s, pprof on http://%s/debug/pprof/, pid %d\n", ln.Addr(), pln.Addr(), os.Getpid())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return hs.Shutdown(sctx)
}

// newFlowbot wires flowbot as cmd/flowbot does (store, key, connections,
// executor, runtime, web server), with rate limits off and outbound as the
// api_call client. The caller closes the store with the returned func.
func newFlowbot(ctx context.Context, dataDir, token string, outbound *http.Client, log *slog.Logger) (http.Handler, func() error, error) {
	db, err := store.Open(filepath.Join(dataDir, "flowbot.db"))
	if err != nil {
		return nil, nil, err
	}
	keyring, _, err := connections.LoadKey(dataDir, os.Getenv("FLOWBOT_SECRET_KEY"))
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	if err := connections.CheckKey(ctx, db, keyring); err != nil {
		db.Close()
		return nil, nil, err
	}
	conns := &connections.Service{Store: db, Keyring: keyring, Client: outbound, Now: time.Now}
	executor := &botstep.Executor{Client: outbound, Connections: conns}
	rt := &flow.Runtime{Bots: db, Store: db, Engine: &flow.Engine{Caller: executor}}
	srv := web.New(web.Deps{
		Bots: db, Keys: db, Audit: db, Connections: conns, Conversations: db, Runtime: rt, Executor: executor,
		IPRateLimit: web.RateLimit{}, ConversationRateLimit: web.RateLimit{},
		AdminToken: token, OpenAPI: flowbot.OpenAPI, Logger: log, Ready: db.Ping,
		StoreStats: func() web.StoreStats { return web.StoreStats(db.Stats()) },
	})
	return srv, db.Close, nil
}
