// Command userapi serves the user-management REST API over Apache Cassandra.
//
// It only wires things together: flags and environment (config.go), the
// engine, the HTTP server, signals. Start-up runs in a fixed order and
// shutdown in reverse, each step logged with its duration:
//
//	start:    [pprof] -> engine (connect, schema, prepare) -> HTTP server
//	          -> listen -> serve
//	SIGTERM:  drain (/ready 503) -> stop accepting, end streams, finish
//	          in-flight requests (-shutdown-timeout) -> engine close: flush
//	          batches, run every accepted write, finish queries
//	          (-engine-close-timeout) -> [pprof] -> exit 0
//
// A second SIGTERM or SIGINT during shutdown ends the process at once.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/userapi/userapi/engine"
	"github.com/userapi/userapi/httpapi"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, stop, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	os.Exit(code)
}

// run serves until ctx ends, then shuts down. unhook restores default
// signal handling once shutdown begins, so a second signal kills. It
// returns the exit code: 0 after a clean shutdown, 1 when start-up or
// shutdown failed, 2 for a bad flag or variable.
func run(ctx context.Context, unhook func(), args []string, getenv func(string) string, stderr io.Writer) (code int) {
	cfg, err := parseConfig(args, getenv, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "userapi: %v\n", err)
		return 2
	}
	runtime.GOMAXPROCS(cfg.procs)
	log := newLogger(cfg.logFormat, cfg.logLevel, stderr)
	slog.SetDefault(log)
	log.Info("starting userapi", cfg.logAttrs()...)
	defer func() { log.Info("stopped", "exit_code", code) }()

	// Start-up.
	var pprofSrv *http.Server
	if cfg.pprofListen != "" {
		if err := step(log, "pprof listen "+cfg.pprofListen, func() (err error) {
			pprofSrv, err = startPprof(cfg.pprofListen)
			return err
		}); err != nil {
			return 1
		}
		defer func() {
			_ = step(log, "pprof close", pprofSrv.Close)
		}()
	}
	cfg.engine.Logger = log.With("component", "engine")
	var eng *engine.Engine
	if err := step(log, "engine start (connect, schema, prepare)", func() (err error) {
		eng, err = engine.New(ctx, cfg.engine)
		return err
	}); err != nil {
		return 1
	}
	var srv *httpapi.Server
	if err := step(log, "http server build", func() (err error) {
		cfg.http.Store = eng
		cfg.http.Logger = log.With("component", "http")
		srv, err = httpapi.New(cfg.http)
		return err
	}); err != nil {
		closeEngine(log, eng, cfg.engineCloseTimeout)
		return 1
	}
	var ln net.Listener
	if err := step(log, "listen "+cfg.listen, func() (err error) {
		ln, err = net.Listen("tcp", cfg.listen)
		if err != nil {
			return fmt.Errorf("-listen %s: %w", cfg.listen, err)
		}
		return nil
	}); err != nil {
		closeEngine(log, eng, cfg.engineCloseTimeout)
		return 1
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }() // ends when Shutdown closes the listener
	log.Info("serving", "addr", ln.Addr().String())

	select {
	case <-ctx.Done():
		log.Info("shutdown requested")
	case err := <-served:
		log.Error("server stopped unexpectedly", "err", err)
		code = 1
	}
	unhook()

	// Shutdown, in reverse, in phases with budgets of their own, so that
	// one slow phase (a stream whose client does not read) cannot use up
	// the time of the next (running the writes already accepted).
	_ = step(log, "drain (/ready answers 503)", func() error {
		srv.Drain()
		time.Sleep(cfg.drainDelay) // load balancers see /ready fail while we still serve
		return nil
	})
	httpErr := step(log, "http shutdown (stop accepting, end streams, finish in-flight requests)", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
		defer cancel()
		return srv.Shutdown(ctx)
	})
	if err := step(log, "engine close (flush batches, run accepted writes, finish queries)", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.engineCloseTimeout)
		defer cancel()
		return eng.Close(ctx)
	}); err != nil {
		code = 1
	}
	if httpErr != nil {
		code = 1
		// Requests still waiting for the engine when the HTTP phase ran out
		// have their answers now: let them reach their clients.
		if err := step(log, "http wait (answer requests the engine finished)", func() error {
			ctx, cancel := context.WithTimeout(context.Background(), cfg.engineCloseTimeout)
			defer cancel()
			return srv.Wait(ctx)
		}); err != nil {
			code = 1
		}
	}
	return code
}

// step runs one start-up or shutdown step and logs its outcome and duration.
func step(log *slog.Logger, name string, f func() error) error {
	start := time.Now()
	err := f()
	took := time.Since(start).Round(time.Microsecond).String()
	if err != nil {
		log.Error(name+" failed", "took", took, "err", err)
		return err
	}
	log.Info(name, "took", took)
	return nil
}

func closeEngine(log *slog.Logger, eng *engine.Engine, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_ = step(log, "engine close", func() error { return eng.Close(ctx) })
}

// startPprof serves net/http/pprof on its own listener, apart from the API
// (which never exposes it).
func startPprof(addr string) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-pprof-listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }() // ends at Close
	return srv, nil
}

// cmdline is pprof.Cmdline with the values of secret flags redacted: the
// process's command line may carry -api-token or -cassandra-password.
func cmdline(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, strings.Join(redactArgs(os.Args), "\x00"))
}

// redactArgs returns args with the value of every secret flag replaced, in
// each form the flag package accepts: -name v, --name v, -name=v, --name=v.
func redactArgs(args []string) []string {
	out := append([]string(nil), args...)
	for i := 1; i < len(out); i++ {
		a := out[i]
		if a == "--" || !strings.HasPrefix(a, "-") {
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !secretFlag(name) {
			continue
		}
		if hasValue {
			out[i] = a[:strings.IndexByte(a, '=')+1] + redacted
		} else if i+1 < len(out) {
			i++
			out[i] = redacted
		}
	}
	return out
}

func newLogger(format string, level slog.Level, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
