package suite

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/userapi/userapi/bench/harness"
	"github.com/userapi/userapi/bench/load"
	"github.com/userapi/userapi/bench/report"
)

// A suite directory, as Run (loadgen suite, make bench) writes it:
//
//	DIR/meta.json            settings and machine facts (string values)
//	DIR/runs/*.json          one loadgen JSON summary per run, labelled
//	                         mode=api|raw|api-batch1|naive|loadgen-noop,
//	                         scenario=get|create|mixed|get-c1|noop, repeat=N
//	DIR/runs/M__S__N.wrk.txt wrk's output for mode M, scenario S, repeat N
//	DIR/pprof/*.txt          `go tool pprof -top` of the server, if taken
//
// Load reads it; Report.Write adds report.md, results.json and plots.

// Run is one measured run of a suite.
type RunSummary struct {
	File     string       `json:"file"`
	Mode     string       `json:"mode"`
	Scenario string       `json:"scenario"`
	Repeat   string       `json:"repeat"`
	Summary  load.Summary `json:"summary"`
}

// GroupPercentiles are the latency points a group keeps (median over runs).
var GroupPercentiles = []float64{50, 90, 99, 99.9}

// Group is every run of one mode and scenario.
type Group struct {
	Mode           string                 `json:"mode"`
	Scenario       string                 `json:"scenario"`
	Runs           int                    `json:"runs"`
	RequestsPerSec report.Stat            `json:"requests_per_sec"`
	LatencyMs      map[string]report.Stat `json:"latency_ms"` // "p50", "p99", "max"
	Requests       int64                  `json:"requests"`
	Errors         int64                  `json:"errors"`
	Non2xx         int64                  `json:"non_2xx"`
	// CPUPerRequestMicros is the server's (API and naive modes), median
	// over runs; ClientCPUPerRequestMicros is loadgen's own, which for raw
	// mode is the driver's cost of one query.
	CPUPerRequestMicros       report.Stat `json:"cpu_us_per_request"`
	ClientCPUPerRequestMicros report.Stat `json:"client_cpu_us_per_request"`
	PeakRSSBytes              int64       `json:"peak_rss_bytes"`
	// BatchSizes are the write batch sizes the API's tuner had chosen at
	// the end of each run, in run order (API modes only).
	BatchSizes []string `json:"batch_sizes,omitempty"`
	// ReadInflights are the read queries in flight per replica set the
	// API's read tuner allowed at the end of each run (the pool's size:
	// each read at once).
	ReadInflights []string `json:"read_inflights,omitempty"`
}

// P returns the median latency at percentile p in ms.
func (g *Group) P(p float64) float64 { return g.LatencyMs[pKey(p)].Median }

func pKey(p float64) string { return "p" + strings.TrimSuffix(fmt.Sprintf("%g", p), ".0") }

// Ratio is one comparison the report states: Value is the ratio of the two
// modes' medians; PerRepeat the same ratio within each repeat (the runs of
// one repeat ran next to each other), in repeat order, for its spread.
type Ratio struct {
	Name      string    `json:"name"`
	Scenario  string    `json:"scenario"`
	Value     float64   `json:"value"`
	PerRepeat []float64 `json:"per_repeat,omitempty"`
	Num       string    `json:"numerator"`
	Den       string    `json:"denominator"`
}

// Report is a suite directory, aggregated.
type Report struct {
	report.Header
	Groups   []*Group          `json:"groups"`
	Ratios   []Ratio           `json:"ratios"`
	Targets  []report.Verdict  `json:"targets"`
	Runs     []RunSummary      `json:"runs"`
	Profiles map[string]string `json:"-"`
}

// Load reads a suite directory and aggregates its runs.
func Load(dir string) (*Report, error) {
	s := &Report{Header: report.Header{Dir: dir, Generated: time.Now().UTC()}, Profiles: map[string]string{}}
	if err := report.ReadJSON(filepath.Join(dir, "meta.json"), &s.Meta); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(dir, "runs", "*"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	for _, f := range files {
		name := filepath.Base(f)
		var r RunSummary
		switch {
		case strings.HasSuffix(name, ".wrk.txt"):
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			sum, err := load.ParseWrk(string(b))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			parts := strings.Split(strings.TrimSuffix(name, ".wrk.txt"), "__")
			if len(parts) != 3 {
				return nil, fmt.Errorf("%s: want MODE__SCENARIO__REPEAT.wrk.txt", name)
			}
			r = RunSummary{Mode: parts[0], Scenario: parts[1], Repeat: parts[2], Summary: sum}
		case strings.HasSuffix(name, ".json"):
			var sum load.Summary
			if err := report.ReadJSON(f, &sum); err != nil {
				return nil, err
			}
			r = RunSummary{Mode: cmp.Or(sum.Labels["mode"], sum.Mode), Scenario: cmp.Or(sum.Labels["scenario"], sum.Scenario),
				Repeat: sum.Labels["repeat"], Summary: sum}
		default:
			continue
		}
		r.File = name
		s.Runs = append(s.Runs, r)
	}
	if len(s.Runs) == 0 {
		return nil, fmt.Errorf("no runs in %s", filepath.Join(dir, "runs"))
	}
	profiles, _ := filepath.Glob(filepath.Join(dir, "pprof", "*.txt"))
	for _, p := range profiles {
		if b, err := os.ReadFile(p); err == nil {
			s.Profiles[filepath.Base(p)] = string(b)
		}
	}
	s.aggregate()
	return s, nil
}

func (s *Report) aggregate() {
	byKey := map[[2]string][]RunSummary{}
	for _, r := range s.Runs {
		k := [2]string{r.Mode, r.Scenario}
		byKey[k] = append(byKey[k], r)
	}
	for k, runs := range byKey {
		g := &Group{Mode: k[0], Scenario: k[1], Runs: len(runs), LatencyMs: map[string]report.Stat{}}
		var rps, cpu, clientCPU []float64
		lat := map[string][]float64{}
		for _, r := range runs {
			sum := r.Summary
			rps = append(rps, sum.RequestsPerSec)
			for _, p := range GroupPercentiles {
				if v := sum.Latency.At(p); v > 0 {
					lat[pKey(p)] = append(lat[pKey(p)], v)
				}
			}
			if sum.Latency.Max > 0 {
				lat["max"] = append(lat["max"], sum.Latency.Max)
			}
			g.Requests += sum.Requests
			g.Errors += sum.Errors
			g.Non2xx += sum.Non2xx
			if sum.Server != nil {
				cpu = append(cpu, sum.Server.CPUPerRequestMicros)
				g.PeakRSSBytes = max(g.PeakRSSBytes, sum.Server.PeakRSSBytes)
			}
			if sum.Client != nil {
				clientCPU = append(clientCPU, sum.Client.CPUPerRequestMicros)
			}
			if b, ok := sum.Labels[LabelBatchSize]; ok {
				g.BatchSizes = append(g.BatchSizes, cmp.Or(b, "-"))
				g.ReadInflights = append(g.ReadInflights, cmp.Or(sum.Labels[LabelReadInflight], "-"))
			}
		}
		g.RequestsPerSec = report.NewStat(rps)
		for key, v := range lat {
			g.LatencyMs[key] = report.NewStat(v)
		}
		g.CPUPerRequestMicros = report.NewStat(cpu)
		g.ClientCPUPerRequestMicros = report.NewStat(clientCPU)
		s.Groups = append(s.Groups, g)
	}
	slices.SortFunc(s.Groups, func(a, b *Group) int {
		if c := strings.Compare(harness.ScenarioRank(a.Scenario), harness.ScenarioRank(b.Scenario)); c != 0 {
			return c
		}
		return harness.ModeRank(a.Mode) - harness.ModeRank(b.Mode)
	})
	s.ratios()
	s.targets()
}

// Group returns the group of mode and scenario, or nil.
func (s *Report) Group(mode, scenario string) *Group {
	for _, g := range s.Groups {
		if g.Mode == mode && g.Scenario == scenario {
			return g
		}
	}
	return nil
}

func (s *Report) scenarios() []string {
	return harness.Distinct(s.Groups, func(g *Group) string { return g.Scenario })
}

// Verdicts are the targets as one line each, for a terminal.
func (s *Report) Verdicts() []string {
	out := make([]string, len(s.Targets))
	for i, t := range s.Targets {
		out[i] = t.String()
	}
	return out
}

// Write writes results.json, the plots and report.md into s.Dir.
func (s *Report) Write() error { return report.Write(s.Dir, s, s.plots(), s.document) }
