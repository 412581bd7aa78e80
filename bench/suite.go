package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// A suite directory, as scripts/bench.sh writes it:
//
//	DIR/meta.json            settings and machine facts (string values)
//	DIR/runs/*.json          one loadgen JSON summary per run, labelled
//	                         mode=api|raw|api-batch1|loadgen-noop,
//	                         scenario=get|create|mixed|noop, repeat=N
//	DIR/runs/M__S__N.wrk.txt wrk's output for mode M, scenario S, repeat N
//	DIR/pprof/*.txt          `go tool pprof -top` of the server, if taken
//
// LoadSuite reads it; WriteSuite adds report.md, results.json and plots.

// The suite's modes, in the order the report shows them.
const (
	ModeAPI         = "api"
	ModeRaw         = "raw"
	ModeAPINoBatch  = "api-batch1"
	ModeLoadgenNoop = "loadgen-noop"
	ModeWrkNoop     = "wrk-noop"
)

var modeOrder = []string{ModeAPI, ModeRaw, ModeAPINoBatch, ModeLoadgenNoop, ModeWrkNoop}

var modeTitles = map[string]string{
	ModeAPI:         "API",
	ModeRaw:         "raw CQL",
	ModeAPINoBatch:  "API, batching off",
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
	// CPUPerRequestMicros is the server's (for API modes), median over runs.
	CPUPerRequestMicros Stat  `json:"cpu_us_per_request"`
	PeakRSSBytes        int64 `json:"peak_rss_bytes"`
}

// P returns the median latency at percentile p in ms.
func (g *Group) P(p float64) float64 { return g.LatencyMs[pKey(p)].Median }

func pKey(p float64) string { return "p" + strings.TrimSuffix(fmt.Sprintf("%g", p), ".0") }

// Ratio is one comparison the report states.
type Ratio struct {
	Name     string  `json:"name"`
	Scenario string  `json:"scenario"`
	Value    float64 `json:"value"`
	Num      string  `json:"numerator"`
	Den      string  `json:"denominator"`
}

// Target is one of the goals, checked against the medians.
type Target struct {
	Name     string  `json:"name"`
	Want     string  `json:"want"`
	Measured float64 `json:"measured"`
	Unit     string  `json:"unit"`
	Status   string  `json:"status"` // met, missed, stated, not measured
	Note     string  `json:"note,omitempty"`
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
		var rps, cpu []float64
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
		}
		g.RequestsPerSec = newStat(rps)
		for key, v := range lat {
			g.LatencyMs[key] = newStat(v)
		}
		g.CPUPerRequestMicros = newStat(cpu)
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
	order := map[string]string{"get": "0", "create": "1", "mixed": "2", "mix": "2", "noop": "9"}
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
	var out []string
	for _, g := range s.Groups {
		if !slices.Contains(out, g.Scenario) {
			out = append(out, g.Scenario)
		}
	}
	return out
}

func (s *Suite) ratios() {
	s.Ratios = nil
	add := func(name, sc, num, den string, f func(*Group) float64) {
		a, b := s.Group(num, sc), s.Group(den, sc)
		if a == nil || b == nil || f(b) == 0 {
			return
		}
		s.Ratios = append(s.Ratios, Ratio{Name: name, Scenario: sc, Value: f(a) / f(b), Num: num, Den: den})
	}
	rps := func(g *Group) float64 { return g.RequestsPerSec.Median }
	p99 := func(g *Group) float64 { return g.P(99) }
	for _, sc := range s.scenarios() {
		add("throughput API / raw", sc, ModeAPI, ModeRaw, rps)
		add("p99 API / raw", sc, ModeAPI, ModeRaw, p99)
		add("throughput batching on / off", sc, ModeAPI, ModeAPINoBatch, rps)
		add("p99 batching on / off", sc, ModeAPI, ModeAPINoBatch, p99)
		add("throughput loadgen / wrk", sc, ModeLoadgenNoop, ModeWrkNoop, rps)
	}
}

func (s *Suite) ratio(name, sc string) (float64, bool) {
	for _, r := range s.Ratios {
		if r.Name == name && r.Scenario == sc {
			return r.Value, true
		}
	}
	return 0, false
}

func (s *Suite) targets() {
	s.Targets = nil
	atLeast := func(name, ratio, sc string, want float64) {
		t := Target{Name: name, Want: fmt.Sprintf(">= %.2f", want), Unit: "x"}
		v, ok := s.ratio(ratio, sc)
		switch {
		case !ok:
			t.Status = "not measured"
		case v >= want:
			t.Measured, t.Status = v, "met"
		default:
			t.Measured, t.Status = v, "missed"
			t.Note = fmt.Sprintf("short by %.1f%%", 100*(want-v)/want)
		}
		s.Targets = append(s.Targets, t)
	}
	atMost := func(name, ratio, sc string, want float64) {
		t := Target{Name: name, Want: fmt.Sprintf("<= %.2f", want), Unit: "x"}
		v, ok := s.ratio(ratio, sc)
		switch {
		case !ok:
			t.Status = "not measured"
		case v <= want:
			t.Measured, t.Status = v, "met"
		default:
			t.Measured, t.Status = v, "missed"
			t.Note = fmt.Sprintf("over by %.1f%%", 100*(v-want)/want)
		}
		s.Targets = append(s.Targets, t)
	}
	atLeast("GET-by-id throughput, API / raw", "throughput API / raw", "get", 0.85)
	atMost("GET-by-id p99, API / raw", "p99 API / raw", "get", 1.5)
	atLeast("create throughput, batching on / off", "throughput batching on / off", "create", 1.5)
	// "Above raw" is a strict inequality; 1.0 marks the line.
	atLeast("create throughput, API (batching) / raw single-statement", "throughput API / raw", "create", 1.0)
	atLeast("no-op server: loadgen / wrk -t1 throughput", "throughput loadgen / wrk", "noop", 1.0)
	cpu := Target{Name: "server CPU per GET-by-id request", Want: "as low as possible", Unit: "µs", Status: "not measured"}
	if g := s.Group(ModeAPI, "get"); g != nil && len(g.CPUPerRequestMicros.Values) > 0 {
		cpu.Measured, cpu.Status = g.CPUPerRequestMicros.Median, "stated"
	}
	s.Targets = append(s.Targets, cpu)
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
	if len(s.Meta) > 0 {
		keys := make([]string, 0, len(s.Meta))
		for k := range s.Meta {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(b, "| setting | value |\n| --- | --- |\n")
		for _, k := range keys {
			fmt.Fprintf(b, "| %s | %s |\n", k, mdEscape(s.Meta[k]))
		}
		b.WriteString("\n")
	}

	fmt.Fprintf(b, "## Targets\n\n| target | want | measured | verdict |\n| --- | --- | --- | --- |\n")
	for _, t := range s.Targets {
		measured := "—"
		if t.Status != "not measured" {
			measured = fmt.Sprintf("%.2f %s", t.Measured, t.Unit)
		}
		verdict := t.Status
		if t.Note != "" {
			verdict += ": " + t.Note
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", t.Name, t.Want, measured, verdict)
	}

	fmt.Fprintf(b, "\n## Ratios\n\n| scenario | ratio | value |\n| --- | --- | --- |\n")
	for _, r := range s.Ratios {
		fmt.Fprintf(b, "| %s | %s | %.3f |\n", r.Scenario, r.Name, r.Value)
	}

	fmt.Fprintf(b, "\n## Throughput and latency\n\n")
	fmt.Fprintf(b, "| scenario | mode | runs | req/s (median) | req/s min-max | p50 ms | p90 ms | p99 ms | p99.9 ms | errors | non-2xx |\n")
	fmt.Fprintf(b, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, g := range s.Groups {
		fmt.Fprintf(b, "| %s | %s | %d | %.0f | %.0f-%.0f | %s | %s | %s | %s | %d | %d |\n",
			g.Scenario, title(g.Mode), g.Runs, g.RequestsPerSec.Median, g.RequestsPerSec.Min, g.RequestsPerSec.Max,
			ms(g.P(50)), ms(g.P(90)), ms(g.P(99)), ms(g.P(99.9)), g.Errors, g.Non2xx)
	}

	fmt.Fprintf(b, "\n## Server cost\n\nCPU is the server process's user+system time over the measured phase ")
	fmt.Fprintf(b, "(`/proc/PID/stat`) divided by answered requests; peak RSS is `VmHWM`.\n\n")
	fmt.Fprintf(b, "| scenario | mode | CPU µs / request | peak RSS MiB |\n| --- | --- | --- | --- |\n")
	for _, g := range s.Groups {
		if len(g.CPUPerRequestMicros.Values) == 0 {
			continue
		}
		fmt.Fprintf(b, "| %s | %s | %.1f | %.1f |\n", g.Scenario, title(g.Mode), g.CPUPerRequestMicros.Median, float64(g.PeakRSSBytes)/(1<<20))
	}

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
