package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"
)

// Sampling of the block and mutex profiles while the pprof listener is on:
// one blocking event per 10 µs blocked, one mutex contention event in 5.
const (
	pprofBlockRate     = 10_000
	pprofMutexFraction = 5
)

// checkPprofAddr accepts only loopback addresses: the profiles show
// internals (and /debug/pprof/trace costs CPU), so they are for whoever is
// on the machine, never for the network. name is the setting as the user
// gave it (--pprof-addr or FLOWBOT_PPROF_ADDR).
func checkPprofAddr(name, addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s %q is not host:port", name, addr)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s must be a loopback address such as 127.0.0.1:6061, got %q", name, addr)
	}
	return nil
}

// startPprof serves net/http/pprof on addr and turns block and mutex
// profiling on. It returns the listener's address and a func that stops
// both.
func startPprof(addr string) (string, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("cannot listen on --pprof-addr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	runtime.SetBlockProfileRate(pprofBlockRate)
	runtime.SetMutexProfileFraction(pprofMutexFraction)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return // the service goes on without profiles
		}
	}()
	return ln.Addr().String(), func() {
		_ = srv.Close()
		runtime.SetBlockProfileRate(0)
		runtime.SetMutexProfileFraction(0)
	}, nil
}
