package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
)

// newHeldBot publishes a bot that asks for an order number and then calls
// an API whose answer waits until release is closed, so that a test can
// act while a turn is held mid-turn; arrived is closed when the call
// reaches the API. The answer saves status "shipped" and the turn ends
// with "Order <n> is shipped.".
func newHeldBot(e *env) (bot string, arrived, release chan struct{}) {
	e.t.Helper()
	arrived, release = make(chan struct{}), make(chan struct{})
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"shipped"}`)
	}))
	e.t.Cleanup(up.Close)
	e.trust(up)
	bot = e.publishBot(`{"start":"ask","steps":[
 {"id":"ask","type":"ask","text":"Order?","variable":"n","input":"text","next":"call"},
 {"id":"call","type":"api_call","method":"POST","url":"` + up.URL + `/orders/{{n}}/cancel",
  "variables":[{"name":"st","path":"$.status"}],"on_success":"ok","on_failure":"bad"},
 {"id":"ok","type":"end","text":"Order {{n}} is {{st}}."},
 {"id":"bad","type":"end","text":"That did not work."}]}`)
	return bot, arrived, release
}

// newMessage is a request that sends body to conversation c with its
// token.
func newMessage(ctx context.Context, c turn, body string) *http.Request {
	req := httptest.NewRequest("POST", "/v1/conversations/"+c.ID+"/messages", strings.NewReader(body)).WithContext(ctx)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.Token)
	return req
}

// sendAsync sends body to conversation c through the real router on
// another goroutine (not with e.do, which reports to e.t: only the test's
// own goroutine may stop the test). wait returns the request and its
// answer once it is served.
func sendAsync(ctx context.Context, e *env, c turn, body string) (wait func() (*http.Request, *httptest.ResponseRecorder)) {
	req, rec := newMessage(ctx, c, body), httptest.NewRecorder()
	served := make(chan struct{})
	go func() {
		defer close(served)
		e.srv.ServeHTTP(rec, req)
	}()
	return func() (*http.Request, *httptest.ResponseRecorder) {
		<-served
		return req, rec
	}
}
