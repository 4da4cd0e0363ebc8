package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flowbot/flowbot/web"
)

// TestHandoff_Metrics: /metrics counts hand-off notices by how they
// ended, so an alert can fire when a help desk stops taking them.
func TestHandoff_Metrics(t *testing.T) {
	dk := newDesk(t, http.StatusBadRequest) // the first is refused, the next taken
	var h *web.Handoff
	e := newEnv(t, func(d *web.Deps, e *env) {
		h = &web.Handoff{URL: dk.srv.URL + "/hook", Secret: []byte(handoffSecret), Client: e.client,
			Transcript: e.db.Transcript, Outbox: e.db, Backoff: []time.Duration{10 * time.Millisecond}}
		d.Runtime.OnTransfer = h.Notify
		d.Handoff = h
	})
	e.trust(dk.srv)
	bot := e.publishBot(transferBot)
	e.start(bot, nil)
	h.Wait()
	e.start(bot, nil)
	dk.next(t)
	h.Wait()
	body := string(e.do("GET", "/metrics", "", nil).Body)
	for _, want := range []string{
		`flowbot_handoff_notices_total{result="delivered"} 1`,
		`flowbot_handoff_notices_total{result="given_up"} 1`,
		`flowbot_handoff_notices_total{result="dropped"} 0`,
		`flowbot_handoff_in_flight 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
