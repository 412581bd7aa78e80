package suite

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/userapi/userapi/bench/harness"
	"github.com/userapi/userapi/bench/report"
)

func (s *Report) document(plots []string) *report.Document {
	d := report.NewDocument("Benchmark report", s.Header,
		"Figures are medians of alternating runs; the spread (min-max) is in `results.json`.")
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
	d.Table("scenario", "mode", "peak RSS MiB", "write batch size at the end of each run",
		"read queries in flight per replica set at the end of each run (the pool's size: each read at once)")

	for _, g := range s.Groups {
		if g.PeakRSSBytes > 0 {
			d.Row(g.Scenario, harness.Title(g.Mode), fmt.Sprintf("%.1f", float64(g.PeakRSSBytes)/(1<<20)), strings.Join(g.BatchSizes, ", "), strings.Join(g.ReadInflights, ", "))
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
