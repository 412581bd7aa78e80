package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/userapi/userapi/bench"
)

const largeUsage = `Usage: loadgen large [flags]

GET-by-id and list figures on a large table next to a small one (make
bench-large). For each table it drops the keyspace, starts bin/userapi on
it, preloads the users through POST /users/batch (progress every 2 s), and
runs get (over a uniform sample of the table's ids, not just recent rows)
and list (pages followed through X-Next-Page-State) on -c connections and on
one. Results go to -out: report.md (both tables side by side, large / small
ratios), results.json, runs/, logs/ and the id samples.

Every flag falls back to the environment variable in brackets.

Flags:
`

func runLarge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("loadgen large", largeUsage, stderr)
	var (
		cfg bench.LargeConfig
		uf  string
	)
	e := envFlags{}
	fs.StringVar(&cfg.Out, "out", e.str("LARGE_OUT", ""), "results `directory` [LARGE_OUT] (default bench/results/large-<UTC timestamp>)")
	fs.IntVar(&cfg.Users, "users", e.int("LARGE_USERS", 1_000_000), "`users` in the large table [LARGE_USERS]")
	fs.IntVar(&cfg.SmallUsers, "small-users", e.int("LARGE_SMALL_USERS", 1000), "`users` in the small table [LARGE_SMALL_USERS]")
	fs.IntVar(&cfg.Sample, "sample", e.int("LARGE_SAMPLE", 100_000), "`ids` of each table that get reads, chosen uniformly [LARGE_SAMPLE]")
	fs.DurationVar(&cfg.Duration, "d", e.dur("LARGE_DURATION", 6*time.Second), "each run's `duration` [LARGE_DURATION]")
	fs.IntVar(&cfg.Conns, "c", e.int("LARGE_CONNS", 64), "`connections`; every scenario also runs on 1 [LARGE_CONNS]")
	fs.IntVar(&cfg.ListLimit, "list-limit", e.int("LARGE_LIST_LIMIT", 20), "`rows` per list page [LARGE_LIST_LIMIT]")
	fs.IntVar(&cfg.Port, "port", e.int("LARGE_PORT", 18485), "the API's `port` on 127.0.0.1; 0 picks a free one [LARGE_PORT]")
	fs.StringVar(&cfg.LargeKeyspace, "large-keyspace", e.str("LARGE_KEYSPACE", "bench_large"), "the large table's `keyspace`, dropped first [LARGE_KEYSPACE]")
	fs.StringVar(&cfg.SmallKeyspace, "small-keyspace", e.str("LARGE_SMALL_KEYSPACE", "bench_small"), "the small table's `keyspace`, dropped first [LARGE_SMALL_KEYSPACE]")
	fs.StringVar(&uf, "userapi-flags", e.str("BENCH_USERAPI_FLAGS", ""), "extra `flags` for the API [BENCH_USERAPI_FLAGS]")
	fs.StringVar(&cfg.UserAPI, "userapi", e.str("BENCH_USERAPI", "bin/userapi"), "the server `binary` [BENCH_USERAPI]")
	fs.StringVar(&cfg.Loadgen, "loadgen", e.str("BENCH_LOADGEN", ""), "the loadgen `binary` that drives each run (default this one) [BENCH_LOADGEN]")
	fs.StringVar(&cfg.Hosts, "hosts", e.str("CASSANDRA_HOSTS", "127.0.0.1"), "Cassandra contact `points` [CASSANDRA_HOSTS]")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	for _, p := range []struct {
		name string
		v    int
	}{{"users", cfg.Users}, {"small-users", cfg.SmallUsers}, {"sample", cfg.Sample}, {"c", cfg.Conns}, {"list-limit", cfg.ListLimit}} {
		if p.v < 1 {
			return badFlag(p.name, "must be a positive integer, not %d", p.v)
		}
	}
	cfg.UserAPIFlags = strings.Fields(uf)
	cfg.Log = stderr
	l, err := bench.RunLarge(ctx, cfg)
	if err != nil {
		return asUsage(err)
	}
	fmt.Fprintf(stdout, "wrote %s/report.md\n", l.Dir)
	return nil
}
