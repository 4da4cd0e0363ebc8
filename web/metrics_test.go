package web_test

import (
	"regexp"
	"strconv"
	"testing"
)

// metricValue returns the value of the unlabelled metric name in a
// Prometheus text exposition, or -1.
func metricValue(t *testing.T, body, name string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// TestMetrics_CountTurnsAndJournal checks that /metrics reports the turns a
// conversation made, its api_call, and the store's journal writes.
func TestMetrics_CountTurnsAndJournal(t *testing.T) {
	e := newEnv(t)
	s := newShop(t)
	e.trust(s.srv)
	bot := e.publishBot(orderFlow(s.srv.URL))
	c := e.start(bot, nil)
	if code, _ := e.send(c.ID, c.Token, map[string]string{"text": "1001"}); code != 200 {
		t.Fatalf("turn: %d", code)
	}
	r := e.do("GET", "/metrics", "", nil)
	if r.Code != 200 {
		t.Fatalf("/metrics: %d", r.Code)
	}
	body := string(r.Body)
	for _, want := range []string{
		`flowbot_turns_total{kind="start",status="active"} 1`,
		`flowbot_turns_total{kind="message",status="ended"} 1`,
		`flowbot_api_call_duration_seconds_count{host="127.0.0.1",outcome="success"} 2`,
	} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `$`).MatchString(body) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// Two turns (the start and the message), each durable before its
	// answer: at least one journal write, at most one per turn.
	turns, writes := metricValue(t, body, "flowbot_journal_turns_total"), metricValue(t, body, "flowbot_journal_writes_total")
	if turns != 2 || writes < 1 || writes > 2 {
		t.Errorf("journal: %v turns in %v writes, want 2 turns in 1–2 writes", turns, writes)
	}
	if v := metricValue(t, body, "flowbot_checkpoints_total"); v < 0 {
		t.Error("/metrics lacks flowbot_checkpoints_total")
	}
}
