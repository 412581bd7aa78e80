package sweep

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/userapi/userapi/bench/harness"
	"github.com/userapi/userapi/bench/load"
	"github.com/userapi/userapi/bench/report"
	"gonum.org/v1/plot/plotter"
)

// Step is one step of a sweep, condensed.
type Step struct {
	File           string  `json:"file"`
	Mode           string  `json:"mode"`
	Scenario       string  `json:"scenario"`
	Kind           string  `json:"kind"` // concurrency or rate
	Concurrency    int     `json:"concurrency"`
	Rate           float64 `json:"rate,omitempty"` // rate steps: the offered rate
	RequestsPerSec float64 `json:"requests_per_sec"`
	P50            float64 `json:"p50_ms"`
	P99            float64 `json:"p99_ms"`
	P999           float64 `json:"p99_9_ms"`
	Errors         int64   `json:"errors"`
	Non2xx         int64   `json:"non_2xx"`
	Unsent         int64   `json:"unsent,omitempty"`
	// Holds, for a rate step: the rate was served (>= 95% of it answered,
	// nothing unsent, no error or non-2xx) with p99 within the bound.
	Holds bool `json:"holds,omitempty"`
}

// Knee is the highest offered rate at which a mode held the p99 bound.
type Knee struct {
	Mode           string  `json:"mode"`
	Scenario       string  `json:"scenario"`
	Found          bool    `json:"found"`
	Rate           float64 `json:"rate"` // offered req/s; 0 when not found
	RequestsPerSec float64 `json:"requests_per_sec"`
	P99            float64 `json:"p99_ms"`
	// Peak is the most req/s any step of the mode reached (closed-loop
	// or open-loop), whatever its latency.
	Peak float64 `json:"peak_requests_per_sec"`
	// Saturated says whether some rate step failed to hold: whether the
	// sweep went past the knee rather than stopping short of it.
	Saturated bool `json:"saturated"`
}

// String is the knee as one line.
func (k Knee) String(boundMs float64) string {
	if !k.Found {
		return fmt.Sprintf("knee %s %s: no rate step held p99 <= %g ms (peak %.0f req/s)", k.Scenario, harness.Title(k.Mode), boundMs, k.Peak)
	}
	s := fmt.Sprintf("knee %s %s: %.0f req/s offered (%.0f answered, p99 %.2f ms <= %g ms); peak %.0f req/s",
		k.Scenario, harness.Title(k.Mode), k.Rate, k.RequestsPerSec, k.P99, boundMs, k.Peak)
	if !k.Saturated {
		s += "; every rate held: the knee is above the highest rate tried"
	}
	return s
}

// Report is a sweep directory, aggregated.
type Report struct {
	report.Header
	P99BoundMs float64 `json:"p99_bound_ms"`
	Knees      []Knee  `json:"knees"`
	Steps      []Step  `json:"steps"`
}

// Knee returns the knee of mode and scenario, or false.
func (s *Report) Knee(mode, scenario string) (Knee, bool) {
	for _, k := range s.Knees {
		if k.Mode == mode && k.Scenario == scenario {
			return k, true
		}
	}
	return Knee{}, false
}

// Load reads a sweep directory (meta.json, runs/*.json) and names the
// knees. The p99 bound comes from meta.json.
func Load(dir string) (*Report, error) {
	s := &Report{Header: report.Header{Dir: dir, Generated: time.Now().UTC()}}
	if err := report.ReadJSON(filepath.Join(dir, "meta.json"), &s.Meta); err != nil {
		return nil, fmt.Errorf("a sweep directory needs meta.json: %w", err)
	}
	bound, err := time.ParseDuration(s.Meta[metaP99Bound])
	if err != nil {
		return nil, fmt.Errorf("meta.json: %q: %w", metaP99Bound, err)
	}
	s.P99BoundMs = float64(bound) / float64(time.Millisecond)
	files, err := filepath.Glob(filepath.Join(dir, "runs", "*.json"))
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		var sum load.Summary
		if err := report.ReadJSON(f, &sum); err != nil {
			return nil, err
		}
		s.Steps = append(s.Steps, Step{
			File: filepath.Base(f), Mode: sum.Labels["mode"], Scenario: sum.Labels["scenario"], Kind: sum.Labels["kind"],
			Concurrency: sum.Concurrency, Rate: sum.Rate, RequestsPerSec: sum.RequestsPerSec,
			P50: sum.Latency.At(50), P99: sum.Latency.At(99), P999: sum.Latency.At(99.9),
			Errors: sum.Errors, Non2xx: sum.Non2xx, Unsent: sum.Unsent,
		})
	}
	if len(s.Steps) == 0 {
		return nil, fmt.Errorf("no runs in %s", filepath.Join(dir, "runs"))
	}
	s.aggregate()
	return s, nil
}

func (s *Report) aggregate() {
	slices.SortFunc(s.Steps, func(a, b Step) int {
		switch {
		case a.Scenario != b.Scenario:
			return strings.Compare(harness.ScenarioRank(a.Scenario), harness.ScenarioRank(b.Scenario))
		case a.Mode != b.Mode:
			return harness.ModeRank(a.Mode) - harness.ModeRank(b.Mode)
		case a.Kind != b.Kind:
			return strings.Compare(a.Kind, b.Kind) // concurrency before rate
		case a.Kind == KindRate:
			return cmp.Compare(a.Rate, b.Rate)
		}
		return a.Concurrency - b.Concurrency
	})
	s.Knees = nil
	knee := map[[2]string]int{} // mode and scenario: index in s.Knees
	for i := range s.Steps {
		st := &s.Steps[i]
		st.Holds = st.Kind == KindRate && st.holds(s.P99BoundMs)
		j, ok := knee[[2]string{st.Mode, st.Scenario}]
		if !ok {
			j, knee[[2]string{st.Mode, st.Scenario}] = len(s.Knees), len(s.Knees)
			s.Knees = append(s.Knees, Knee{Mode: st.Mode, Scenario: st.Scenario})
		}
		k := &s.Knees[j]
		k.Peak = max(k.Peak, st.RequestsPerSec)
		if st.Kind == KindRate {
			if st.Holds && st.Rate > k.Rate {
				k.Found, k.Rate, k.RequestsPerSec, k.P99 = true, st.Rate, st.RequestsPerSec, st.P99
			}
			k.Saturated = k.Saturated || !st.Holds
		}
	}
}

// holds says whether a rate step was served within the bound.
func (st Step) holds(boundMs float64) bool {
	return Holds(st.Errors+st.Non2xx+st.Unsent, st.Rate, st.RequestsPerSec, st.P99, boundMs)
}

// Holds is the knee's rule for a load offered at rate: it was served (at
// least 95% of it answered, nothing unsent, no error or non-2xx; failed
// counts those) with p99 within the bound.
func Holds(failed int64, rate, answered, p99, boundMs float64) bool {
	return failed == 0 && answered >= 0.95*rate && p99 > 0 && p99 <= boundMs
}

func (s *Report) scenarios() []string {
	return harness.Distinct(s.Steps, func(st Step) string { return st.Scenario })
}

func (s *Report) steps(mode, scenario, kind string) []Step {
	var out []Step
	for _, st := range s.Steps {
		if st.Mode == mode && st.Scenario == scenario && st.Kind == kind {
			out = append(out, st)
		}
	}
	return out
}

func (s *Report) modes() []string {
	return harness.Modes(harness.Distinct(s.Steps, func(st Step) string { return st.Mode }))
}

// Write writes results.json, the plots and report.md into s.Dir.
func (s *Report) Write() error {
	var plots []report.Plot
	for _, sc := range s.scenarios() {
		plots = append(plots, report.Plot{Base: "knee-" + sc, Chart: s.kneeChart(sc)},
			report.Plot{Base: "concurrency-" + sc, Chart: s.concurrencyChart(sc)})
	}
	return report.Write(s.Dir, s, plots, s.document)
}

// kneeChart is p50 and p99 against answered req/s over the rate steps,
// one pair of lines per mode, with the bound.
func (s *Report) kneeChart(sc string) report.Chart {
	c := report.Chart{Title: "Latency against throughput (constant rates): " + sc, X: "answered requests / s",
		Y: "ms from intended send (log)", LogY: true}
	top := 0.0
	for _, m := range s.modes() {
		var p50, p99 plotter.XYs
		for _, st := range s.steps(m, sc, KindRate) {
			p50 = append(p50, plotter.XY{X: st.RequestsPerSec, Y: st.P50})
			p99 = append(p99, plotter.XY{X: st.RequestsPerSec, Y: st.P99})
			top = max(top, st.RequestsPerSec)
		}
		c.Lines = append(c.Lines, report.Series{Name: harness.Title(m) + " p99", Pts: p99}, report.Series{Name: harness.Title(m) + " p50", Pts: p50})
	}
	if top > 0 {
		c.Refs = []report.Series{{Name: fmt.Sprintf("p99 bound %g ms", s.P99BoundMs), Pts: plotter.XYs{{X: 0, Y: s.P99BoundMs}, {X: top, Y: s.P99BoundMs}}}}
	}
	return c
}

// concurrencyChart is closed-loop throughput against concurrency.
func (s *Report) concurrencyChart(sc string) report.Chart {
	c := report.Chart{Title: "Throughput against concurrency (closed loop): " + sc, X: "connections (log)", Y: "requests / s", LogX: true}
	for _, m := range s.modes() {
		var pts plotter.XYs
		for _, st := range s.steps(m, sc, KindConcurrency) {
			pts = append(pts, plotter.XY{X: float64(st.Concurrency), Y: st.RequestsPerSec})
		}
		c.Lines = append(c.Lines, report.Series{Name: harness.Title(m), Pts: pts})
	}
	return c
}

func (s *Report) document(plots []string) *report.Document {
	d := report.NewDocument("Capacity sweep", s.Header, fmt.Sprintf("Each step is one run; rate steps count latency from each request's intended send time. "+
		"The **knee** is the highest offered rate whose step held: p99 <= %g ms, at least 95%% of the rate answered, "+
		"nothing unsent, no error and no non-2xx.", s.P99BoundMs))
	d.Printf("## Knees\n\n")
	d.Table("scenario", "mode", "knee (offered req/s)", "answered req/s", "p99 ms at the knee", "peak req/s", "past saturation")
	for _, k := range s.Knees {
		knee, ans, p99 := "none held", "—", "—"
		if k.Found {
			knee, ans, p99 = fmt.Sprintf("%.0f", k.Rate), fmt.Sprintf("%.0f", k.RequestsPerSec), report.Ms(k.P99)
		}
		past := "yes"
		if !k.Saturated {
			past = "no: every rate held, raise -rate-steps"
		}
		d.Row(k.Scenario, harness.Title(k.Mode), knee, ans, p99, fmt.Sprintf("%.0f", k.Peak), past)
	}
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	for _, sc := range s.scenarios() {
		d.Printf("\n## %s\n\n### Closed loop: rising concurrency\n\n", sc)
		d.Table("mode", "connections", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "errors", "non-2xx")
		for _, m := range s.modes() {
			for _, st := range s.steps(m, sc, KindConcurrency) {
				d.Row(harness.Title(m), strconv.Itoa(st.Concurrency), fmt.Sprintf("%.0f", st.RequestsPerSec),
					report.Ms(st.P50), report.Ms(st.P99), report.Ms(st.P999), n(st.Errors), n(st.Non2xx))
			}
		}
		d.Printf("\n### Open loop: rising constant rate\n\n")
		d.Table("mode", "offered req/s", "answered req/s", "p50 ms", "p99 ms", "p99.9 ms", "unsent", "errors", "non-2xx", "holds")
		for _, m := range s.modes() {
			for _, st := range s.steps(m, sc, KindRate) {
				holds := map[bool]string{true: "yes", false: "no"}[st.Holds]
				d.Row(harness.Title(m), fmt.Sprintf("%.0f", st.Rate), fmt.Sprintf("%.0f", st.RequestsPerSec),
					report.Ms(st.P50), report.Ms(st.P99), report.Ms(st.P999), n(st.Unsent), n(st.Errors), n(st.Non2xx), holds)
			}
		}
	}
	d.Plots(plots)
	return d
}

// Read reads a sweep's results.json.
func Read(path string) (*Report, error) {
	var s Report
	if err := report.ReadJSON(path, &s); err != nil {
		return nil, err
	}
	s.Dir = filepath.Dir(path)
	return &s, nil
}
