package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/userapi/userapi/bench"
)

const suiteUsage = `Usage: loadgen suite [flags]

The make bench suite. It runs get-by-id, create, mixed and one-connection
get-by-id loads for a fixed time in each mode, alternating the modes' order
in each repeat after one uncounted warm pass:

  api         bin/userapi as shipped (token-aware batching on)
  raw         loadgen raw: the same reads and writes straight to Cassandra
  api-batch1  bin/userapi with batching off
  naive       the naive baseline (loadgen naive): gocql per request
  noop        loadgen -t 1 and wrk -t1 against a no-op server (the client check)

Each server runs on its own keyspace and is stopped by its pid; each load is
a loadgen process of its own. Server CPU per request comes from
/proc/PID/stat over each measured phase, and loadgen's own CPU per query in
raw mode is the driver's cost. Results go to -out: runs/, logs/, meta.json,
and report.md (targets with verdicts, ratios API / raw and API / naive, CPU
per request), results.json and plots. Cassandra must answer (make
cassandra-up); bin/userapi must be built (make build).

Every flag falls back to the environment variable in brackets.

Flags:
`

func runSuite(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("loadgen suite", suiteUsage, stderr)
	var (
		cfg                            bench.SuiteConfig
		modes, scenarios, apiFlags, nb string
		warm                           time.Duration
		profile, keep                  bool
	)
	e := envFlags{}
	fs.StringVar(&cfg.Out, "out", e.str("BENCH_OUT", ""), "results `directory` [BENCH_OUT] (default bench/results/<UTC timestamp>)")
	fs.DurationVar(&cfg.Duration, "d", e.dur("BENCH_DURATION", 6*time.Second), "each measured `run` [BENCH_DURATION]")
	fs.IntVar(&cfg.Conns, "c", e.int("BENCH_CONNS", 64), "`connections`, and concurrent queries for raw [BENCH_CONNS]")
	fs.IntVar(&cfg.Repeats, "repeats", e.int("BENCH_REPEATS", 3), "alternating `repeats`; the report uses medians [BENCH_REPEATS]")
	fs.StringVar(&scenarios, "scenarios", e.str("BENCH_SCENARIOS", strings.Join(bench.SuiteScenarios, " ")), "`list` of get, create, mixed, get-c1 [BENCH_SCENARIOS]")
	fs.StringVar(&modes, "modes", e.str("BENCH_MODES", strings.Join(bench.SuiteModes, " ")), "`list` of noop, api, raw, api-batch1, naive [BENCH_MODES]")
	fs.StringVar(&cfg.Mix, "mix", e.str("BENCH_MIX", "read=80,write=20"), "the mixed scenario's `weights` [BENCH_MIX]")
	fs.IntVar(&cfg.Warmup, "warmup", e.int("BENCH_WARMUP", 1000), "`users` created before each get and mixed run [BENCH_WARMUP]")
	fs.DurationVar(&cfg.NoopDuration, "noop-d", e.dur("BENCH_NOOP_DURATION", 3*time.Second), "each calibration `run` [BENCH_NOOP_DURATION]")
	fs.DurationVar(&warm, "warm-d", e.dur("BENCH_WARM_DURATION", 3*time.Second), "an uncounted first pass of every mode, this `long` per run; 0: none [BENCH_WARM_DURATION]")
	fs.IntVar(&cfg.Port, "port", e.int("BENCH_PORT", 18480), "the servers' `port` on 127.0.0.1; 0 picks a free one [BENCH_PORT]")
	fs.IntVar(&cfg.NoopPort, "noop-port", e.int("BENCH_NOOP_PORT", 18481), "the no-op server's `port` [BENCH_NOOP_PORT]")
	fs.IntVar(&cfg.PprofPort, "pprof-port", e.int("BENCH_PPROF_PORT", 18482), "the API's pprof `port` in the profiled run [BENCH_PPROF_PORT]")
	fs.StringVar(&cfg.APIKeyspace, "api-keyspace", e.str("BENCH_API_KEYSPACE", "bench_api"), "the API's `keyspace`; batching off uses it with _nobatch appended [BENCH_API_KEYSPACE]")
	fs.StringVar(&cfg.RawKeyspace, "raw-keyspace", e.str("BENCH_RAW_KEYSPACE", "bench_raw"), "raw mode's `keyspace` [BENCH_RAW_KEYSPACE]")
	fs.StringVar(&cfg.NaiveKeyspace, "naive-keyspace", e.str("BENCH_NAIVE_KEYSPACE", "bench_naive"), "the naive baseline's `keyspace` [BENCH_NAIVE_KEYSPACE]")
	fs.StringVar(&apiFlags, "userapi-flags", e.str("BENCH_USERAPI_FLAGS", ""), "extra `flags` for every API start [BENCH_USERAPI_FLAGS]")
	fs.StringVar(&nb, "nobatch-flags", e.str("BENCH_NOBATCH_FLAGS", "-batch-max 1"), "`flags` that turn batching off [BENCH_NOBATCH_FLAGS]")
	fs.BoolVar(&keep, "keep-keyspaces", e.str("BENCH_KEEP_KEYSPACES", "") == "1", "keep the modes' keyspaces and their rows from earlier suites instead of starting each on empty tables [BENCH_KEEP_KEYSPACES=1]")
	fs.BoolVar(&profile, "profile", e.str("BENCH_PROFILE", "1") == "1", "one more get run with the API's pprof on, summarised in the report [BENCH_PROFILE=1]")
	fs.StringVar(&cfg.UserAPI, "userapi", e.str("BENCH_USERAPI", "bin/userapi"), "the server `binary` [BENCH_USERAPI]")
	fs.StringVar(&cfg.Loadgen, "loadgen", e.str("BENCH_LOADGEN", ""), "the loadgen `binary` that drives each run (default this one) [BENCH_LOADGEN]")
	fs.StringVar(&cfg.Hosts, "hosts", e.str("CASSANDRA_HOSTS", "127.0.0.1"), "Cassandra contact `points` for every mode [CASSANDRA_HOSTS]")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	for _, p := range []struct {
		name string
		v    int
	}{{"c", cfg.Conns}, {"repeats", cfg.Repeats}, {"warmup", cfg.Warmup}} {
		if p.v < 1 {
			return badFlag(p.name, "must be a positive integer, not %d", p.v)
		}
	}
	if warm == 0 {
		warm = -1 // none; zero in SuiteConfig means the default
	}
	cfg.WarmDuration = warm
	cfg.Modes, cfg.Scenarios = strings.Fields(modes), strings.Fields(scenarios)
	cfg.UserAPIFlags, cfg.NoBatchFlags = strings.Fields(apiFlags), strings.Fields(nb)
	cfg.Profile, cfg.KeepKeyspaces = profile, keep
	cfg.Log = stderr
	s, err := bench.RunSuite(ctx, cfg)
	if err != nil {
		return asUsage(err)
	}
	fmt.Fprintf(stdout, "wrote %s\n", s.Dir+"/report.md")
	return nil
}
