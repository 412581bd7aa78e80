package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/userapi/userapi/bench/soak"
)

const soakUsage = `Usage: loadgen soak [flags]

A long mixed load on bin/userapi at a constant rate (make soak): -R, or
-knee-share of the API's mixed knee in -sweep, else in the latest
bench/results/sweep-*, else in a short calibration of its own (it says
which). Every -window it samples the server (RSS, heap, goroutines, GC,
connections), the client's latency and errors, and Cassandra's compactions;
at the end it reads back a sample of the acknowledged creates. Verdicts: RSS
drift <= 10% and last/first p99 <= 1.5x after -settle, goroutines back to
idle within -idle, no failed request, every sampled create intact. Exit
status 1 when a verdict fails (unless -strict=false).

Every flag falls back to the environment variable in brackets; docs/load-testing.md
explains the run and its report.

Flags:
`

func runSoak(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("loadgen soak", soakUsage, stderr)
	def := soak.Config{}.Defaults()
	cfg := soak.Config{Nodetool: strings.Fields(env.str("SOAK_NODETOOL", strings.Join(def.Nodetool, " ")))}
	harnessFlags(fs, &cfg.Config, def.Config, "SOAK", "soak-", false)
	var noNodetool, strict bool
	fs.DurationVar(&cfg.Duration, "d", env.dur("SOAK_DURATION", def.Duration), "how long the load `runs` [SOAK_DURATION]")
	fs.Float64Var(&cfg.Rate, "R", env.float("SOAK_RATE", 0), "constant `rate` in requests/s; 0: -knee-share of a sweep's knee, or of a calibration (see above) [SOAK_RATE]")
	fs.StringVar(&cfg.Sweep, "sweep", env.str("SOAK_SWEEP", ""), "a sweep's results.json `file` whose API knee (mixed scenario) sets the rate when -R is 0; default the latest bench/results/sweep-*, else a short calibration [SOAK_SWEEP]")
	fs.Float64Var(&cfg.KneeShare, "knee-share", env.float("SOAK_KNEE_SHARE", def.KneeShare), "`fraction` of the knee to run at [SOAK_KNEE_SHARE]")
	fs.IntVar(&cfg.Conns, "c", env.int("SOAK_CONNS", def.Conns), "`connections` [SOAK_CONNS]")
	fs.StringVar(&cfg.Mix, "mix", env.str("SOAK_MIX", def.Mix), "`weights` of the mixed load [SOAK_MIX]")
	fs.IntVar(&cfg.Warmup, "warmup", env.int("SOAK_WARMUP", def.Warmup), "`users` created before the load for the reads [SOAK_WARMUP]")
	fs.DurationVar(&cfg.Window, "window", env.dur("SOAK_WINDOW", def.Window), "sampling `interval` [SOAK_WINDOW]")
	fs.DurationVar(&cfg.Settle, "settle", env.dur("SOAK_SETTLE", 0), "`time` at the start left out of the RSS drift and first-window p99; default -d/6, at most 5m [SOAK_SETTLE]")
	fs.DurationVar(&cfg.Idle, "idle", env.dur("SOAK_IDLE", def.Idle), "how long after the load goroutines may `take` to return to the idle count [SOAK_IDLE]")
	fs.IntVar(&cfg.Verify, "verify", env.int("SOAK_VERIFY", def.Verify), "acknowledged creates to read back and compare at the end (a uniform `sample`) [SOAK_VERIFY]")
	fs.Var(fields{&cfg.Nodetool}, "nodetool", "`command` that runs nodetool [SOAK_NODETOOL]")
	fs.DurationVar(&cfg.NodetoolEvery, "nodetool-every", env.dur("SOAK_NODETOOL_EVERY", def.NodetoolEvery), "`interval` of nodetool compactionstats: a JVM start, about 3 CPU seconds, which shows in that window's p99 on a small machine [SOAK_NODETOOL_EVERY]")
	fs.BoolVar(&strict, "strict", true, "exit 1 when a verdict fails; -strict=false only reports (smoke runs, whose timing is noise)")
	fs.BoolVar(&noNodetool, "no-nodetool", false, "never run nodetool; thread pools are still read over CQL")
	fs.StringVar(&cfg.Keyspace, "keyspace", env.str("SOAK_KEYSPACE", def.Keyspace), "the API's `keyspace` [SOAK_KEYSPACE]")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if noNodetool {
		cfg.NodetoolEvery = -1
	}
	cfg.Log = stderr
	s, err := soak.Run(ctx, cfg)
	if err := wrote(stdout, s, err); err != nil {
		return err
	}
	if strict && !s.Holds() {
		return fmt.Errorf("soak: a verdict fails (see %s/report.md)", s.Dir)
	}
	return nil
}
