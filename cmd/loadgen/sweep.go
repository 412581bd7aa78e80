package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/userapi/userapi/bench"
)

const sweepUsage = `Usage: loadgen sweep [flags]

The capacity sweep (make sweep). For each scenario, the API (bin/userapi)
and the raw driver (loadgen raw) side by side:

  1. closed loop at each -concurrency: throughput, p50, p99, p99.9;
  2. open loop at rising constant rates: -rates, or -rate-steps times the
     mode's closed-loop peak (past 1 means past saturation), latency from
     each request's intended send time.

The knee, per mode and scenario, is the highest offered rate whose step held:
p99 <= -p99-bound, at least 95% of the rate answered, nothing unsent, no
error and no non-2xx. Results go to -out: runs/ (one loadgen JSON summary per
step), logs/, meta.json, report.md (knees, every step), results.json (read
by loadgen soak -sweep) and plots of latency against throughput (the knee)
and throughput against concurrency. Cassandra must answer (make
cassandra-up); bin/userapi must be built (make build).

Every flag falls back to the environment variable in brackets.

Flags:
`

func runSweep(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("loadgen sweep", sweepUsage, stderr)
	var (
		cfg                                      bench.SweepConfig
		conc, rates, steps, scenarios, modes, uf string
	)
	e := envFlags{}
	fs.StringVar(&cfg.Out, "out", e.str("SWEEP_OUT", ""), "results `directory` [SWEEP_OUT] (default bench/results/sweep-<UTC timestamp>)")
	fs.DurationVar(&cfg.Step, "d", e.dur("SWEEP_STEP", 5*time.Second), "each step's measured `duration` [SWEEP_STEP]")
	fs.StringVar(&conc, "concurrency", e.str("SWEEP_CONCURRENCY", "1 4 16 64 256 1024"), "closed-loop steps: `list` of connection counts [SWEEP_CONCURRENCY]")
	fs.StringVar(&rates, "rates", e.str("SWEEP_RATES", ""), "open-loop steps: `list` of req/s; empty: -rate-steps times each mode's closed-loop peak [SWEEP_RATES]")
	fs.StringVar(&steps, "rate-steps", e.str("SWEEP_RATE_STEPS", "0.1 0.25 0.5 0.7 0.8 0.9 1 1.1 1.25 1.5"), "`fractions` of the closed-loop peak to offer when -rates is empty; above 1 is past saturation [SWEEP_RATE_STEPS]")
	fs.IntVar(&cfg.RateConns, "rate-c", e.int("SWEEP_RATE_CONNS", 256), "`connections` (raw: callers) of the rate steps: enough that the schedule, not the pool, sets the pace [SWEEP_RATE_CONNS]")
	fs.DurationVar(&cfg.P99Bound, "p99-bound", e.dur("SWEEP_P99_BOUND", 10*time.Millisecond), "the knee's p99 `bound`: a rate holds when its p99 is at most this [SWEEP_P99_BOUND]")
	fs.StringVar(&scenarios, "scenarios", e.str("SWEEP_SCENARIOS", strings.Join(bench.SweepScenarios, " ")), "`list` of get, create, mixed [SWEEP_SCENARIOS]")
	fs.StringVar(&modes, "modes", e.str("SWEEP_MODES", "api raw"), "`list` of api, raw [SWEEP_MODES]")
	fs.StringVar(&cfg.Mix, "mix", e.str("SWEEP_MIX", "read=80,write=20"), "the mixed scenario's `weights` [SWEEP_MIX]")
	fs.IntVar(&cfg.Warmup, "warmup", e.int("SWEEP_WARMUP", 1000), "`users` created before each get and mixed step [SWEEP_WARMUP]")
	fs.IntVar(&cfg.Port, "port", e.int("SWEEP_PORT", 18483), "the API's `port` on 127.0.0.1; 0 picks a free one [SWEEP_PORT]")
	fs.StringVar(&cfg.APIKeyspace, "api-keyspace", e.str("SWEEP_API_KEYSPACE", "sweep_api"), "the API's `keyspace` [SWEEP_API_KEYSPACE]")
	fs.StringVar(&cfg.RawKeyspace, "raw-keyspace", e.str("SWEEP_RAW_KEYSPACE", "sweep_raw"), "raw mode's `keyspace` [SWEEP_RAW_KEYSPACE]")
	fs.StringVar(&uf, "userapi-flags", e.str("BENCH_USERAPI_FLAGS", ""), "extra `flags` for the API [BENCH_USERAPI_FLAGS]")
	fs.StringVar(&cfg.UserAPI, "userapi", e.str("BENCH_USERAPI", "bin/userapi"), "the server `binary` [BENCH_USERAPI]")
	fs.StringVar(&cfg.Loadgen, "loadgen", e.str("BENCH_LOADGEN", ""), "the loadgen `binary` that drives each step (default this one) [BENCH_LOADGEN]")
	fs.StringVar(&cfg.Hosts, "hosts", e.str("CASSANDRA_HOSTS", "127.0.0.1"), "Cassandra contact `points` [CASSANDRA_HOSTS]")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	var err error
	if cfg.Concurrency, err = intList("concurrency", conc); err != nil {
		return err
	}
	if cfg.Rates, err = floatList("rates", rates); err != nil {
		return err
	}
	if cfg.RateSteps, err = floatList("rate-steps", steps); err != nil {
		return err
	}
	if cfg.Warmup < 1 {
		return badFlag("warmup", "must be a positive integer, not %d", cfg.Warmup)
	}
	cfg.Scenarios, cfg.Modes, cfg.UserAPIFlags = strings.Fields(scenarios), strings.Fields(modes), strings.Fields(uf)
	cfg.Log = stderr
	s, err := bench.RunSweep(ctx, cfg)
	if err != nil {
		return asUsage(err)
	}
	fmt.Fprintf(stdout, "wrote %s/report.md\n", s.Dir)
	return nil
}

// envFlags reads flag defaults from the environment.
type envFlags struct{}

func (envFlags) str(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func (envFlags) int(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return n
	}
	return def
}

func (envFlags) dur(name string, def time.Duration) time.Duration {
	if d, err := parseSeconds(os.Getenv(name)); err == nil {
		return d
	}
	return def
}

func (envFlags) float(name string, def float64) float64 {
	if f, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil {
		return f
	}
	return def
}

// intList reads "1 4 16" or "1,4,16".
func intList(flag, s string) ([]int, error) {
	var out []int
	for _, f := range strings.FieldsFunc(s, isListSep) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, badFlag(flag, "%q is not a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func floatList(flag, s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.FieldsFunc(s, isListSep) {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v <= 0 {
			return nil, badFlag(flag, "%q is not a positive number", f)
		}
		out = append(out, v)
	}
	return out, nil
}

func isListSep(r rune) bool { return r == ',' || r == ' ' }
