package bench

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"gonum.org/v1/plot/plotter"
)

// SweepStep is one step of a sweep, condensed.
type SweepStep struct {
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
		return fmt.Sprintf("knee %s %s: no rate step held p99 <= %g ms (peak %.0f req/s)", k.Scenario, title(k.Mode), boundMs, k.Peak)
	}
	s := fmt.Sprintf("knee %s %s: %.0f req/s offered (%.0f answered, p99 %.2f ms <= %g ms); peak %.0f req/s",
		k.Scenario, title(k.Mode), k.Rate, k.RequestsPerSec, k.P99, boundMs, k.Peak)
	if !k.Saturated {
		s += "; every rate held: the knee is above the highest rate tried"
	}
	return s
}

// Sweep is a sweep directory, aggregated.
type Sweep struct {
	Dir        string            `json:"-"`
	Generated  time.Time         `json:"generated"`
	Meta       map[string]string `json:"meta,omitempty"`
	P99BoundMs float64           `json:"p99_bound_ms"`
	Knees      []Knee            `json:"knees"`
	Steps      []SweepStep       `json:"steps"`
}

// Knee returns the knee of mode and scenario, or false.
func (s *Sweep) Knee(mode, scenario string) (Knee, bool) {
	for _, k := range s.Knees {
		if k.Mode == mode && k.Scenario == scenario {
			return k, true
		}
	}
	return Knee{}, false
}

// LoadSweep reads a sweep directory (meta.json, runs/*.json) and names the
// knees. The p99 bound comes from meta.json.
func LoadSweep(dir string) (*Sweep, error) {
	s := &Sweep{Dir: dir, Generated: time.Now().UTC()}
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		return nil, fmt.Errorf("a sweep directory needs meta.json: %w", err)
	}
	if err := json.Unmarshal(b, &s.Meta); err != nil {
		return nil, fmt.Errorf("meta.json: %w", err)
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
		sum, err := readSummary(f)
		if err != nil {
			return nil, err
		}
		s.Steps = append(s.Steps, SweepStep{
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

func (s *Sweep) aggregate() {
	slices.SortFunc(s.Steps, func(a, b SweepStep) int {
		switch {
		case a.Scenario != b.Scenario:
			return strings.Compare(scenarioRank(a.Scenario), scenarioRank(b.Scenario))
		case a.Mode != b.Mode:
			return modeRank(a.Mode) - modeRank(b.Mode)
		case a.Kind != b.Kind:
			return strings.Compare(a.Kind, b.Kind) // concurrency before rate
		case a.Kind == KindRate:
			return cmp.Compare(a.Rate, b.Rate)
		}
		return a.Concurrency - b.Concurrency
	})
	s.Knees = nil
	for i := range s.Steps {
		st := &s.Steps[i]
		st.Holds = st.Kind == KindRate && st.holds(s.P99BoundMs)
		k, ok := s.Knee(st.Mode, st.Scenario)
		if !ok {
			k = Knee{Mode: st.Mode, Scenario: st.Scenario}
		}
		k.Peak = max(k.Peak, st.RequestsPerSec)
		if st.Kind == KindRate {
			if st.Holds && st.Rate > k.Rate {
				k.Found, k.Rate, k.RequestsPerSec, k.P99 = true, st.Rate, st.RequestsPerSec, st.P99
			}
			k.Saturated = k.Saturated || !st.Holds
		}
		if ok {
			s.Knees[slices.IndexFunc(s.Knees, func(x Knee) bool { return x.Mode == k.Mode && x.Scenario == k.Scenario })] = k
		} else {
			s.Knees = append(s.Knees, k)
		}
	}
}

// holds says whether a rate step was served within the bound.
func (st SweepStep) holds(boundMs float64) bool {
	return st.Errors == 0 && st.Non2xx == 0 && st.Unsent == 0 &&
		st.RequestsPerSec >= 0.95*st.Rate && st.P99 > 0 && st.P99 <= boundMs
}

func (s *Sweep) scenarios() []string {
	return distinct(s.Steps, func(st SweepStep) string { return st.Scenario })
}

func (s *Sweep) steps(mode, scenario, kind string) []SweepStep {
	var out []SweepStep
	for _, st := range s.Steps {
		if st.Mode == mode && st.Scenario == scenario && st.Kind == kind {
			out = append(out, st)
		}
	}
	return out
}

func (s *Sweep) modes() []string {
	var out []string
	for _, m := range modeOrder {
		if slices.ContainsFunc(s.Steps, func(st SweepStep) bool { return st.Mode == m }) {
			out = append(out, m)
		}
	}
	return out
}

// Write writes results.json, the plots and report.md into s.Dir.
func (s *Sweep) Write() error {
	if err := writeJSON(filepath.Join(s.Dir, "results.json"), s); err != nil {
		return err
	}
	var plots []string
	for _, sc := range s.scenarios() {
		for _, fig := range []struct {
			base string
			c    lineChart
		}{
			{"knee-" + sc, s.kneeChart(sc)},
			{"concurrency-" + sc, s.concurrencyChart(sc)},
		} {
			name, err := fig.c.save(s.Dir, fig.base)
			if err != nil {
				return fmt.Errorf("plot %s: %w", fig.base, err)
			}
			if name != "" {
				plots = append(plots, name)
			}
		}
	}
	return os.WriteFile(filepath.Join(s.Dir, "report.md"), []byte(s.markdown(plots)), 0o644)
}

// kneeChart is p50 and p99 against answered req/s over the rate steps,
// one pair of lines per mode, with the bound.
func (s *Sweep) kneeChart(sc string) lineChart {
	c := lineChart{title: "Latency against throughput (constant rates): " + sc, x: "answered requests / s",
		y: "ms from intended send (log)", logY: true}
	top := 0.0
	for _, m := range s.modes() {
		var p50, p99 plotter.XYs
		for _, st := range s.steps(m, sc, KindRate) {
			p50 = append(p50, plotter.XY{X: st.RequestsPerSec, Y: st.P50})
			p99 = append(p99, plotter.XY{X: st.RequestsPerSec, Y: st.P99})
			top = max(top, st.RequestsPerSec)
		}
		c.lines = append(c.lines, series{title(m) + " p99", p99}, series{title(m) + " p50", p50})
	}
	if top > 0 {
		c.refs = []series{{fmt.Sprintf("p99 bound %g ms", s.P99BoundMs), plotter.XYs{{X: 0, Y: s.P99BoundMs}, {X: top, Y: s.P99BoundMs}}}}
	}
	return c
}

// concurrencyChart is closed-loop throughput against concurrency.
func (s *Sweep) concurrencyChart(sc string) lineChart {
	c := lineChart{title: "Throughput against concurrency (closed loop): " + sc, x: "connections (log)", y: "requests / s", logX: true}
	for _, m := range s.modes() {
		var pts plotter.XYs
		for _, st := range s.steps(m, sc, KindConcurrency) {
			pts = append(pts, plotter.XY{X: float64(st.Concurrency), Y: st.RequestsPerSec})
		}
		c.lines = append(c.lines, series{title(m), pts})
	}
	return c
}

func (s *Sweep) markdown(plots []string) string {
	b := &strings.Builder{}
	fmt.Fprintf(b, "# Capacity sweep\n\nGenerated %s from `%s`. ", s.Generated.Format(time.RFC3339), s.Dir)
	fmt.Fprintf(b, "Each step is one run; rate steps count latency from each request's intended send time. ")
	fmt.Fprintf(b, "The **knee** is the highest offered rate whose step held: p99 <= %g ms, at least 95%% of the rate answered, ", s.P99BoundMs)
	fmt.Fprintf(b, "nothing unsent, no error and no non-2xx.\n\n")
	writeMeta(b, s.Meta)
	fmt.Fprintf(b, "## Knees\n\n| scenario | mode | knee (offered req/s) | answered req/s | p99 ms at the knee | peak req/s | past saturation |\n")
	fmt.Fprintf(b, "| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, k := range s.Knees {
		knee, ans, p99 := "none held", "—", "—"
		if k.Found {
			knee, ans, p99 = fmt.Sprintf("%.0f", k.Rate), fmt.Sprintf("%.0f", k.RequestsPerSec), ms(k.P99)
		}
		past := "yes"
		if !k.Saturated {
			past = "no: every rate held, raise -rate-steps"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %.0f | %s |\n", k.Scenario, title(k.Mode), knee, ans, p99, k.Peak, past)
	}
	for _, sc := range s.scenarios() {
		fmt.Fprintf(b, "\n## %s\n\n### Closed loop: rising concurrency\n\n", sc)
		fmt.Fprintf(b, "| mode | connections | req/s | p50 ms | p99 ms | p99.9 ms | errors | non-2xx |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
		for _, m := range s.modes() {
			for _, st := range s.steps(m, sc, KindConcurrency) {
				fmt.Fprintf(b, "| %s | %d | %.0f | %s | %s | %s | %d | %d |\n", title(m), st.Concurrency, st.RequestsPerSec,
					ms(st.P50), ms(st.P99), ms(st.P999), st.Errors, st.Non2xx)
			}
		}
		fmt.Fprintf(b, "\n### Open loop: rising constant rate\n\n")
		fmt.Fprintf(b, "| mode | offered req/s | answered req/s | p50 ms | p99 ms | p99.9 ms | unsent | errors | non-2xx | holds |\n")
		fmt.Fprintf(b, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
		for _, m := range s.modes() {
			for _, st := range s.steps(m, sc, KindRate) {
				holds := "no"
				if st.Holds {
					holds = "yes"
				}
				fmt.Fprintf(b, "| %s | %.0f | %.0f | %s | %s | %s | %d | %d | %d | %s |\n", title(m), st.Rate, st.RequestsPerSec,
					ms(st.P50), ms(st.P99), ms(st.P999), st.Unsent, st.Errors, st.Non2xx, holds)
			}
		}
	}
	if len(plots) > 0 {
		fmt.Fprintf(b, "\n## Plots\n\n")
		for _, p := range plots {
			fmt.Fprintf(b, "![%s](%s)\n\n", strings.TrimSuffix(p, filepath.Ext(p)), p)
		}
	}
	return b.String()
}

// writeMeta renders settings as a table, sorted by key.
func writeMeta(b *strings.Builder, meta map[string]string) {
	if len(meta) == 0 {
		return
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(b, "| setting | value |\n| --- | --- |\n")
	for _, k := range keys {
		fmt.Fprintf(b, "| %s | %s |\n", k, mdEscape(meta[k]))
	}
	b.WriteString("\n")
}

// ReadSweep reads a sweep's results.json.
func ReadSweep(path string) (*Sweep, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s Sweep
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s.Dir = filepath.Dir(path)
	return &s, nil
}
