package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/flowbot/flowbot/connections"
)

// TestUI_ConnectionHealth: the connections page takes an expiry date,
// shows each connection's status in words, and changes or removes the
// date without new credentials; a server refusal shows at the field.
func TestUI_ConnectionHealth(t *testing.T) {
	e := newEnv(t)
	app := uiServer(t, e)
	b := newBrowser(t, 60*time.Second)

	// One connection an API refused, made as the executor records it.
	e.mustConnection(connBody("crm_api", "bearer", map[string]any{"token": "t-crm"}))
	conn, err := e.conns.Get(context.Background(), "crm_api")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.SetConnectionRefusal(context.Background(), "crm_api", conn.UpdatedAt,
		&connections.Refusal{At: time.Now().UTC(), Status: 401, Host: "shop.example.com", Message: "shop.example.com answered 401 Unauthorized"}); err != nil {
		t.Fatal(err)
	}

	// A published bot uses it: the row names the bot.
	botID := e.publishBot(botUsing("crm_api"))

	b.navigate(app.URL + "/")
	b.signIn(adminToken)
	b.click(`nav a[data-nav="connections"]`)
	b.visible("#new-connection")
	b.checkLabels("connections")
	row := `tr[data-connection="crm_api"] .status-cell`
	b.waitText(row, "Refused")
	if got := b.text(row); !strings.Contains(got, "401 Unauthorized") || !strings.Contains(got, "rotates them") {
		t.Errorf("refused status shown as %q", got)
	}
	if got := b.text(`tr[data-connection="crm_api"] .used-cell a[href="#/bots/` + botID + `"]`); got != "Test bot" {
		t.Errorf("used-by cell links %q", got)
	}

	// Created with a date three days ahead: expires soon.
	day := time.Now().UTC().Add(3 * 24 * time.Hour).Format("2006-01-02")
	b.typeText("#conn-name", "shop_api")
	b.choose("#conn-type", "bearer")
	b.typeText("#conn-domain", "shop.example.com")
	b.typeText("#conn-cred-token", "t-shop")
	b.do("set the expiry date", chromedp.SetValue(chromedp.CSS("#conn-expires"), day))
	b.click("#create-connection")
	row = `tr[data-connection="shop_api"] .status-cell`
	b.waitText(row, "Expires soon")
	if got := b.text(row); !strings.Contains(got, day) || !strings.Contains(got, "rotates them before then") {
		t.Errorf("expiring status shown as %q", got)
	}
	if r := e.do("GET", "/v1/connections/shop_api", adminToken, nil); r.m(t)["expires_at"] != day+"T00:00:00Z" {
		t.Fatalf("stored: %s", r.Body)
	}
	b.shot("admin-connection-health")

	// A past date is refused at the field; then the date is removed.
	b.click(`button[aria-label^="Rotate credentials of shop_api,"]`)
	b.visible("#exp-shop_api")
	b.checkLabels("connection expiry")
	if got := b.value("#exp-shop_api"); got != day {
		t.Errorf("expiry form shows %q, want %q", got, day)
	}
	b.do("set a past date", chromedp.SetValue(chromedp.CSS("#exp-shop_api"), "2020-01-01"))
	// Enter in the field submits its form (a toast may cover the button).
	b.do("submit the past date", chromedp.SendKeys(chromedp.CSS("#exp-shop_api"), "\n"))
	b.waitText("#exp-shop_api-err", "in the future")
	if r := e.do("GET", "/v1/connections/shop_api", adminToken, nil); r.m(t)["expires_at"] != day+"T00:00:00Z" {
		t.Fatalf("a refused date changed the connection: %s", r.Body)
	}
	b.until("the toast is gone", `document.querySelector('#toast').hidden`)
	b.click(`button[aria-label="Remove the expiry date of shop_api"]`)
	b.waitText("#toast", "removed")
	b.waitText(row, "OK")
	r := e.do("GET", "/v1/connections/shop_api", adminToken, nil)
	if _, has := r.m(t)["expires_at"]; has {
		t.Fatalf("date not removed: %s", r.Body)
	}

	// Another admin rotates the credentials while this page shows the old
	// ones: a date set here is refused rather than given to the new ones.
	b.click(`button[aria-label^="Rotate credentials of shop_api,"]`)
	b.visible("#exp-shop_api")
	if r := e.do("PATCH", "/v1/connections/shop_api", adminToken, map[string]any{"credentials": map[string]any{"token": "t-new"}}); r.Code != 200 {
		t.Fatalf("rotate: %d %s", r.Code, r.Body)
	}
	b.do("set a date", chromedp.SetValue(chromedp.CSS("#exp-shop_api"), day))
	b.do("submit the date", chromedp.SendKeys(chromedp.CSS("#exp-shop_api"), "\n"))
	b.waitText(`form.expiry:has(#exp-shop_api) .form-error`, "was given new credentials after this list was loaded")
	r = e.do("GET", "/v1/connections/shop_api", adminToken, nil)
	if _, has := r.m(t)["expires_at"]; has {
		t.Fatalf("a date set on the old version reached the new credentials: %s", r.Body)
	}
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors: %q", errs)
	}
}
