package suite

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/userapi/userapi/bench/harness"
	"github.com/userapi/userapi/bench/load"
	"github.com/userapi/userapi/bench/measure"
	"github.com/userapi/userapi/bench/report"
)

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
		func(s load.Summary) float64 { return cpuPerRequest(s.Server) },
	}
	clientCPUOf = metric{
		func(g *Group) float64 { return g.ClientCPUPerRequestMicros.Median },
		func(s load.Summary) float64 { return cpuPerRequest(s.Client) },
	}
)

// cpuPerRequest is u's CPU µs per request, 0 when nothing was watched.
func cpuPerRequest(u *measure.Usage) float64 {
	if u == nil {
		return 0
	}
	return u.CPUPerRequestMicros
}

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
	node         string // only on a node whose commit log syncs so ("group", "periodic"); "": any
	delayed      bool   // only with a network between Cassandra and its clients (Config.Delay)
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

// goals are issue 12's GET targets (what the engine must buy over the
// naive handler and cost over the driver), issue 23's create targets, which
// depend on how the node syncs its commit log (meta.json's node), and the
// harness's own check. Issue 12's create targets (1.3x naive, 1.0x raw on
// any node) gave way to issue 23's: on a node that syncs before
// acknowledging no server reaches them (docs/benchmarks.md).
var goals = []goal{
	{"GET-by-id throughput, API / naive", "issue 12", "get", false, 1.1, "x", ratioRPSNaive, "", "", false},
	{"GET-by-id server CPU per request, API / naive", "issue 12", "get", true, 0.9, "x", ratioCPUNaive, "", "", false},
	{"GET-by-id server CPU / raw client CPU per read", "issue 12", "get", true, 1.3, "x", ratioCPURaw, "", "", false},
	{"GET-by-id throughput, API / raw", "issue 12", "get", false, 0.75, "x", ratioRPSRaw, "", "", false},
	{"GET-by-id p99, API / raw", "issue 12", "get", true, 1.5, "x", ratioP99Raw, "", "", false},
	{"GET-by-id p50 on one connection, API", "issue 12", harness.ScenarioGetOne, true, 0.6, "ms", "", harness.ModeAPI, "", false},
	{"create throughput, API / naive", "issue 23", "create", false, 1.25, "x", ratioRPSNaive, "", syncPeriodic, false},
	{"create throughput, API / batching off", "issue 23", "create", false, 1.15, "x", ratioRPSBatch, "", syncPeriodic, false},
	{"create server CPU per request, API / naive", "issue 23", "create", true, 0.8, "x", ratioCPUNaive, "", syncPeriodic, false},
	{"create p99, API / naive", "issue 23", "create", true, 1.0, "x", ratioP99Naive, "", syncPeriodic, false},
	{"create throughput, API / naive", "issue 23", "create", false, 1.0, "x", ratioRPSNaive, "", syncGroup, false},
	{"create throughput, API / batching off", "issue 23", "create", false, 0.95, "x", ratioRPSBatch, "", syncGroup, false},
	{"no-op server: loadgen / wrk -t1 throughput", "harness", "noop", false, 1.0, "x", ratioRPSCalibration, "", "", false},
	{"GET-by-id throughput through the delay, API / naive", "issue 23", "get", false, 1.2, "x", ratioRPSNaive, "", "", true},
	{"create throughput through the delay, API / naive", "issue 23", "create", false, 1.0, "x", ratioRPSNaive, "", "", true},
}

// Commit-log sync modes, as meta.json's node names them.
const (
	syncGroup    = "group"
	syncPeriodic = "periodic"
)

// nodeSync is the sync mode of the suite's node, from meta.json ("" when
// the suite ran without a node, or before reports named it).
func (s *Report) nodeSync() string {
	node := s.Meta["node"]
	for _, m := range []string{syncGroup, syncPeriodic, "batch"} {
		if strings.Contains(node, "commitlog_sync "+m) {
			return m
		}
	}
	return ""
}

func (s *Report) targets() {
	s.Targets = nil
	sync := s.nodeSync()
	for _, g := range goals {
		if g.node != "" && g.node != sync && !(g.node == syncGroup && sync == "batch") {
			continue
		}
		if g.delayed && s.Meta["delay"] == "" {
			continue
		}
		if g.node != "" {
			g.name += " (" + g.node + "-sync node)"
		}
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
