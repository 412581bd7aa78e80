package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/userapi/userapi/bench/load"
)

const noopUsage = `Usage: loadgen noop [flags]

Serve 200 with an empty body to every request, for -d, then exit: the
target for checking loadgen against wrk (both should be limited by the
client, not by this server). It prints the address it listens on.

Flags:
`

func runNoop(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("loadgen noop", noopUsage, stderr)
	var (
		listen   string
		serveFor time.Duration
	)
	fs.StringVar(&listen, "listen", "127.0.0.1:0", "`address` to listen on; port 0 picks a free one")
	fs.Var(seconds{&serveFor}, "d", "serve for this `duration`, then exit (default 60s)")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if serveFor == 0 {
		serveFor = time.Minute
	}
	ln, err := listenLoopback(listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "listening on %s for %s\n", ln.Addr(), serveFor)
	ctx, cancel := context.WithTimeout(ctx, serveFor)
	defer cancel()
	return load.ServeNoop(ctx, ln)
}
