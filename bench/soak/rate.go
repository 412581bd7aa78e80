package soak

import (
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/userapi/userapi/bench/harness"
	"github.com/userapi/userapi/bench/load"
	"github.com/userapi/userapi/bench/sweep"
)

// Results is where the sweeps a soak takes its rate from are found.
const Results = "bench/results"

// pickRate is the soak's rate when none is given: KneeShare of the API's
// mixed knee in cfg.Sweep, else in the latest sweep under bench/results,
// else in a short calibration of its own against srv. It logs which.
func (r *soakRun) pickRate(url string, mix load.Mix) (float64, error) {
	path, from := r.cfg.Sweep, ""
	if path == "" {
		found, _ := filepath.Glob(filepath.Join(Results, "sweep-*", "results.json"))
		if len(found) > 0 {
			path, from = slices.Max(found), " (the latest sweep under "+Results+")" // names sort by their UTC timestamp
		}
	}
	if path != "" {
		s, err := sweep.Read(path)
		if err != nil {
			return 0, load.FieldError("Sweep", "%v", err)
		}
		k, ok := s.Knee(harness.ModeAPI, string(load.Mixed))
		if !ok || !k.Found {
			return 0, load.FieldError("Sweep", "%s names no API knee for the mixed scenario; give a rate", path)
		}
		rate := r.cfg.KneeShare * k.Rate
		r.Logf("%.0f req/s, %.0f%% of the API's knee %.0f req/s in %s%s", rate, 100*r.cfg.KneeShare, k.Rate, path, from)
		return rate, nil
	}
	knee, err := r.calibrate(url, mix)
	if err != nil {
		return 0, err
	}
	rate := r.cfg.KneeShare * knee
	r.Logf("%.0f req/s, %.0f%% of the knee %.0f req/s of its own calibration (no sweep under %s; make sweep gives a better one)",
		rate, 100*r.cfg.KneeShare, knee, Results)
	return rate, nil
}

// calibrate is a sweep in miniature on the soak's own server: the mixed
// load's closed-loop peak on Conns connections, then constant rates at
// fractions of it, 3 s each; the knee is the highest that held p99 <=
// calibrationBound by the sweep's rule, else the lowest rate tried.
func (r *soakRun) calibrate(url string, mix load.Mix) (float64, error) {
	const step = 3 * time.Second
	run := func(rate float64) (*load.Result, error) {
		return load.Run(r.Ctx, load.Config{URL: url, KeepAlive: true, Load: load.Load{Duration: step, Rate: rate,
			Concurrency: r.cfg.Conns, Timeout: 5 * time.Second, Scenario: load.Mixed, Mix: mix, Warmup: r.cfg.Warmup}})
	}
	r.Logf("no rate and no sweep: calibrating, %s closed loop then %s at each of 30%% 50%% 70%% 90%% of its peak", step, step)
	peak, err := run(0)
	if err != nil {
		return 0, fmt.Errorf("calibration: %w", err)
	}
	knee := 0.0
	for _, f := range []float64{0.3, 0.5, 0.7, 0.9} {
		rate := max(1, f*peak.RequestsPerSec())
		res, err := run(rate)
		if err != nil {
			return 0, fmt.Errorf("calibration: %w", err)
		}
		p99 := load.PercentileMs(res.Latency, 99)
		held := sweep.Holds(res.ErrorCount()+res.Non2xx()+res.Unsent, rate, res.RequestsPerSec(), p99, calibrationBound)
		r.Logf("calibration: %.0f req/s offered, %.0f answered, p99 %.2f ms: held %v", rate, res.RequestsPerSec(), p99, held)
		if !held {
			if knee == 0 {
				knee = rate // not even the lowest held: soak below it
			}
			break
		}
		knee = rate
	}
	return knee, nil
}

// calibrationBound is the sweep's default p99 bound.
const calibrationBound = 10.0
