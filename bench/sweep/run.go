package sweep

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/userapi/userapi/bench/harness"
	"github.com/userapi/userapi/bench/load"
	"github.com/userapi/userapi/bench/report"
)

// Config is one capacity sweep (`loadgen sweep`, `make sweep`): per
// scenario, the API and the raw driver side by side, first closed-loop at
// rising concurrency, then open-loop at rising constant rates up to past
// the closed-loop peak. The knee is the highest rate whose p99 stays
// under P99Bound with every request answered on time.
type Config struct {
	harness.Config

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

	APIKeyspace, RawKeyspace string // default sweep_api, sweep_raw
}

// What a sweep runs.
var (
	Scenarios = []string{string(load.Get), string(load.Create), string(load.Mixed)}
	Modes     = []string{harness.ModeAPI, harness.ModeRaw}
)

// Step kinds.
const (
	KindConcurrency = "concurrency"
	KindRate        = "rate"
)

// Defaults returns c with every zero field set to its default.
func (c Config) Defaults() Config {
	c.Config = c.Config.Defaults("sweep-", 18483)
	load.Default(&c.Step, 5*time.Second)
	load.Default(&c.RateConns, 256)
	load.Default(&c.Mix, load.DefaultMixText)
	load.Default(&c.Warmup, 1000)
	load.Default(&c.P99Bound, 10*time.Millisecond)
	load.Default(&c.APIKeyspace, "sweep_api")
	load.Default(&c.RawKeyspace, "sweep_raw")
	if c.Concurrency == nil {
		c.Concurrency = []int{1, 4, 16, 64, 256, 1024}
	}
	if c.RateSteps == nil {
		c.RateSteps = []float64{0.1, 0.25, 0.5, 0.7, 0.8, 0.9, 1, 1.1, 1.25, 1.5}
	}
	if c.Scenarios == nil {
		c.Scenarios = Scenarios
	}
	if c.Modes == nil {
		c.Modes = Modes
	}
	return c
}

func (c Config) check() error {
	switch {
	case c.Step < 0:
		return load.FieldError("Step", "must be positive")
	case c.RateConns < 1:
		return load.FieldError("RateConns", "must be positive")
	case c.P99Bound < 0:
		return load.FieldError("P99Bound", "must be positive")
	case c.Warmup < 1:
		return load.FieldError("Warmup", "must be a positive integer, not %d", c.Warmup)
	}
	for _, n := range c.Concurrency {
		if n < 1 || n > 100000 {
			return load.FieldError("ConcurrencySteps", "%d is not between 1 and 100000", n)
		}
	}
	for _, r := range slices.Concat(c.Rates, c.RateSteps) {
		if r <= 0 {
			return load.FieldError("Rates", "%g is not a positive rate", r)
		}
	}
	if err := harness.CheckNames("Scenarios", "scenario", c.Scenarios, Scenarios); err != nil {
		return err
	}
	if err := harness.CheckNames("Modes", "mode", c.Modes, Modes); err != nil {
		return err
	}
	_, err := load.ParseMix(c.Mix)
	return err
}

// Run runs the sweep cfg describes and writes its directory: runs/,
// logs/, meta.json, and from Report.Write report.md, results.json and
// plots.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.Defaults()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	api := slices.Contains(cfg.Modes, harness.ModeAPI)
	r, err := harness.Start(ctx, cfg.Config, "sweep", harness.Needs{API: api, Loadgen: true, Cassandra: true})
	if err != nil {
		return nil, err
	}
	if _, err := report.WriteMeta(cfg.Out, cfg.meta()); err != nil {
		return nil, err
	}
	started := time.Now()
	var srv *harness.Server
	if api {
		if srv, err = r.StartAPI("api-sweep", cfg.APIKeyspace); err != nil {
			return nil, err
		}
		defer r.Stop(srv)
	}
	for _, scen := range cfg.Scenarios {
		for _, mode := range cfg.Modes {
			target := srv
			if mode == harness.ModeRaw {
				target = nil
			}
			step := func(c int, rate float64) (load.Summary, error) {
				kind, name := KindConcurrency, fmt.Sprintf("%s-%s-c%d", mode, scen, c)
				if rate > 0 {
					kind, name = KindRate, fmt.Sprintf("%s-%s-r%g", mode, scen, rate)
				}
				return r.RunLoad(harness.Load{Name: name, Raw: mode == harness.ModeRaw, Keyspace: cfg.RawKeyspace,
					Scenario: load.ParseScenario(scen), Mix: cfg.Mix, Conns: c, Duration: cfg.Step, Warmup: cfg.Warmup, Rate: rate,
					Labels: []string{"mode=" + mode, "scenario=" + scen, "kind=" + kind}, Server: target})
			}
			peak := 0.0
			for _, c := range cfg.Concurrency {
				sum, err := step(c, 0)
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
				if _, err := step(cfg.RateConns, rate); err != nil {
					return nil, err
				}
			}
		}
	}
	r.Logf("steps took %s", time.Since(started).Round(time.Second))
	s, err := Load(cfg.Out)
	if err != nil {
		return nil, err
	}
	if err := s.Write(); err != nil {
		return nil, err
	}
	r.Logf("report: %s", s.Path())
	for _, k := range s.Knees {
		r.Logf("%s", k.String(s.P99BoundMs))
	}
	return s, nil
}

// roundRate keeps two significant digits: rates a reader can compare.
func roundRate(r float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(r, 'g', 2, 64), 64)
	return max(v, 1)
}

func (c Config) meta() map[string]string {
	ints := make([]string, len(c.Concurrency))
	for i, n := range c.Concurrency {
		ints[i] = strconv.Itoa(n)
	}
	rates := "rate steps " + fmtFloats(c.RateSteps) + " x each mode's closed-loop peak"
	if len(c.Rates) > 0 {
		rates = fmtFloats(c.Rates) + " req/s"
	}
	return map[string]string{
		"step":         c.Step.String() + " per step",
		"concurrency":  strings.Join(ints, " "),
		"rates":        rates + fmt.Sprintf(", on %d connections", c.RateConns),
		"scenarios":    strings.Join(c.Scenarios, " ") + " (mixed: " + c.Mix + ")",
		"modes":        strings.Join(c.Modes, " "),
		"warm-up":      strconv.Itoa(c.Warmup) + " users created before each get and mixed step",
		metaP99Bound:   c.P99Bound.String(),
		"server":       strings.Join(append([]string{"bin/userapi"}, c.UserAPIFlags...), " ") + " (keyspace " + c.APIKeyspace + ")",
		"raw":          "loadgen raw, keyspace " + c.RawKeyspace + ", LOCAL_QUORUM, token-aware, 2 connections per host",
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
