package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/userapi/userapi/bench"
)

const noopUsage = `Usage: loadgen noop [flags]

Serve 200 with an empty body to every request, for -d, then exit: the
target for checking loadgen against wrk (both should be limited by the
client, not by this server). It prints the address it listens on.

Flags:
`

func runNoop(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadgen noop", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		listen   string
		serveFor time.Duration
	)
	fs.StringVar(&listen, "listen", "127.0.0.1:0", "`address` to listen on; port 0 picks a free one")
	fs.Var(seconds{&serveFor}, "d", "serve for this `duration`, then exit (default 60s)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), noopUsage)
		fs.PrintDefaults()
	}
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Sprintf("loadgen noop takes no arguments, got %q", pos)}
	}
	if serveFor == 0 {
		serveFor = time.Minute
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return badFlag("listen", "%v", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return badFlag("listen", "%s is not a loopback address", host)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return badFlag("listen", "%v", err)
	}
	fmt.Fprintf(stdout, "listening on %s for %s\n", ln.Addr(), serveFor)
	ctx, cancel := context.WithTimeout(ctx, serveFor)
	defer cancel()
	return bench.ServeNoop(ctx, ln)
}
