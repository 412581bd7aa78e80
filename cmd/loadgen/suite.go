package main

import (
	"context"
	"io"
	"strings"

	"github.com/userapi/userapi/bench/suite"
)

const suiteUsage = `Usage: loadgen suite [flags]

The make bench suite: get-by-id, create, mixed and one-connection get-by-id,
each for -d in every mode, the modes alternating their order each repeat
after one uncounted warm pass:

  api         bin/userapi as shipped (token-aware batching on)
  raw         loadgen raw: the same reads and writes straight to Cassandra
  api-batch1  bin/userapi with batching off
  naive       the naive baseline (loadgen naive): gocql per request
  noop        loadgen -t 1 and wrk -t1 against a no-op server (the client
              check; without wrk, loadgen alone and the target says so)

Each server runs on its own keyspace, each load is a loadgen process of its
own. Results go to -out: report.md (targets with verdicts, ratios, CPU per
request), results.json, plots, meta.json, runs/, logs/. Cassandra must answer
(make cassandra-up); bin/userapi must be built (make build).

Every flag falls back to the environment variable in brackets; docs/load-testing.md
explains the run and its report.

Flags:
`

func runSuite(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("loadgen suite", suiteUsage, stderr)
	def := suite.Config{}.Defaults()
	cfg := suite.Config{NoopPort: env.port("BENCH_NOOP_PORT", def.NoopPort), PprofPort: env.port("BENCH_PPROF_PORT", def.PprofPort),
		NoBatchFlags: strings.Fields(env.str("BENCH_NOBATCH_FLAGS", strings.Join(def.NoBatchFlags, " "))),
		Modes:        strings.Fields(env.str("BENCH_MODES", strings.Join(def.Modes, " "))),
		Scenarios:    strings.Fields(env.str("BENCH_SCENARIOS", strings.Join(def.Scenarios, " ")))}
	harnessFlags(fs, &cfg.Config, def.Config, "BENCH", "", true)
	fs.DurationVar(&cfg.Duration, "d", env.dur("BENCH_DURATION", def.Duration), "each measured `run` [BENCH_DURATION]")
	fs.IntVar(&cfg.Conns, "c", env.int("BENCH_CONNS", def.Conns), "`connections`, and concurrent queries for raw [BENCH_CONNS]")
	fs.IntVar(&cfg.Repeats, "repeats", env.int("BENCH_REPEATS", def.Repeats), "alternating `repeats`; the report uses medians [BENCH_REPEATS]")
	fs.Var(fields{&cfg.Scenarios}, "scenarios", "`list` of get, create, mixed, get-c1 [BENCH_SCENARIOS]")
	fs.Var(fields{&cfg.Modes}, "modes", "`list` of noop, api, raw, api-batch1, naive [BENCH_MODES]")
	fs.StringVar(&cfg.Mix, "mix", env.str("BENCH_MIX", def.Mix), "the mixed scenario's `weights` [BENCH_MIX]")
	fs.IntVar(&cfg.Warmup, "warmup", env.int("BENCH_WARMUP", def.Warmup), "`users` created before each get and mixed run [BENCH_WARMUP]")
	fs.DurationVar(&cfg.NoopDuration, "noop-d", env.dur("BENCH_NOOP_DURATION", def.NoopDuration), "each calibration `run` [BENCH_NOOP_DURATION]")
	fs.DurationVar(&cfg.WarmDuration, "warm-d", env.dur("BENCH_WARM_DURATION", def.WarmDuration), "an uncounted first pass of every mode, this `long` per run; 0: none [BENCH_WARM_DURATION]")
	fs.Var(port{&cfg.NoopPort}, "noop-port", "the no-op server's `port` [BENCH_NOOP_PORT]")
	fs.Var(port{&cfg.PprofPort}, "pprof-port", "the API's pprof `port` in the profiled run [BENCH_PPROF_PORT]")
	fs.StringVar(&cfg.APIKeyspace, "api-keyspace", env.str("BENCH_API_KEYSPACE", def.APIKeyspace), "the API's `keyspace`; batching off uses it with _nobatch appended [BENCH_API_KEYSPACE]")
	fs.StringVar(&cfg.RawKeyspace, "raw-keyspace", env.str("BENCH_RAW_KEYSPACE", def.RawKeyspace), "raw mode's `keyspace` [BENCH_RAW_KEYSPACE]")
	fs.StringVar(&cfg.NaiveKeyspace, "naive-keyspace", env.str("BENCH_NAIVE_KEYSPACE", def.NaiveKeyspace), "the naive baseline's `keyspace` [BENCH_NAIVE_KEYSPACE]")
	fs.Var(fields{&cfg.NoBatchFlags}, "nobatch-flags", "`flags` that turn batching off [BENCH_NOBATCH_FLAGS]")
	fs.DurationVar(&cfg.Delay, "delay", env.dur("BENCH_DELAY", 0), "round-trip `latency` added between Cassandra and every client of it (API, naive, raw) by a delay proxy on -delay-host:9042; 0: none [BENCH_DELAY]")
	fs.StringVar(&cfg.DelayHost, "delay-host", env.str("BENCH_DELAY_HOST", def.DelayHost), "loopback `address` the delay proxy listens on, port 9042 [BENCH_DELAY_HOST]")
	fs.BoolVar(&cfg.KeepKeyspaces, "keep-keyspaces", env.str("BENCH_KEEP_KEYSPACES", "") == "1", "keep the modes' keyspaces and their rows from earlier suites instead of starting each on empty tables [BENCH_KEEP_KEYSPACES=1]")
	fs.BoolVar(&cfg.Profile, "profile", env.str("BENCH_PROFILE", "1") == "1", "one more get run with the API's pprof on, summarised in the report [BENCH_PROFILE=1]")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if err := positive(fs, "c", "repeats", "warmup"); err != nil {
		return err
	}
	if cfg.WarmDuration == 0 {
		cfg.WarmDuration = -1 // none; zero in suite.Config means the default
	}
	cfg.Log = stderr
	s, err := suite.Run(ctx, cfg)
	return wrote(stdout, s, err)
}
