package suite

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
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
	Dir       string            `json:"-"`
	Generated time.Time         `json:"generated"`
	Meta      map[string]string `json:"meta,omitempty"`
	Groups    []*Group          `json:"groups"`
	Ratios    []Ratio           `json:"ratios"`
	Targets   []report.Verdict  `json:"targets"`
	Runs      []RunSummary      `json:"runs"`
	Profiles  map[string]string `json:"-"`
}

// Load reads a suite directory and aggregates its runs.
func Load(dir string) (*Report, error) {
	s := &Report{Dir: dir, Generated: time.Now().UTC(), Profiles: map[string]string{}}
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
			r = RunSummary{Mode: sum.Labels["mode"], Scenario: sum.Labels["scenario"], Repeat: sum.Labels["repeat"], Summary: sum}
			if r.Mode == "" {
				r.Mode = sum.Mode
			}
			if r.Scenario == "" {
				r.Scenario = sum.Scenario
			}
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

// metric is one figure of a group (its median over runs) and of a run.
type metric struct {
	group func(*Group) float64
	run   func(load.Summary) float64
}

var (
	rpsOf = metric{
		func(g *Group) float64 { return g.RequestsPerSec.Median },
		func(s load.Summary) float64 { return s.RequestsPerSec },
	}
	p99Of = metric{
		func(g *Group) float64 { return g.P(99) },
		func(s load.Summary) float64 { return s.Latency.At(99) },
	}
	serverCPUOf = metric{
		func(g *Group) float64 { return g.CPUPerRequestMicros.Median },
		func(s load.Summary) float64 {
			if s.Server == nil {
				return 0
			}
			return s.Server.CPUPerRequestMicros
		},
	}
	clientCPUOf = metric{
		func(g *Group) float64 { return g.ClientCPUPerRequestMicros.Median },
		func(s load.Summary) float64 {
			if s.Client == nil {
				return 0
			}
			return s.Client.CPUPerRequestMicros
		},
	}
)

func (s *Report) ratios() {
	s.Ratios = nil
	add := func(name, sc string, num, den string, fnum, fden metric) {
		a, b := s.Group(num, sc), s.Group(den, sc)
		if a == nil || b == nil || fden.group(b) == 0 || fnum.group(a) == 0 {
			return
		}
		s.Ratios = append(s.Ratios, Ratio{Name: name, Scenario: sc, Value: fnum.group(a) / fden.group(b),
			PerRepeat: s.perRepeat(sc, num, den, fnum, fden), Num: num, Den: den})
	}
	for _, sc := range s.scenarios() {
		add(ratioRPSRaw, sc, harness.ModeAPI, harness.ModeRaw, rpsOf, rpsOf)
		add(ratioP99Raw, sc, harness.ModeAPI, harness.ModeRaw, p99Of, p99Of)
		add(ratioCPURaw, sc, harness.ModeAPI, harness.ModeRaw, serverCPUOf, clientCPUOf)
		add(ratioRPSNaive, sc, harness.ModeAPI, harness.ModeNaive, rpsOf, rpsOf)
		add(ratioP99Naive, sc, harness.ModeAPI, harness.ModeNaive, p99Of, p99Of)
		add(ratioCPUNaive, sc, harness.ModeAPI, harness.ModeNaive, serverCPUOf, serverCPUOf)
		add(ratioCPUNaiveRaw, sc, harness.ModeNaive, harness.ModeRaw, serverCPUOf, clientCPUOf)
		add(ratioRPSBatch, sc, harness.ModeAPI, harness.ModeAPINoBatch, rpsOf, rpsOf)
		add("p99 batching on / off", sc, harness.ModeAPI, harness.ModeAPINoBatch, p99Of, p99Of)
		add(ratioRPSCalibration, sc, harness.ModeLoadgenNoop, harness.ModeWrkNoop, rpsOf, rpsOf)
	}
}

// perRepeat is, for each repeat with a run of both modes in scenario sc,
// the ratio of num's figure to den's, in repeat order.
func (s *Report) perRepeat(sc, num, den string, fnum, fden metric) []float64 {
	var out []float64
	for _, rep := range s.repeats(num, sc) {
		a, _ := s.run(num, sc, rep)
		b, ok := s.run(den, sc, rep)
		if !ok {
			continue
		}
		if x, y := fnum.run(a), fden.run(b); x > 0 && y > 0 {
			out = append(out, x/y)
		}
	}
	return out
}

// run is the summary of mode's run in scenario sc and repeat rep.
func (s *Report) run(mode, sc, rep string) (load.Summary, bool) {
	for _, r := range s.Runs {
		if r.Mode == mode && r.Scenario == sc && r.Repeat == rep {
			return r.Summary, true
		}
	}
	return load.Summary{}, false
}

// repeats lists the repeat labels of mode's runs in scenario sc, in order
// (numerically when they are numbers).
func (s *Report) repeats(mode, sc string) []string {
	var reps []string
	for _, r := range s.Runs {
		if r.Mode == mode && r.Scenario == sc && !slices.Contains(reps, r.Repeat) {
			reps = append(reps, r.Repeat)
		}
	}
	slices.SortFunc(reps, func(a, b string) int {
		x, errA := strconv.Atoi(a)
		y, errB := strconv.Atoi(b)
		if errA == nil && errB == nil {
			return x - y
		}
		return strings.Compare(a, b)
	})
	return reps
}

// The ratios the targets read.
const (
	ratioRPSRaw         = "throughput API / raw"
	ratioP99Raw         = "p99 API / raw"
	ratioCPURaw         = "server CPU / request, API / raw client"
	ratioRPSNaive       = "throughput API / naive"
	ratioP99Naive       = "p99 API / naive"
	ratioCPUNaive       = "server CPU / request, API / naive"
	ratioCPUNaiveRaw    = "server CPU / request, naive / raw client"
	ratioRPSBatch       = "throughput batching on / off"
	ratioRPSCalibration = "throughput loadgen / wrk"
)

func (s *Report) ratio(name, sc string) (float64, bool) {
	for _, r := range s.Ratios {
		if r.Name == name && r.Scenario == sc {
			return r.Value, true
		}
	}
	return 0, false
}

// WrkMissing is the note of the calibration target, and meta.json's "wrk",
// when wrk is not installed: the suite runs without it (wrk is not a
// prerequisite) and says so rather than leaving the verdict blank.
const WrkMissing = "wrk not installed (apt-get install wrk)"

const metaWrk = "wrk"

// goal is one line of the targets table: a figure, a bound and where the
// bound comes from. Every verdict is computed from the run's medians; the
// figure is either a ratio of the Ratios table or a mode's p50 in ms.
type goal struct {
	name, source string
	scenario     string
	atMost       bool    // the figure must not exceed want; else reach it
	want         float64 // the bound
	unit         string
	ratio        string // the figure is this ratio
	p50          string // or else this mode's median p50 latency (ms)
}

// figure is g's median figure in s, and per repeat.
func (g goal) figure(s *Report) (median float64, perRepeat []float64, ok bool) {
	if g.ratio != "" {
		for _, r := range s.Ratios {
			if r.Name == g.ratio && r.Scenario == g.scenario {
				return r.Value, r.PerRepeat, true
			}
		}
		return 0, nil, false
	}
	grp := s.Group(g.p50, g.scenario)
	if grp == nil || grp.P(50) <= 0 {
		return 0, nil, false
	}
	for _, rep := range s.repeats(g.p50, g.scenario) {
		if r, ok := s.run(g.p50, g.scenario, rep); ok && r.Latency.At(50) > 0 {
			perRepeat = append(perRepeat, r.Latency.At(50))
		}
	}
	return grp.P(50), perRepeat, true
}

func (g goal) met(v float64) bool {
	if g.atMost {
		return v <= g.want
	}
	return v >= g.want
}

// goals are issue 12's targets (what the engine must buy over the naive
// handler and cost over the driver) and the harness's own checks.
var goals = []goal{
	{"GET-by-id throughput, API / naive", "issue 12", "get", false, 1.1, "x", ratioRPSNaive, ""},
	{"GET-by-id server CPU per request, API / naive", "issue 12", "get", true, 0.9, "x", ratioCPUNaive, ""},
	{"create throughput, API / naive", "issue 12", "create", false, 1.3, "x", ratioRPSNaive, ""},
	{"create p99, API / naive", "issue 12", "create", true, 1.0, "x", ratioP99Naive, ""},
	{"GET-by-id server CPU / raw client CPU per read", "issue 12", "get", true, 1.3, "x", ratioCPURaw, ""},
	{"create server CPU / raw client CPU per insert", "issue 12", "create", true, 1.3, "x", ratioCPURaw, ""},
	{"GET-by-id throughput, API / raw", "issue 12", "get", false, 0.75, "x", ratioRPSRaw, ""},
	{"GET-by-id p99, API / raw", "issue 12", "get", true, 1.5, "x", ratioP99Raw, ""},
	{"GET-by-id p50 on one connection, API", "issue 12", harness.ScenarioGetOne, true, 0.6, "ms", "", harness.ModeAPI},
	{"create throughput, API (batching) / raw single-statement", "issue 12", "create", false, 1.0, "x", ratioRPSRaw, ""},
	{"create throughput, batching on / off", "harness", "create", false, 1.5, "x", ratioRPSBatch, ""},
	{"no-op server: loadgen / wrk -t1 throughput", "harness", "noop", false, 1.0, "x", ratioRPSCalibration, ""},
}

func (s *Report) targets() {
	s.Targets = nil
	for _, g := range goals {
		t := report.Verdict{Name: g.name, Source: g.source, Unit: g.unit, Want: fmt.Sprintf(">= %.2f", g.want)}
		if g.atMost {
			t.Want = fmt.Sprintf("<= %.2f", g.want)
		}
		v, perRepeat, ok := g.figure(s)
		t.Repeats = len(perRepeat)
		for _, x := range perRepeat {
			if g.met(x) {
				t.RepeatsMet++
			}
		}
		switch {
		case !ok:
			t.Status = report.NotMeasured
			if g.ratio == ratioRPSCalibration && s.Meta[metaWrk] == WrkMissing {
				t.Note = WrkMissing
			}
		case g.met(v):
			t.Measured, t.Status = v, report.Met
		case g.atMost:
			t.Measured, t.Status = v, report.Missed
			t.Note = fmt.Sprintf("over by %.1f%%", 100*(v-g.want)/g.want)
		default:
			t.Measured, t.Status = v, report.Missed
			t.Note = fmt.Sprintf("short by %.1f%%", 100*(g.want-v)/g.want)
		}
		s.Targets = append(s.Targets, t)
	}
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
func (s *Report) Write() error {
	if err := report.WriteJSON(filepath.Join(s.Dir, "results.json"), s); err != nil {
		return err
	}
	plots, err := s.plots()
	if err != nil {
		return err
	}
	return s.document(plots).Write(s.Dir)
}

func (s *Report) document(plots []string) *report.Document {
	d := report.NewDocument("Benchmark report", s.Dir, s.Generated,
		"Figures are medians of alternating runs; the spread (min-max) is in `results.json`.", s.Meta)
	d.Printf("## Targets\n\nA verdict reads the medians; \"repeats met\" says how many repeats, each on its own\n")
	d.Printf("(the ratio of two runs made next to each other), would have met the bound.\n\n")
	d.Table("target", "want", "measured", "verdict", "repeats met", "from")
	for _, t := range s.Targets {
		verdict, repeats := t.Status, "—"
		if t.Note != "" {
			verdict += ": " + t.Note
		}
		if t.Repeats > 0 {
			repeats = fmt.Sprintf("%d of %d", t.RepeatsMet, t.Repeats)
		}
		d.Row(t.Name, t.Want, t.Value(), verdict, repeats, t.Source)
	}
	d.Printf("\n## Ratios\n\n")
	d.Table("scenario", "ratio", "value", "per repeat")
	for _, r := range s.Ratios {
		per := make([]string, len(r.PerRepeat))
		for i, v := range r.PerRepeat {
			per[i] = fmt.Sprintf("%.2f", v)
		}
		d.Row(r.Scenario, r.Name, fmt.Sprintf("%.3f", r.Value), strings.Join(per, ", "))
	}
	d.Printf("\n## Throughput and latency\n\n")
	d.Table("scenario", "mode", "runs", "req/s (median)", "req/s min-max", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "errors", "non-2xx")
	for _, g := range s.Groups {
		d.Row(g.Scenario, harness.Title(g.Mode), strconv.Itoa(g.Runs), fmt.Sprintf("%.0f", g.RequestsPerSec.Median),
			fmt.Sprintf("%.0f-%.0f", g.RequestsPerSec.Min, g.RequestsPerSec.Max), report.Ms(g.P(50)), report.Ms(g.P(90)),
			report.Ms(g.P(99)), report.Ms(g.P(99.9)), strconv.FormatInt(g.Errors, 10), strconv.FormatInt(g.Non2xx, 10))
	}
	s.writeCost(d)
	s.writeNaive(d)
	d.Plots(plots)
	if len(s.Profiles) > 0 {
		d.Printf("## Where the time goes\n\n")
		d.Printf("The server's pprof during one extra get-by-id run (not among the measured runs): ")
		d.Printf("CPU, and bytes allocated during the run. Raw profiles are in `pprof/`.\n\n")
		for _, n := range slices.Sorted(maps.Keys(s.Profiles)) {
			lines := strings.Split(strings.TrimSpace(s.Profiles[n]), "\n")
			d.Printf("### %s\n\n```\n%s\n```\n\n", n, strings.Join(lines[:min(len(lines), 30)], "\n"))
		}
	}
	d.Printf("\n## Runs\n\n")
	d.Table("file", "mode", "scenario", "repeat", "req/s", "p99 ms", "errors", "non-2xx")
	for _, r := range s.Runs {
		d.Row(r.File, r.Mode, r.Scenario, r.Repeat, fmt.Sprintf("%.0f", r.Summary.RequestsPerSec), report.Ms(r.Summary.Latency.At(99)),
			strconv.FormatInt(r.Summary.Errors, 10), strconv.FormatInt(r.Summary.Non2xx, 10))
	}
	return d
}

// writeCost is the CPU table: per scenario, the server's CPU per request in
// each server mode beside the raw driver's client CPU per query, and their
// ratio. Both come from /proc/PID/stat over the measured phase.
func (s *Report) writeCost(d *report.Document) {
	d.Printf("\n## CPU per request\n\nServer CPU is the server process's user+system time over the measured phase ")
	d.Printf("(`/proc/PID/stat`) divided by answered requests; raw client CPU is `loadgen raw`'s own, divided by ")
	d.Printf("its queries: what the driver alone costs. Medians of runs, in µs.\n\n")
	d.Table("scenario", "API server", "API, batching off", "naive server", "raw client", "API / raw", "naive / raw")
	us := func(mode, sc string, client bool) string {
		g := s.Group(mode, sc)
		if g == nil {
			return "—"
		}
		st := g.CPUPerRequestMicros
		if client {
			st = g.ClientCPUPerRequestMicros
		}
		return report.F("%.1f", st.Median, len(st.Values) > 0)
	}
	for _, sc := range s.scenarios() {
		if sc != "noop" {
			d.Row(sc, us(harness.ModeAPI, sc, false), us(harness.ModeAPINoBatch, sc, false), us(harness.ModeNaive, sc, false),
				us(harness.ModeRaw, sc, true), s.ratioCell(ratioCPURaw, sc), s.ratioCell(ratioCPUNaiveRaw, sc))
		}
	}
	d.Printf("\n")
	d.Table("scenario", "mode", "peak RSS MiB")
	for _, g := range s.Groups {
		if g.PeakRSSBytes > 0 {
			d.Row(g.Scenario, harness.Title(g.Mode), fmt.Sprintf("%.1f", float64(g.PeakRSSBytes)/(1<<20)))
		}
	}
}

// writeNaive compares the API with the naive baseline, scenario by scenario.
func (s *Report) writeNaive(d *report.Document) {
	d.Printf("\n## API against the naive baseline\n\n")
	d.Printf("The naive server (`bench/naive`, `loadgen naive`) calls gocql directly per request: no pool, no batching. ")
	d.Printf("Above 1 the API is faster (throughput) or costlier (p99, CPU).\n\n")
	d.Table("scenario", "throughput API / naive", "p99 API / naive", "server CPU per request API / naive")
	for _, sc := range s.scenarios() {
		if s.Group(harness.ModeNaive, sc) != nil {
			d.Row(sc, s.ratioCell(ratioRPSNaive, sc), s.ratioCell(ratioP99Naive, sc), s.ratioCell(ratioCPUNaive, sc))
		}
	}
}

func (s *Report) ratioCell(name, sc string) string {
	v, ok := s.ratio(name, sc)
	return report.F("%.2f", v, ok)
}
