package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/flowbot/flowbot"
	"github.com/flowbot/flowbot/botstep"
	"github.com/flowbot/flowbot/connections"
	"github.com/flowbot/flowbot/flow"
	"github.com/flowbot/flowbot/store"
	"github.com/flowbot/flowbot/web"
)

// The tests run the tool against a real flowbot in this process; to profile
// the real binary under load, run cmd/flowbot with --pprof-addr.

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
