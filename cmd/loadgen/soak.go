package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/userapi/userapi/bench"
)

const soakUsage = `Usage: loadgen soak [flags]

A long mixed read/write load on bin/userapi at a constant rate (make soak).
The rate is -R, or 70% (-knee-share) of the API's knee for the mixed scenario
in a sweep's results.json (-sweep). Every -window it samples the server's
RSS (/proc), heap, goroutines and GC pauses (/metrics), its HTTP and CQL
connections (/proc sockets), the client's p50/p99 and errors by kind, and
Cassandra's compactions and memtable flushes (system_views.thread_pools over
CQL; nodetool compactionstats every -nodetool-every), printing a line each
time. At the end it reads back a sample of the acknowledged creates and
compares them field by field.

Verdicts: RSS drift <= 10% after -settle; goroutines back to the idle
count within -idle after the load; p99 of the last window <= 1.5x the first
after -settle; no failed request; every sampled create readable with its
content. Results go to -out: report.md, results.json, plots over time, logs/.
Exit status 1 when a verdict fails (unless -strict=false).

Every flag falls back to the environment variable in brackets.

Flags:
`

func runSoak(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("loadgen soak", soakUsage, stderr)
	var (
		cfg        bench.SoakConfig
		sweep, uf  string
		nt         string
		share      float64
		noNodetool bool
		strict     bool
	)
	e := envFlags{}
	fs.StringVar(&cfg.Out, "out", e.str("SOAK_OUT", ""), "results `directory` [SOAK_OUT] (default bench/results/soak-<UTC timestamp>)")
	fs.DurationVar(&cfg.Duration, "d", e.dur("SOAK_DURATION", 30*time.Minute), "how long the load `runs` [SOAK_DURATION]")
	fs.Float64Var(&cfg.Rate, "R", e.float("SOAK_RATE", 0), "constant `rate` in requests/s; 0: -knee-share of the knee in -sweep [SOAK_RATE]")
	fs.StringVar(&sweep, "sweep", e.str("SOAK_SWEEP", ""), "a sweep's results.json `file` whose API knee (mixed scenario) sets the rate when -R is 0 [SOAK_SWEEP]")
	fs.Float64Var(&share, "knee-share", e.float("SOAK_KNEE_SHARE", 0.7), "`fraction` of the knee to run at [SOAK_KNEE_SHARE]")
	fs.IntVar(&cfg.Conns, "c", e.int("SOAK_CONNS", 256), "`connections` [SOAK_CONNS]")
	fs.StringVar(&cfg.Mix, "mix", e.str("SOAK_MIX", "read=80,write=20"), "`weights` of the mixed load [SOAK_MIX]")
	fs.IntVar(&cfg.Warmup, "warmup", e.int("SOAK_WARMUP", 1000), "`users` created before the load for the reads [SOAK_WARMUP]")
	fs.DurationVar(&cfg.Window, "window", e.dur("SOAK_WINDOW", 10*time.Second), "sampling `interval` [SOAK_WINDOW]")
	fs.DurationVar(&cfg.Settle, "settle", e.dur("SOAK_SETTLE", 0), "`time` at the start left out of the RSS drift and first-window p99; default -d/6, at most 5m [SOAK_SETTLE]")
	fs.DurationVar(&cfg.Idle, "idle", e.dur("SOAK_IDLE", time.Minute), "how long after the load goroutines may `take` to return to the idle count [SOAK_IDLE]")
	fs.IntVar(&cfg.Verify, "verify", e.int("SOAK_VERIFY", 10000), "acknowledged creates to read back and compare at the end (a uniform `sample`) [SOAK_VERIFY]")
	fs.StringVar(&nt, "nodetool", e.str("SOAK_NODETOOL", "scripts/cassandra.sh nodetool"), "`command` that runs nodetool [SOAK_NODETOOL]")
	fs.DurationVar(&cfg.NodetoolEvery, "nodetool-every", e.dur("SOAK_NODETOOL_EVERY", 10*time.Minute), "`interval` of nodetool compactionstats: a JVM start, about 3 CPU seconds, which shows in that window's p99 on a small machine [SOAK_NODETOOL_EVERY]")
	fs.BoolVar(&strict, "strict", true, "exit 1 when a verdict fails; -strict=false only reports (smoke runs, whose timing is noise)")
	fs.BoolVar(&noNodetool, "no-nodetool", false, "never run nodetool; thread pools are still read over CQL")
	fs.IntVar(&cfg.Port, "port", e.int("SOAK_PORT", 18484), "the API's `port` on 127.0.0.1; 0 picks a free one [SOAK_PORT]")
	fs.StringVar(&cfg.Keyspace, "keyspace", e.str("SOAK_KEYSPACE", "soak_api"), "the API's `keyspace` [SOAK_KEYSPACE]")
	fs.StringVar(&uf, "userapi-flags", e.str("BENCH_USERAPI_FLAGS", ""), "extra `flags` for the API [BENCH_USERAPI_FLAGS]")
	fs.StringVar(&cfg.UserAPI, "userapi", e.str("BENCH_USERAPI", "bin/userapi"), "the server `binary` [BENCH_USERAPI]")
	fs.StringVar(&cfg.Hosts, "hosts", e.str("CASSANDRA_HOSTS", "127.0.0.1"), "Cassandra contact `points` [CASSANDRA_HOSTS]")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if cfg.Rate < 0 {
		return badFlag("R", "must not be negative")
	}
	if cfg.Rate == 0 {
		if sweep == "" {
			return badFlag("R", "give a rate, or -sweep with a sweep's results.json to take %.0f%% of its knee", 100*share)
		}
		if share <= 0 || share > 1 {
			return badFlag("knee-share", "must be in (0, 1], not %g", share)
		}
		s, err := bench.ReadSweep(sweep)
		if err != nil {
			return badFlag("sweep", "%v", err)
		}
		k, ok := s.Knee(bench.ModeAPI, bench.ScenarioMixed)
		if !ok || !k.Found {
			return badFlag("sweep", "%s names no API knee for the mixed scenario; give -R", sweep)
		}
		cfg.Rate = share * k.Rate
		fmt.Fprintf(stderr, "soak: %.0f req/s, %.0f%% of the API's knee %.0f req/s in %s\n", cfg.Rate, 100*share, k.Rate, sweep)
	}
	cfg.Nodetool = strings.Fields(nt)
	if noNodetool {
		cfg.NodetoolEvery = -1
	}
	cfg.UserAPIFlags = strings.Fields(uf)
	cfg.Log = stderr
	s, err := bench.RunSoak(ctx, cfg)
	if err != nil {
		return asUsage(err)
	}
	fmt.Fprintf(stdout, "wrote %s/report.md\n", s.Dir)
	if strict && !s.Holds() {
		return fmt.Errorf("soak: a verdict fails (see %s/report.md)", s.Dir)
	}
	return nil
}
