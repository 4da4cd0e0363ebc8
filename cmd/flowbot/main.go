// Command flowbot runs the flowbot service: the bots API, connections, the
// conversation runtime and the web builder, on one bbolt file.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/flowbot/flowbot"
	"github.com/flowbot/flowbot/botstep"
	"github.com/flowbot/flowbot/connections"
	"github.com/flowbot/flowbot/flow"
	"github.com/flowbot/flowbot/store"
	"github.com/flowbot/flowbot/web"
	"github.com/google/uuid"
)

// defaultGCPercent is the garbage collector's target when GOGC is not
// set. flowbot's live heap is small (tens of MiB) while every turn
// allocates, so at Go's default of 100 the collector and the returning of
// memory to the OS took ~8% of the CPU under load; 400 trades some tens of
// MiB of heap for most of that.
const defaultGCPercent = 400

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run starts the service and blocks until ctx ends, then shuts down within
// the configured deadline. It returns the process exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		if errors.Is(err, errHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "flowbot:", err)
		return 2
	}
	logs := newLogBuffer(stdout, 64<<10, 100*time.Millisecond)
	defer logs.Close()
	log := newLogger(logs, cfg.LogLevel)
	if err := serve(ctx, cfg, log, stdout); err != nil {
		log.Error("flowbot stopped", "err", err.Error())
		fmt.Fprintln(stderr, "flowbot:", err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

func serve(ctx context.Context, cfg Config, log *slog.Logger, stdout io.Writer) error {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("cannot create data folder %s: %w", cfg.DataDir, err)
	}
	dbPath := filepath.Join(cfg.DataDir, "flowbot.db")
	db, err := store.OpenWith(dbPath, store.Options{CommitDelay: cfg.CommitDelay})
	if err != nil {
		return fmt.Errorf("cannot open the database %s: %w", dbPath, err)
	}
	defer db.Close()

	keyring, generated, err := connections.LoadKey(cfg.DataDir, cfg.SecretKey)
	if err != nil {
		return err
	}
	if generated {
		log.Warn("generated a new secret-encryption key; back it up with the data folder", "file", filepath.Join(cfg.DataDir, "secret.key"))
	}
	if err := connections.CheckKey(ctx, db, keyring); err != nil {
		return err
	}
	if cfg.AllowPrivateNetworks {
		log.Warn("PRIVATE NETWORKS ALLOWED: api_call steps may reach loopback, private and metadata addresses. Use this for development and tests only, never in production.")
	}

	outbound := connections.NewGuardedClient(cfg.AllowPrivateNetworks)
	conns := &connections.Service{Store: db, Keyring: keyring, Client: outbound, Now: time.Now}

	bootstrap, err := bootstrapToken(ctx, cfg, db)
	if err != nil {
		return err
	}

	executor := &botstep.Executor{Client: outbound, Connections: conns, OmitLogBodies: !cfg.LogBodies}
	runtime := &flow.Runtime{Bots: db, Store: db, Engine: &flow.Engine{Caller: executor}}
	var handoff *web.Handoff
	if cfg.HandoffURL != "" {
		// Notices wait in the database until delivered, tried for a day.
		handoff = &web.Handoff{URL: cfg.HandoffURL, Secret: []byte(cfg.HandoffSecret), Client: outbound, Transcript: db.Transcript,
			Log: db.Log, Outbox: db, MaxAge: 24 * time.Hour, Logger: log}
		runtime.OnTransfer = handoff.Notify
		handoff.Start()
	} else if err := db.ForgetHandoffsSince(ctx); err != nil {
		// Transfers from now on get no notice; were the time kept, a help
		// desk configured later would get them as notices a crash lost.
		log.Error("hand-off start time not cleared", "err", err.Error())
	}
	sweepCtx, stopSweep := context.WithCancel(ctx)
	defer stopSweep()
	sweepDone := make(chan struct{})
	go func() {
		defer close(sweepDone)
		runtime.Sweep(sweepCtx, cfg.Retention, time.Hour,
			func(err error) { log.Error("conversation retention sweep failed", "err", err.Error()) },
			func(n int) { log.Info("removed old conversations", "count", n, "retention", cfg.Retention.String()) })
	}()
	defer func() { stopSweep(); <-sweepDone }()

	proxies, _ := parseProxies(cfg.TrustedProxies) // checked by parseConfig
	srv := web.New(web.Deps{
		Bots: db, Keys: db, Audit: db, Connections: conns, Conversations: db, Runtime: runtime, Executor: executor,
		IPRateLimit: cfg.IPRateLimit, ConversationRateLimit: cfg.ConversationRateLimit, TrustedProxies: proxies,
		AdminToken: cfg.AdminToken, UserTokenSecret: []byte(cfg.UserTokenSecret), OpenAPI: flowbot.OpenAPI, Logger: log,
		Ready: db.Ping, StoreStats: func() web.StoreStats { return web.StoreStats(db.Stats()) },
		Backup: db.Snapshot, Handoff: handoff,
	})

	if cfg.PprofAddr != "" {
		paddr, stopPprof, err := startPprof(cfg.PprofAddr)
		if err != nil {
			return err
		}
		defer stopPprof()
		fmt.Fprintf(stdout, "flowbot profiles on http://%s/debug/pprof/\n", paddr)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", cfg.Addr, err)
	}
	httpSrv := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      90 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	printBanner(stdout, ln.Addr().String(), cfg, bootstrap)
	log.Info("listening", "addr", ln.Addr().String(), "data", cfg.DataDir)

	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "deadline", cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	shutErr := httpSrv.Shutdown(sctx)
	// Requests still running past the deadline may be turns waiting on an
	// API call the API may already have acted on. The store stays open
	// until each is stored (a turn is bounded by its own time limit), or
	// the widget's retry would make the call again.
	if n := runtime.Running(); n > 0 {
		log.Warn("waiting for turns still running", "turns", n)
		dctx, dcancel := context.WithTimeout(context.Background(), runtime.TurnLimit()+5*time.Second)
		err := runtime.Drain(dctx)
		dcancel()
		if err != nil {
			log.Error("turns still running when the store closes", "turns", runtime.Running(), "err", err.Error())
		}
	}
	if handoff != nil {
		// Hand-off notices being sent may finish; those waiting to be
		// tried again stay in the outbox for the next start (logged).
		if err := handoff.Close(sctx); err != nil {
			log.Warn("hand-off notices still being sent at shutdown", "err", err.Error())
		}
	}
	if shutErr != nil {
		return fmt.Errorf("graceful shutdown did not finish: %w", shutErr)
	}
	log.Info("stopped")
	return nil
}

// bootstrapToken makes the first admin API key on a fresh data folder when
// FLOWBOT_ADMIN_TOKEN is not set, and returns its token to print once.
func bootstrapToken(ctx context.Context, cfg Config, keys flow.APIKeyStore) (string, error) {
	if cfg.AdminToken != "" {
		return "", nil
	}
	existing, err := keys.APIKeys(ctx)
	if err != nil {
		return "", err
	}
	if len(existing) > 0 {
		return "", nil
	}
	tok := web.NewToken("fbk_")
	k := &flow.APIKey{ID: uuid.NewString(), Name: "bootstrap admin", Role: flow.RoleAdmin, Prefix: tok[:10],
		Hash: web.HashToken(tok), CreatedAt: time.Now().UTC(), CreatedBy: "first start"}
	if err := keys.CreateAPIKey(ctx, k); err != nil {
		return "", err
	}
	return tok, nil
}

func printBanner(w io.Writer, addr string, cfg Config, token string) {
	host, port, _ := net.SplitHostPort(addr)
	if host == "" || host == "::" || host == "0.0.0.0" {
		host = "localhost"
	}
	fmt.Fprintf(w, "flowbot listening on http://%s\n", net.JoinHostPort(host, port))
	fmt.Fprintf(w, "flowbot data folder: %s\n", cfg.DataDir)
	switch {
	case token != "":
		fmt.Fprintf(w, "flowbot admin token (shown once, keep it): %s\n", token)
	case cfg.AdminToken != "":
		fmt.Fprintln(w, "flowbot admin token: from FLOWBOT_ADMIN_TOKEN")
	default:
		fmt.Fprintln(w, "flowbot admin token: created on first start (create more with POST /v1/api-keys)")
	}
}
