package botstep

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/flowbot/flowbot/connections"

	"github.com/flowbot/flowbot/flow"
)

// BenchmarkBuildRequest builds the request of a POST with a path and a
// query variable, three headers and a JSON body with three variables.
func BenchmarkBuildRequest(b *testing.B) {
	s := exStep("POST", "https://"+exAPIHost+"/api/orders/{{order_number}}/notes?source=bot&conversation={{conversation.id}}",
		withHeader("Accept", "application/json"),
		withHeader("X-Request-Source", "flowbot {{conversation.id}}"),
		withHeader("X-Locale", "{{user.locale}}"),
		withBody(flow.BodyJSON, `{"order": "{{order_number}}", "email": "{{user.email}}", "note": "{{note}}", "tags": ["bot", "flow"], "n": 1}`, ""))
	vals := exLookup(map[string]string{
		"order_number": "12345", "conversation.id": "7f0c9a8e-2b1d-4c3e-9f6a-1b2c3d4e5f60",
		"user.locale": "en-GB", "user.email": "ada@example.com", "note": `shipped "today"`,
	})
	x := &Executor{}
	p := x.prepare(s)
	if p.err != nil {
		b.Fatal(p.err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := buildRequest(p, s, vals); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResponseMapping maps a 2 KB JSON body to eight variables.
func BenchmarkResponseMapping(b *testing.B) {
	body, err := os.ReadFile("testdata/order_response.json")
	if err != nil {
		b.Fatal(err)
	}
	s := exStep("GET", "https://"+exAPIHost+"/orders/{{id}}", withVars(
		"status", "$.order.status",
		"total", "$.order.total",
		"first_item", "$.order.items[0].name",
		"items", "$.order.items",
		"city", "$.order.shipping.address.city",
		"tracking", "$.order.shipping.tracking.number",
		"code", "$status",
		"request_id", "$headers.x-request-id",
	))
	x := &Executor{}
	p := x.prepare(s)
	if p.err != nil {
		b.Fatal(p.err)
	}
	header := http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"req-1"}}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		o := &Outcome{Status: 200, Header: header, Body: body, Saved: map[string]string{}, Success: true}
		o.save(s, p, nil)
		if len(o.Saved) != 8 {
			b.Fatalf("saved %v", o.Saved)
		}
	}
}

// BenchmarkExecuteOverhead compares a full Executor.Execute of a GET with
// one path variable and two response variables against a bare Client.Do
// and io.ReadAll of the same URL, with the same keep-alive client, to a
// loopback TLS server. Interleaved runs both in each iteration and reports
// their ratio, which shared-machine noise affects least.
func BenchmarkExecuteOverhead(b *testing.B) {
	const answer = `{"order":{"id":"12345","status":"shipped","total":42.5,"items":[{"name":"Mug","qty":2}]}}`
	e := newExEnv(b, exOptions{handlers: map[string]http.HandlerFunc{exAPIHost: jsonAnswer(200, answer)}})
	s := exStep("GET", "https://"+exAPIHost+"/orders/{{id}}", withVars("status", "$.order.status", "total", "$.order.total"))
	vals := exLookup(map[string]string{"id": "12345"})
	rawURL := "https://" + exAPIHost + "/orders/12345"
	ctx := context.Background()

	execute := func(b *testing.B) {
		o := e.x.Execute(ctx, s, vals)
		if !o.Success || o.Saved["status"] != "shipped" {
			b.Fatalf("outcome %+v", o)
		}
	}
	bare := func(b *testing.B) {
		req, err := http.NewRequestWithContext(ctx, "GET", rawURL, nil)
		if err != nil {
			b.Fatal(err)
		}
		resp, err := e.client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || len(body) != len(answer) {
			b.Fatalf("status %d, %d bytes, %v", resp.StatusCode, len(body), err)
		}
	}
	execute(b) // open the keep-alive connection
	b.Run("Bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			bare(b)
		}
	})
	b.Run("Execute", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			execute(b)
		}
	})
	b.Run("Interleaved", func(b *testing.B) {
		var tBare, tExec time.Duration
		for b.Loop() {
			t0 := time.Now()
			bare(b)
			t1 := time.Now()
			execute(b)
			tBare += t1.Sub(t0)
			tExec += time.Since(t1)
		}
		b.ReportMetric(float64(tBare.Nanoseconds())/float64(b.N), "bare-ns/op")
		b.ReportMetric(float64(tExec.Nanoseconds())/float64(b.N), "execute-ns/op")
		b.ReportMetric(float64(tExec)/float64(tBare), "ratio")
	})
}

// BenchmarkExecuteParallel runs the benchmark turn's api_call (GET
// /orders/{{order}}, two variables) from 16 and 64 goroutines at once
// against one TLS upstream that offers HTTP/2: with the guarded client as
// it is (connections.Transport, HTTP/1.1 keep-alive) and, for comparison,
// with net/http's own transport speaking HTTP/2 (what flowbot used
// before). cpu-µs/op is the process's CPU time per call, the upstream's
// included.
func BenchmarkExecuteParallel(b *testing.B) {
	const answer = `{"id":"42","status":"shipped","eta":"2026-12-01"}` + "\n"
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, answer)
	}))
	up.EnableHTTP2 = true
	up.StartTLS()
	b.Cleanup(up.Close)
	pool := x509.NewCertPool()
	pool.AddCert(up.Certificate())
	s := exStep("GET", up.URL+"/orders/{{order}}", withVars("status", "$.status", "eta", "$.eta"))
	vals := exLookup(map[string]string{"order": "42"})
	for _, client := range []string{"guarded", "nethttp-HTTP2"} {
		for _, conc := range []int{16, 64} {
			b.Run(client+"/"+strconv.Itoa(conc), func(b *testing.B) {
				c := connections.NewGuardedClient(true)
				tr := c.Transport.(*connections.Transport)
				tr.TLSClientConfig.RootCAs = pool
				b.Cleanup(tr.CloseIdleConnections)
				if client == "nethttp-HTTP2" {
					h2 := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
					b.Cleanup(h2.CloseIdleConnections)
					c.Transport = h2
				}
				x := &Executor{Client: c}
				ctx := context.Background()
				b.SetParallelism(max(1, conc/runtime.GOMAXPROCS(0)))
				b.ReportAllocs()
				var ru0 syscall.Rusage
				_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if o := x.Execute(ctx, s, vals); !o.Success || o.Saved["eta"] != "2026-12-01" {
							b.Errorf("outcome %+v", o)
							return
						}
					}
				})
				var ru1 syscall.Rusage
				_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
				cpu := ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()
				b.ReportMetric(float64(cpu)/1e3/float64(b.N), "cpu-µs/op")
			})
		}
	}
}

// BenchmarkExecuteConnection runs a GET whose 2 KB answer does not echo
// the credential, without a connection and with a bearer one: the
// difference is applying the credential and looking for it in the answer.
func BenchmarkExecuteConnection(b *testing.B) {
	answer, err := os.ReadFile("testdata/order_response.json")
	if err != nil {
		b.Fatal(err)
	}
	e := newExEnv(b, exOptions{handlers: map[string]http.HandlerFunc{exAPIHost: jsonAnswer(200, string(answer))}})
	ctx := context.Background()
	for _, conn := range []string{"", "shop_api"} {
		name := "None"
		if conn != "" {
			name = "Bearer"
		}
		b.Run(name, func(b *testing.B) {
			s := exStep("GET", "https://"+exAPIHost+"/orders/{{id}}", withConnection(conn), withVars("status", "$.order.status", "city", "$.order.shipping.address.city"))
			vals := exLookup(map[string]string{"id": "12345"})
			e.x.Execute(ctx, s, vals) // open the keep-alive connection
			b.ReportAllocs()
			for b.Loop() {
				if o := e.x.Execute(ctx, s, vals); !o.Success || o.Saved["status"] != "shipped" {
					b.Fatalf("outcome %+v", o)
				}
			}
		})
	}
}
