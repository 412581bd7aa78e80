package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/userapi/userapi/bench/sweep"
)

const sweepUsage = `Usage: loadgen sweep [flags]

The capacity sweep (make sweep): per scenario, the API and loadgen raw side
by side, closed loop at each -concurrency, then open loop at constant rates
(-rates, or -rate-steps times the mode's closed-loop peak). The knee is the
highest offered rate whose step held p99 <= -p99-bound with at least 95% of
it answered, nothing unsent, no error and no non-2xx. Results go to -out:
report.md, results.json (what loadgen soak reads), plots, meta.json, runs/.

Every flag falls back to the environment variable in brackets; docs/load-testing.md
explains the run and its report.

Flags:
`

func runSweep(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("loadgen sweep", sweepUsage, stderr)
	def := sweep.Config{}.Defaults()
	cfg := sweep.Config{Modes: strings.Fields(env.str("SWEEP_MODES", strings.Join(def.Modes, " "))),
		Scenarios: strings.Fields(env.str("SWEEP_SCENARIOS", strings.Join(def.Scenarios, " ")))}
	harnessFlags(fs, &cfg.Config, def.Config, "SWEEP", "sweep-", true)
	var conc, rates, steps string
	fs.DurationVar(&cfg.Step, "d", env.dur("SWEEP_STEP", def.Step), "each step's measured `duration` [SWEEP_STEP]")
	fs.StringVar(&conc, "concurrency", env.str("SWEEP_CONCURRENCY", strings.Trim(fmt.Sprint(def.Concurrency), "[]")), "closed-loop steps: `list` of connection counts [SWEEP_CONCURRENCY]")
	fs.StringVar(&rates, "rates", env.str("SWEEP_RATES", ""), "open-loop steps: `list` of req/s; empty: -rate-steps times each mode's closed-loop peak [SWEEP_RATES]")
	fs.StringVar(&steps, "rate-steps", env.str("SWEEP_RATE_STEPS", strings.Trim(fmt.Sprint(def.RateSteps), "[]")), "`fractions` of the closed-loop peak to offer when -rates is empty; above 1 is past saturation [SWEEP_RATE_STEPS]")
	fs.IntVar(&cfg.RateConns, "rate-c", env.int("SWEEP_RATE_CONNS", def.RateConns), "`connections` (raw: callers) of the rate steps: enough that the schedule, not the pool, sets the pace [SWEEP_RATE_CONNS]")
	fs.DurationVar(&cfg.P99Bound, "p99-bound", env.dur("SWEEP_P99_BOUND", def.P99Bound), "the knee's p99 `bound`: a rate holds when its p99 is at most this [SWEEP_P99_BOUND]")
	fs.Var(fields{&cfg.Scenarios}, "scenarios", "`list` of get, create, mixed [SWEEP_SCENARIOS]")
	fs.Var(fields{&cfg.Modes}, "modes", "`list` of api, raw [SWEEP_MODES]")
	fs.StringVar(&cfg.Mix, "mix", env.str("SWEEP_MIX", def.Mix), "the mixed scenario's `weights` [SWEEP_MIX]")
	fs.IntVar(&cfg.Warmup, "warmup", env.int("SWEEP_WARMUP", def.Warmup), "`users` created before each get and mixed step [SWEEP_WARMUP]")
	fs.StringVar(&cfg.APIKeyspace, "api-keyspace", env.str("SWEEP_API_KEYSPACE", def.APIKeyspace), "the API's `keyspace` [SWEEP_API_KEYSPACE]")
	fs.StringVar(&cfg.RawKeyspace, "raw-keyspace", env.str("SWEEP_RAW_KEYSPACE", def.RawKeyspace), "raw mode's `keyspace` [SWEEP_RAW_KEYSPACE]")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if err := positive(fs, "warmup"); err != nil {
		return err
	}
	var err error
	if cfg.Concurrency, err = list("concurrency", conc, strconv.Atoi); err != nil {
		return err
	}
	if cfg.Rates, err = list("rates", rates, parseFloat); err != nil {
		return err
	}
	if cfg.RateSteps, err = list("rate-steps", steps, parseFloat); err != nil {
		return err
	}
	cfg.Log = stderr
	s, err := sweep.Run(ctx, cfg)
	return wrote(stdout, s, err)
}
