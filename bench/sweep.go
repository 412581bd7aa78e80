package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SweepConfig is one capacity sweep (`loadgen sweep`, `make sweep`): per
// scenario, the API and the raw driver side by side, first closed-loop at
// rising concurrency, then open-loop at rising constant rates up to past
// the closed-loop peak. The knee is the highest rate whose p99 stays
// under P99Bound with every request answered on time.
type SweepConfig struct {
	Out     string // default bench/results/sweep-<UTC timestamp>
	UserAPI string // default bin/userapi
	Loadgen string // default this executable
	Hosts   string // default 127.0.0.1

	Step        time.Duration // each measured step; default 5s
	Concurrency []int         // closed-loop steps; default 1,4,16,64,256,1024
	// Rates are the open-loop steps in requests/s. Empty: RateSteps times
	// the mode's closed-loop peak for the scenario.
	Rates     []float64
	RateSteps []float64 // default 0.1,0.25,0.5,0.7,0.8,0.9,1,1.1,1.25,1.5
	RateConns int       // connections (raw: callers) of the rate steps; default 256

	Scenarios []string // of get, create, mixed; default all
	Modes     []string // of api, raw; default both
	Mix       string   // the mixed scenario's weights; default read=80,write=20
	Warmup    int      // users created before each get and mixed step; default 1000

	P99Bound time.Duration // default 10ms

	Port                     int // the API's port on 127.0.0.1; 0 picks a free one
	APIKeyspace, RawKeyspace string
	UserAPIFlags             []string

	Log io.Writer // progress lines; default stderr
}

// Sweep defaults.
var (
	DefaultSweepConcurrency = []int{1, 4, 16, 64, 256, 1024}
	DefaultRateSteps        = []float64{0.1, 0.25, 0.5, 0.7, 0.8, 0.9, 1, 1.1, 1.25, 1.5}
	SweepScenarios          = []string{ScenarioGet, ScenarioCreate, ScenarioMixed}
	SweepModes              = []string{ModeAPI, ModeRaw}
)

// Step kinds.
const (
	KindConcurrency = "concurrency"
	KindRate        = "rate"
)

func (cfg SweepConfig) withDefaults() (SweepConfig, error) {
	if cfg.Out == "" {
		cfg.Out = filepath.Join("bench", "results", "sweep-"+time.Now().UTC().Format("20060102T150405Z"))
	}
	if cfg.Step == 0 {
		cfg.Step = 5 * time.Second
	}
	if cfg.Step < 0 {
		return cfg, fieldErr("Step", "must be positive")
	}
	if len(cfg.Concurrency) == 0 {
		cfg.Concurrency = DefaultSweepConcurrency
	}
	for _, c := range cfg.Concurrency {
		if c < 1 || c > maxConcurrency {
			return cfg, fieldErr("Concurrency", "%d is not between 1 and %d", c, maxConcurrency)
		}
	}
	if len(cfg.RateSteps) == 0 {
		cfg.RateSteps = DefaultRateSteps
	}
	for _, r := range slices.Concat(cfg.Rates, cfg.RateSteps) {
		if r <= 0 {
			return cfg, fieldErr("Rates", "%g is not a positive rate", r)
		}
	}
	if cfg.RateConns == 0 {
		cfg.RateConns = 256
	}
	if cfg.RateConns < 1 {
		return cfg, fieldErr("RateConns", "must be positive")
	}
	if len(cfg.Scenarios) == 0 {
		cfg.Scenarios = SweepScenarios
	}
	for _, sc := range cfg.Scenarios {
		if !slices.Contains(SweepScenarios, sc) {
			return cfg, fieldErr("Scenarios", "unknown scenario %q (want %s)", sc, strings.Join(SweepScenarios, ", "))
		}
	}
	if len(cfg.Modes) == 0 {
		cfg.Modes = SweepModes
	}
	for _, m := range cfg.Modes {
		if !slices.Contains(SweepModes, m) {
			return cfg, fieldErr("Modes", "unknown mode %q (want %s)", m, strings.Join(SweepModes, ", "))
		}
	}
	if cfg.P99Bound == 0 {
		cfg.P99Bound = 10 * time.Millisecond
	}
	if cfg.P99Bound < 0 {
		return cfg, fieldErr("P99Bound", "must be positive")
	}
	if cfg.APIKeyspace == "" {
		cfg.APIKeyspace = "sweep_api"
	}
	if cfg.RawKeyspace == "" {
		cfg.RawKeyspace = "sweep_raw"
	}
	return cfg, nil
}

// harness is a suiteRun for the given modes: the suite's server start,
// readiness, stop and loadgen-process plumbing, shared by sweep, soak and
// the large-table run.
func harness(ctx context.Context, sc SuiteConfig) (*suiteRun, SuiteConfig, error) {
	sc, err := sc.withDefaults()
	if err != nil {
		return nil, sc, err
	}
	r := &suiteRun{cfg: sc, ctx: ctx, runs: filepath.Join(sc.Out, "runs"), dur: sc.Duration}
	for _, d := range []string{"runs", "logs"} {
		if err := os.MkdirAll(filepath.Join(sc.Out, d), 0o755); err != nil {
			return nil, sc, err
		}
	}
	return r, sc, r.check()
}

// RunSweep runs the sweep cfg describes and writes its directory: runs/,
// logs/, meta.json, and from WriteSweep report.md, results.json and plots.
func RunSweep(ctx context.Context, cfg SweepConfig) (*Sweep, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	r, sc, err := harness(ctx, SuiteConfig{Out: cfg.Out, UserAPI: cfg.UserAPI, Loadgen: cfg.Loadgen, Hosts: cfg.Hosts,
		Duration: cfg.Step, Warmup: cfg.Warmup, Mix: cfg.Mix, Modes: cfg.Modes, Port: cfg.Port,
		APIKeyspace: cfg.APIKeyspace, RawKeyspace: cfg.RawKeyspace, UserAPIFlags: cfg.UserAPIFlags, Log: cfg.Log})
	if err != nil {
		return nil, err
	}
	r.cfg.Log = logPrefix{sc.Log, "sweep: "}
	cfg.Mix = sc.Mix
	if err := writeJSON(filepath.Join(cfg.Out, "meta.json"), cfg.meta()); err != nil {
		return nil, err
	}
	r.logf("results in %s", cfg.Out)
	started := time.Now()
	var srv *server
	if slices.Contains(cfg.Modes, ModeAPI) {
		if srv, err = r.startServer(ModeAPI, "api-sweep"); err != nil {
			return nil, err
		}
		defer r.stop(srv)
	}
	for _, scen := range cfg.Scenarios {
		for _, mode := range cfg.Modes {
			target := srv
			if mode == ModeRaw {
				target = nil
			}
			peak := 0.0
			for _, c := range cfg.Concurrency {
				sum, err := r.sweepStep(cfg, mode, scen, target, c, 0)
				if err != nil {
					return nil, err
				}
				peak = max(peak, sum.RequestsPerSec)
			}
			rates := cfg.Rates
			if len(rates) == 0 {
				for _, f := range cfg.RateSteps {
					rates = append(rates, roundRate(f*peak))
				}
			}
			for _, rate := range rates {
				if _, err := r.sweepStep(cfg, mode, scen, target, cfg.RateConns, rate); err != nil {
					return nil, err
				}
			}
		}
	}
	r.logf("steps took %s", time.Since(started).Round(time.Second))
	s, err := LoadSweep(cfg.Out)
	if err != nil {
		return nil, err
	}
	if err := s.Write(); err != nil {
		return nil, err
	}
	r.logf("report: %s", filepath.Join(cfg.Out, "report.md"))
	for _, k := range s.Knees {
		r.logf("%s", k.String(s.P99BoundMs))
	}
	return s, nil
}

// logPrefix turns the suite's "suite: " lines into the caller's.
type logPrefix struct {
	w      io.Writer
	prefix string
}

func (l logPrefix) Write(b []byte) (int, error) {
	if _, err := l.w.Write([]byte(strings.Replace(string(b), "suite: ", l.prefix, 1))); err != nil {
		return 0, err
	}
	return len(b), nil
}

// roundRate keeps two significant digits: rates a reader can compare.
func roundRate(r float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(r, 'g', 2, 64), 64)
	return max(v, 1)
}

// sweepStep runs one step as a loadgen process: closed-loop at c when
// rate is 0, else at the constant rate on c connections.
func (r *suiteRun) sweepStep(cfg SweepConfig, mode, scen string, srv *server, c int, rate float64) (Summary, error) {
	kind, name := KindConcurrency, fmt.Sprintf("%s-%s-c%d", mode, scen, c)
	if rate > 0 {
		kind, name = KindRate, fmt.Sprintf("%s-%s-r%g", mode, scen, rate)
	}
	var args []string
	if srv == nil {
		args = []string{"raw", "-keyspace", cfg.RawKeyspace, "-hosts", cfg.Hosts}
	}
	switch scen {
	case ScenarioMixed:
		args = append(args, "-scenario", "mix", "-mix", cfg.Mix)
	default:
		args = append(args, "-scenario", scen)
	}
	args = append(args, "-c", strconv.Itoa(c), "-d", cfg.Step.String(), "-warmup", strconv.Itoa(cfg.Warmup), "-q", "-format", "wrk",
		"-label", "mode="+mode, "-label", "scenario="+scen, "-label", "kind="+kind)
	if rate > 0 {
		args = append(args, "-R", strconv.FormatFloat(rate, 'f', -1, 64), "-timeout", "5s")
	}
	out := filepath.Join(r.runs, name+".json")
	args = append(args, "-out", out)
	if srv != nil {
		args = append(args, "-pid", strconv.Itoa(srv.p.PID()), srv.url)
	}
	if err := r.runLoadgen(name, nil, args, out); err != nil {
		return Summary{}, err
	}
	return readSummary(out)
}

func readSummary(path string) (Summary, error) {
	var s Summary
	b, err := os.ReadFile(path)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func (cfg SweepConfig) meta() map[string]string {
	ints := make([]string, len(cfg.Concurrency))
	for i, c := range cfg.Concurrency {
		ints[i] = strconv.Itoa(c)
	}
	rates := "rate steps " + fmtFloats(cfg.RateSteps) + " x each mode's closed-loop peak"
	if len(cfg.Rates) > 0 {
		rates = fmtFloats(cfg.Rates) + " req/s"
	}
	return map[string]string{
		"started":      time.Now().UTC().Format(time.RFC3339),
		"git":          gitVersion(),
		"machine":      machine(),
		"go":           runtime.Version(),
		"step":         cfg.Step.String() + " per step",
		"concurrency":  strings.Join(ints, " "),
		"rates":        rates + fmt.Sprintf(", on %d connections", cfg.RateConns),
		"scenarios":    strings.Join(cfg.Scenarios, " ") + " (mixed: " + cfg.Mix + ")",
		"modes":        strings.Join(cfg.Modes, " "),
		"warm-up":      strconv.Itoa(cfg.Warmup) + " users created before each get and mixed step",
		metaP99Bound:   cfg.P99Bound.String(),
		"server":       strings.Join(append([]string{"bin/userapi"}, cfg.UserAPIFlags...), " ") + " (keyspace " + cfg.APIKeyspace + ")",
		"raw":          "loadgen raw, keyspace " + cfg.RawKeyspace + ", LOCAL_QUORUM, token-aware, 2 connections per host",
		"client":       "loadgen on all cores beside the server and Cassandra (one machine)",
		"rate latency": "from each request's intended send time (no coordinated omission)",
	}
}

const metaP99Bound = "p99 bound"

func fmtFloats(v []float64) string {
	s := make([]string, len(v))
	for i, f := range v {
		s[i] = strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strings.Join(s, " ")
}
