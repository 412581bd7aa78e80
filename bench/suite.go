package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// A suite directory, as RunSuite (loadgen suite, make bench) writes it:
//
//	DIR/meta.json            settings and machine facts (string values)
//	DIR/runs/*.json          one loadgen JSON summary per run, labelled
//	                         mode=api|raw|api-batch1|naive|loadgen-noop,
//	                         scenario=get|create|mixed|get-c1|noop, repeat=N
//	DIR/runs/M__S__N.wrk.txt wrk's output for mode M, scenario S, repeat N
//	DIR/pprof/*.txt          `go tool pprof -top` of the server, if taken
//
// LoadSuite reads it; WriteSuite adds report.md, results.json and plots.

// The suite's modes, in the order the report shows them.
const (
	ModeAPI         = "api"
	ModeRaw         = "raw"
	ModeAPINoBatch  = "api-batch1"
	ModeNaive       = "naive" // the baseline handler, bench/naive
	ModeLoadgenNoop = "loadgen-noop"
	ModeWrkNoop     = "wrk-noop"
	ModeNoop        = "noop" // the calibration: ModeLoadgenNoop and ModeWrkNoop
)

// The suite's scenarios. ScenarioGetOne is get-by-id on one connection:
// the latency of a request that waits behind nothing.
const (
	ScenarioGet    = "get"
	ScenarioCreate = "create"
	ScenarioMixed  = "mixed"
	ScenarioGetOne = "get-c1"
)

var modeOrder = []string{ModeAPI, ModeRaw, ModeAPINoBatch, ModeNaive, ModeLoadgenNoop, ModeWrkNoop}

var modeTitles = map[string]string{
	ModeAPI:         "API",
	ModeRaw:         "raw CQL",
	ModeAPINoBatch:  "API, batching off",
	ModeNaive:       "naive baseline",
	ModeLoadgenNoop: "loadgen, no-op server",
	ModeWrkNoop:     "wrk, no-op server",
}

// SuiteRun is one measured run of a suite.
type SuiteRun struct {
	File     string  `json:"file"`
	Mode     string  `json:"mode"`
	Scenario string  `json:"scenario"`
	Repeat   string  `json:"repeat"`
	Summary  Summary `json:"summary"`
}

// Stat is the spread of one figure over a group's runs.
type Stat struct {
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Values []float64 `json:"values"`
}

func newStat(v []float64) Stat {
	if len(v) == 0 {
		return Stat{Values: []float64{}}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Stat{Median: m, Min: s[0], Max: s[len(s)-1], Values: v}
}

// GroupPercentiles are the latency points a group keeps (median over runs).
var GroupPercentiles = []float64{50, 90, 99, 99.9}

// Group is every run of one mode and scenario.
type Group struct {
	Mode           string          `json:"mode"`
	Scenario       string          `json:"scenario"`
	Runs           int             `json:"runs"`
	RequestsPerSec Stat            `json:"requests_per_sec"`
	LatencyMs      map[string]Stat `json:"latency_ms"` // "p50", "p99", "max"
	Requests       int64           `json:"requests"`
	Errors         int64           `json:"errors"`
	Non2xx         int64           `json:"non_2xx"`
	// CPUPerRequestMicros is the server's (API and naive modes), median
	// over runs; ClientCPUPerRequestMicros is loadgen's own, which for raw
	// mode is the driver's cost of one query.
	CPUPerRequestMicros       Stat  `json:"cpu_us_per_request"`
	ClientCPUPerRequestMicros Stat  `json:"client_cpu_us_per_request"`
	PeakRSSBytes              int64 `json:"peak_rss_bytes"`
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

// Target is one of the goals, checked against the medians.
type Target struct {
	Name     string  `json:"name"`
	Want     string  `json:"want"`
	Measured float64 `json:"measured"`
	Unit     string  `json:"unit"`
	Status   string  `json:"status"` // met, missed, not measured
	Note     string  `json:"note,omitempty"`
	Source   string  `json:"source"` // the issue that set the bound, or "harness"
	// Repeats is how many repeats measured the figure on their own (a
	// ratio of two runs of one repeat, or one run's p50), RepeatsMet how
	// many of those would have met the bound: how firmly the median's
	// verdict stands on a noisy machine.
	Repeats    int `json:"repeats,omitempty"`
	RepeatsMet int `json:"repeats_met,omitempty"`
}

// Suite is a directory of runs, aggregated.
type Suite struct {
	Dir       string            `json:"-"`
	Generated time.Time         `json:"generated"`
	Meta      map[string]string `json:"meta,omitempty"`
	Groups    []*Group          `json:"groups"`
	Ratios    []Ratio           `json:"ratios"`
	Targets   []Target          `json:"targets"`
	Runs      []SuiteRun        `json:"runs"`
	Profiles  map[string]string `json:"-"`
}

// LoadSuite reads a suite directory and aggregates its runs.
func LoadSuite(dir string) (*Suite, error) {
	s := &Suite{Dir: dir, Generated: time.Now().UTC(), Profiles: map[string]string{}}
	if b, err := os.ReadFile(filepath.Join(dir, "meta.json")); err == nil {
		if err := json.Unmarshal(b, &s.Meta); err != nil {
			return nil, fmt.Errorf("meta.json: %w", err)
		}
	}
	files, err := filepath.Glob(filepath.Join(dir, "runs", "*"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	for _, f := range files {
		name := filepath.Base(f)
		var r SuiteRun
		switch {
		case strings.HasSuffix(name, ".wrk.txt"):
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			sum, err := ParseWrk(string(b))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			parts := strings.Split(strings.TrimSuffix(name, ".wrk.txt"), "__")
			if len(parts) != 3 {
				return nil, fmt.Errorf("%s: want MODE__SCENARIO__REPEAT.wrk.txt", name)
			}
			r = SuiteRun{Mode: parts[0], Scenario: parts[1], Repeat: parts[2], Summary: sum}
		case strings.HasSuffix(name, ".json"):
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			var sum Summary
			if err := json.Unmarshal(b, &sum); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			r = SuiteRun{Mode: sum.Labels["mode"], Scenario: sum.Labels["scenario"], Repeat: sum.Labels["repeat"], Summary: sum}
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

func (s *Suite) aggregate() {
	byKey := map[[2]string][]SuiteRun{}
	for _, r := range s.Runs {
		k := [2]string{r.Mode, r.Scenario}
		byKey[k] = append(byKey[k], r)
	}
	for k, runs := range byKey {
		g := &Group{Mode: k[0], Scenario: k[1], Runs: len(runs), LatencyMs: map[string]Stat{}}
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
		g.RequestsPerSec = newStat(rps)
		for key, v := range lat {
			g.LatencyMs[key] = newStat(v)
		}
		g.CPUPerRequestMicros = newStat(cpu)
		g.ClientCPUPerRequestMicros = newStat(clientCPU)
		s.Groups = append(s.Groups, g)
	}
	slices.SortFunc(s.Groups, func(a, b *Group) int {
		if c := strings.Compare(scenarioRank(a.Scenario), scenarioRank(b.Scenario)); c != 0 {
			return c
		}
		return modeRank(a.Mode) - modeRank(b.Mode)
	})
	s.ratios()
	s.targets()
}

func modeRank(m string) int {
	if i := slices.Index(modeOrder, m); i >= 0 {
		return i
	}
	return len(modeOrder)
}

func scenarioRank(sc string) string {
	order := map[string]string{ScenarioGet: "0", ScenarioCreate: "1", ScenarioMixed: "2", "mix": "2", ScenarioGetOne: "3", "noop": "9"}
	if o, ok := order[sc]; ok {
		return o + sc
	}
	return "5" + sc
}

// Group returns the group of mode and scenario, or nil.
func (s *Suite) Group(mode, scenario string) *Group {
	for _, g := range s.Groups {
		if g.Mode == mode && g.Scenario == scenario {
			return g
		}
	}
	return nil
}

func (s *Suite) scenarios() []string {
	return distinct(s.Groups, func(g *Group) string { return g.Scenario })
}

// distinct lists key(x) of xs in first-seen order, each once.
func distinct[T any](xs []T, key func(T) string) []string {
	var out []string
	for _, x := range xs {
		if k := key(x); !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// measure is one figure of a group (its median over runs) and of a run.
type measure struct {
	group func(*Group) float64
	run   func(Summary) float64
}

var (
	rpsOf = measure{
		func(g *Group) float64 { return g.RequestsPerSec.Median },
		func(s Summary) float64 { return s.RequestsPerSec },
	}
	p99Of = measure{
		func(g *Group) float64 { return g.P(99) },
		func(s Summary) float64 { return s.Latency.At(99) },
	}
	serverCPUOf = measure{
		func(g *Group) float64 { return g.CPUPerRequestMicros.Median },
		func(s Summary) float64 {
			if s.Server == nil {
				return 0
			}
			return s.Server.CPUPerRequestMicros
		},
	}
	clientCPUOf = measure{
		func(g *Group) float64 { return g.ClientCPUPerRequestMicros.Median },
		func(s Summary) float64 {
			if s.Client == nil {
				return 0
			}
			return s.Client.CPUPerRequestMicros
		},
	}
)

func (s *Suite) ratios() {
	s.Ratios = nil
	add := func(name, sc string, num, den string, fnum, fden measure) {
		a, b := s.Group(num, sc), s.Group(den, sc)
		if a == nil || b == nil || fden.group(b) == 0 || fnum.group(a) == 0 {
			return
		}
		s.Ratios = append(s.Ratios, Ratio{Name: name, Scenario: sc, Value: fnum.group(a) / fden.group(b),
			PerRepeat: s.perRepeat(sc, num, den, fnum, fden), Num: num, Den: den})
	}
	for _, sc := range s.scenarios() {
		add(ratioRPSRaw, sc, ModeAPI, ModeRaw, rpsOf, rpsOf)
		add(ratioP99Raw, sc, ModeAPI, ModeRaw, p99Of, p99Of)
		add(ratioCPURaw, sc, ModeAPI, ModeRaw, serverCPUOf, clientCPUOf)
		add(ratioRPSNaive, sc, ModeAPI, ModeNaive, rpsOf, rpsOf)
		add(ratioP99Naive, sc, ModeAPI, ModeNaive, p99Of, p99Of)
		add(ratioCPUNaive, sc, ModeAPI, ModeNaive, serverCPUOf, serverCPUOf)
		add("server CPU / request, naive / raw client", sc, ModeNaive, ModeRaw, serverCPUOf, clientCPUOf)
		add(ratioRPSBatch, sc, ModeAPI, ModeAPINoBatch, rpsOf, rpsOf)
		add("p99 batching on / off", sc, ModeAPI, ModeAPINoBatch, p99Of, p99Of)
		add(ratioRPSCalibration, sc, ModeLoadgenNoop, ModeWrkNoop, rpsOf, rpsOf)
	}
}

// perRepeat is, for each repeat with a run of both modes in scenario sc,
// the ratio of num's figure to den's, in repeat order.
func (s *Suite) perRepeat(sc, num, den string, fnum, fden measure) []float64 {
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
func (s *Suite) run(mode, sc, rep string) (Summary, bool) {
	for _, r := range s.Runs {
		if r.Mode == mode && r.Scenario == sc && r.Repeat == rep {
			return r.Summary, true
		}
	}
	return Summary{}, false
}

// repeats lists the repeat labels of mode's runs in scenario sc, in order
// (numerically when they are numbers).
func (s *Suite) repeats(mode, sc string) []string {
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
	ratioRPSBatch       = "throughput batching on / off"
	ratioRPSCalibration = "throughput loadgen / wrk"
)

func (s *Suite) ratio(name, sc string) (float64, bool) {
	for _, r := range s.Ratios {
		if r.Name == name && r.Scenario == sc {
			return r.Value, true
		}
	}
	return 0, false
}

// Target statuses.
const (
	TargetMet         = "met"
	TargetMissed      = "missed"
	TargetNotMeasured = "not measured"
)

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
func (g goal) figure(s *Suite) (median float64, perRepeat []float64, ok bool) {
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
	{"GET-by-id throughput, API / naive", "issue 12", ScenarioGet, false, 1.1, "x", ratioRPSNaive, ""},
	{"GET-by-id server CPU per request, API / naive", "issue 12", ScenarioGet, true, 0.9, "x", ratioCPUNaive, ""},
	{"create throughput, API / naive", "issue 12", ScenarioCreate, false, 1.3, "x", ratioRPSNaive, ""},
	{"create p99, API / naive", "issue 12", ScenarioCreate, true, 1.0, "x", ratioP99Naive, ""},
	{"GET-by-id server CPU / raw client CPU per read", "issue 12", ScenarioGet, true, 1.3, "x", ratioCPURaw, ""},
	{"create server CPU / raw client CPU per insert", "issue 12", ScenarioCreate, true, 1.3, "x", ratioCPURaw, ""},
	{"GET-by-id throughput, API / raw", "issue 12", ScenarioGet, false, 0.75, "x", ratioRPSRaw, ""},
	{"GET-by-id p99, API / raw", "issue 12", ScenarioGet, true, 1.5, "x", ratioP99Raw, ""},
	{"GET-by-id p50 on one connection, API", "issue 12", ScenarioGetOne, true, 0.6, "ms", "", ModeAPI},
	{"create throughput, API (batching) / raw single-statement", "issue 12", ScenarioCreate, false, 1.0, "x", ratioRPSRaw, ""},
	{"create throughput, batching on / off", "harness", ScenarioCreate, false, 1.5, "x", ratioRPSBatch, ""},
	{"no-op server: loadgen / wrk -t1 throughput", "harness", "noop", false, 1.0, "x", ratioRPSCalibration, ""},
}

func (s *Suite) targets() {
	s.Targets = nil
	for _, g := range goals {
		t := Target{Name: g.name, Source: g.source, Unit: g.unit, Want: fmt.Sprintf(">= %.2f", g.want)}
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
			t.Status = TargetNotMeasured
			if g.ratio == ratioRPSCalibration && s.Meta[metaWrk] == WrkMissing {
				t.Note = WrkMissing
			}
		case g.met(v):
			t.Measured, t.Status = v, TargetMet
		case g.atMost:
			t.Measured, t.Status = v, TargetMissed
			t.Note = fmt.Sprintf("over by %.1f%%", 100*(v-g.want)/g.want)
		default:
			t.Measured, t.Status = v, TargetMissed
			t.Note = fmt.Sprintf("short by %.1f%%", 100*(g.want-v)/g.want)
		}
		s.Targets = append(s.Targets, t)
	}
}

// Verdicts are the targets as one line each, for a terminal.
func (s *Suite) Verdicts() []string {
	var out []string
	for _, t := range s.Targets {
		line := fmt.Sprintf("%-12s %s (want %s", t.Status, t.Name, t.Want)
		if t.Status != TargetNotMeasured {
			line = fmt.Sprintf("%-12s %s: %.2f %s (want %s", t.Status, t.Name, t.Measured, t.Unit, t.Want)
		}
		line += ")"
		if t.Note != "" {
			line += ", " + t.Note
		}
		if t.Repeats > 0 {
			line += fmt.Sprintf("; met in %d of %d repeats", t.RepeatsMet, t.Repeats)
		}
		out = append(out, line)
	}
	return out
}

// WriteSuite writes report.md, results.json and the plots into s.Dir.
func (s *Suite) WriteSuite() error {
	f, err := os.Create(filepath.Join(s.Dir, "results.json"))
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	plots, err := s.writePlots()
	if err != nil {
		return err
	}
	f, err = os.Create(filepath.Join(s.Dir, "report.md"))
	if err != nil {
		return err
	}
	if err := s.WriteMarkdown(f, plots); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func title(mode string) string {
	if t, ok := modeTitles[mode]; ok {
		return t
	}
	return mode
}

// WriteMarkdown renders the report; plots are file names to embed.
func (s *Suite) WriteMarkdown(w io.Writer, plots []string) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "# Benchmark report\n\n")
	fmt.Fprintf(b, "Generated %s from `%s`. Figures are medians of alternating runs; ", s.Generated.Format(time.RFC3339), s.Dir)
	fmt.Fprintf(b, "the spread (min-max) is in `results.json`.\n\n")
	writeMeta(b, s.Meta)

	fmt.Fprintf(b, "## Targets\n\nA verdict reads the medians; \"repeats met\" says how many repeats, each on its own\n")
	fmt.Fprintf(b, "(the ratio of two runs made next to each other), would have met the bound.\n\n")
	fmt.Fprintf(b, "| target | want | measured | verdict | repeats met | from |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, t := range s.Targets {
		measured := "—"
		if t.Status != "not measured" {
			measured = fmt.Sprintf("%.2f %s", t.Measured, t.Unit)
		}
		verdict := t.Status
		if t.Note != "" {
			verdict += ": " + t.Note
		}
		repeats := "—"
		if t.Repeats > 0 {
			repeats = fmt.Sprintf("%d of %d", t.RepeatsMet, t.Repeats)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", t.Name, t.Want, measured, verdict, repeats, t.Source)
	}

	fmt.Fprintf(b, "\n## Ratios\n\n| scenario | ratio | value | per repeat |\n| --- | --- | --- | --- |\n")
	for _, r := range s.Ratios {
		per := make([]string, len(r.PerRepeat))
		for i, v := range r.PerRepeat {
			per[i] = fmt.Sprintf("%.2f", v)
		}
		fmt.Fprintf(b, "| %s | %s | %.3f | %s |\n", r.Scenario, r.Name, r.Value, strings.Join(per, ", "))
	}

	fmt.Fprintf(b, "\n## Throughput and latency\n\n")
	fmt.Fprintf(b, "| scenario | mode | runs | req/s (median) | req/s min-max | p50 ms | p90 ms | p99 ms | p99.9 ms | errors | non-2xx |\n")
	fmt.Fprintf(b, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, g := range s.Groups {
		fmt.Fprintf(b, "| %s | %s | %d | %.0f | %.0f-%.0f | %s | %s | %s | %s | %d | %d |\n",
			g.Scenario, title(g.Mode), g.Runs, g.RequestsPerSec.Median, g.RequestsPerSec.Min, g.RequestsPerSec.Max,
			ms(g.P(50)), ms(g.P(90)), ms(g.P(99)), ms(g.P(99.9)), g.Errors, g.Non2xx)
	}

	s.writeCost(b)
	s.writeNaive(b)

	if len(plots) > 0 {
		fmt.Fprintf(b, "\n## Plots\n\n")
		for _, p := range plots {
			fmt.Fprintf(b, "![%s](%s)\n\n", strings.TrimSuffix(p, filepath.Ext(p)), p)
		}
	}

	if len(s.Profiles) > 0 {
		fmt.Fprintf(b, "## Where the time goes\n\n")
		fmt.Fprintf(b, "The server's pprof during one extra get-by-id run (not among the measured runs): ")
		fmt.Fprintf(b, "CPU, and bytes allocated during the run. Raw profiles are in `pprof/`.\n\n")
		names := make([]string, 0, len(s.Profiles))
		for n := range s.Profiles {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			lines := strings.Split(strings.TrimSpace(s.Profiles[n]), "\n")
			if len(lines) > 30 {
				lines = lines[:30]
			}
			fmt.Fprintf(b, "### %s\n\n```\n%s\n```\n\n", n, strings.Join(lines, "\n"))
		}
	}

	fmt.Fprintf(b, "\n## Runs\n\n| file | mode | scenario | repeat | req/s | p99 ms | errors | non-2xx |\n")
	fmt.Fprintf(b, "| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range s.Runs {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %.0f | %s | %d | %d |\n", r.File, r.Mode, r.Scenario, r.Repeat,
			r.Summary.RequestsPerSec, ms(r.Summary.Latency.At(99)), r.Summary.Errors, r.Summary.Non2xx)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ms formats a latency; a point the tool did not report (wrk has no
// p99.9) shows as a dash rather than a misleading zero.
func ms(v float64) string {
	if v <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.3f", v)
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ").Replace(s)
}

// writeCost is the CPU table: per scenario, the server's CPU per request in
// each server mode beside the raw driver's client CPU per query, and their
// ratio. Both come from /proc/PID/stat over the measured phase.
func (s *Suite) writeCost(b *strings.Builder) {
	fmt.Fprintf(b, "\n## CPU per request\n\nServer CPU is the server process's user+system time over the measured phase ")
	fmt.Fprintf(b, "(`/proc/PID/stat`) divided by answered requests; raw client CPU is `loadgen raw`'s own, divided by ")
	fmt.Fprintf(b, "its queries: what the driver alone costs. Medians of runs, in µs.\n\n")
	fmt.Fprintf(b, "| scenario | API server | API, batching off | naive server | raw client | API / raw | naive / raw |\n")
	fmt.Fprintf(b, "| --- | --- | --- | --- | --- | --- | --- |\n")
	us := func(mode, sc string, client bool) string {
		g := s.Group(mode, sc)
		if g == nil {
			return "—"
		}
		st := g.CPUPerRequestMicros
		if client {
			st = g.ClientCPUPerRequestMicros
		}
		if len(st.Values) == 0 {
			return "—"
		}
		return fmt.Sprintf("%.1f", st.Median)
	}
	for _, sc := range s.scenarios() {
		if sc == "noop" {
			continue
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s |\n", sc, us(ModeAPI, sc, false), us(ModeAPINoBatch, sc, false),
			us(ModeNaive, sc, false), us(ModeRaw, sc, true), s.ratioCell(ratioCPURaw, sc),
			s.ratioCell("server CPU / request, naive / raw client", sc))
	}
	fmt.Fprintf(b, "\n| scenario | mode | peak RSS MiB |\n| --- | --- | --- |\n")
	for _, g := range s.Groups {
		if g.PeakRSSBytes > 0 {
			fmt.Fprintf(b, "| %s | %s | %.1f |\n", g.Scenario, title(g.Mode), float64(g.PeakRSSBytes)/(1<<20))
		}
	}
}

// writeNaive compares the API with the naive baseline, scenario by scenario.
func (s *Suite) writeNaive(b *strings.Builder) {
	fmt.Fprintf(b, "\n## API against the naive baseline\n\n")
	fmt.Fprintf(b, "The naive server (`bench/naive`, `loadgen naive`) calls gocql directly per request: no pool, no batching. ")
	fmt.Fprintf(b, "Above 1 the API is faster (throughput) or costlier (p99, CPU).\n\n")
	fmt.Fprintf(b, "| scenario | throughput API / naive | p99 API / naive | server CPU per request API / naive |\n| --- | --- | --- | --- |\n")
	for _, sc := range s.scenarios() {
		if s.Group(ModeNaive, sc) == nil {
			continue
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", sc, s.ratioCell(ratioRPSNaive, sc), s.ratioCell(ratioP99Naive, sc), s.ratioCell(ratioCPUNaive, sc))
	}
}

func (s *Suite) ratioCell(name, sc string) string {
	if v, ok := s.ratio(name, sc); ok {
		return fmt.Sprintf("%.2f", v)
	}
	return "—"
}
