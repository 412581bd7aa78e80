package main

import (
	"context"
	"fmt"
	"io"

	"github.com/userapi/userapi/bench/naive"
)

const naiveUsage = `Usage: loadgen naive [flags]

A BASELINE, not the service: a fasthttp handler that calls gocql directly
per request (one prepared SELECT by id, or one single INSERT), default
driver settings, no pool, no batching. It serves GET /users/{id}, POST
/users and /ready with the API's JSON shapes until SIGTERM or SIGINT, so
that make bench can show what the engine buys over the obvious code. It
creates -keyspace and its users table if missing and prints the address it
listens on.

Flags:
`

func runNaive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("loadgen naive", naiveUsage, stderr)
	var (
		cfg    naive.Config
		hosts  string
		listen string
	)
	fs.StringVar(&listen, "listen", "127.0.0.1:0", "`address` to listen on (loopback); port 0 picks a free one")
	cassandraFlags(fs, &hosts, &cfg.Port)
	fs.StringVar(&cfg.Keyspace, "keyspace", "bench_naive", "`keyspace` to create and serve; kept apart from the API's")
	err := parseNoArgs(fs, args)
	if err != nil {
		return err
	}
	ln, err := listenLoopback(listen)
	if err != nil {
		return err
	}
	if cfg.Hosts, err = hostsFlag(hosts); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "naive baseline listening on %s\n", ln.Addr())
	return naive.Serve(ctx, ln, cfg)
}
