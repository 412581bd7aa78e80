package suite

import (
	"gonum.org/v1/plot/plotter"

	"github.com/userapi/userapi/bench/harness"
	"github.com/userapi/userapi/bench/report"
)

// plots are the suite's throughput and latency figures.
func (s *Report) plots() []report.Plot {
	var api, calibration []string
	for _, sc := range s.scenarios() {
		if sc == "noop" {
			calibration = append(calibration, sc)
		} else {
			api = append(api, sc)
		}
	}
	plots := []report.Plot{
		{Base: "throughput", Chart: s.throughput("Throughput (median of runs)", api)},
		{Base: "calibration", Chart: s.throughput("Client check: no-op server (median of runs)", calibration)},
	}
	for _, sc := range s.scenarios() {
		plots = append(plots, report.Plot{Base: "latency-" + sc, Chart: s.latency(sc)})
	}
	return plots
}

func (s *Report) modes() []string {
	return harness.Modes(harness.Distinct(s.Groups, func(g *Group) string { return g.Mode }))
}

// throughput is median req/s for the given scenarios, one bar per mode
// that ran any of them.
func (s *Report) throughput(title string, scenarios []string) report.Chart {
	c := report.Chart{Title: title, Y: "requests / s", Nominal: scenarios, Bars: true, Styled: true}
	for _, m := range s.modes() {
		var pts plotter.XYs
		for j, sc := range scenarios {
			if g := s.Group(m, sc); g != nil {
				pts = append(pts, plotter.XY{X: float64(j), Y: g.RequestsPerSec.Median})
			}
		}
		if len(pts) > 0 {
			c.Lines = append(c.Lines, report.Series{Name: harness.Title(m), Pts: pts, Style: harness.ModeRank(m)})
		}
	}
	return c
}

// latency is one scenario's median latency at each percentile, one line
// per mode, on a log scale so that the tail and the median both show.
func (s *Report) latency(sc string) report.Chart {
	labels := []string{"p50", "p90", "p99", "p99.9", "max"}
	c := report.Chart{Title: "Latency percentiles: " + sc, X: "percentile", Y: "ms (log scale)", LogY: true, Nominal: labels, Styled: true}
	for _, m := range s.modes() {
		if g := s.Group(m, sc); g != nil {
			var pts plotter.XYs
			for j, key := range labels {
				pts = append(pts, plotter.XY{X: float64(j), Y: g.LatencyMs[key].Median})
			}
			c.Lines = append(c.Lines, report.Series{Name: harness.Title(m), Pts: pts, Style: harness.ModeRank(m)})
		}
	}
	return c
}
