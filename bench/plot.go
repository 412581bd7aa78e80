package bench

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// writePlots draws the suite's throughput and latency figures as SVG and
// PNG and returns the SVG names for the report to embed.
func (s *Suite) writePlots() ([]string, error) {
	var names []string
	var api, calibration []string
	for _, sc := range s.scenarios() {
		if sc == "noop" {
			calibration = append(calibration, sc)
		} else {
			api = append(api, sc)
		}
	}
	for _, fig := range []struct {
		base, heading string
		scenarios     []string
	}{
		{"throughput", "Throughput (median of runs)", api},
		{"calibration", "Client check: no-op server (median of runs)", calibration},
	} {
		if len(fig.scenarios) == 0 {
			continue
		}
		n, err := s.plotThroughput(fig.base, fig.heading, fig.scenarios)
		if err != nil {
			return nil, fmt.Errorf("%s plot: %w", fig.base, err)
		}
		if n != "" {
			names = append(names, n)
		}
	}
	for _, sc := range s.scenarios() {
		n, err := s.plotLatency(sc)
		if err != nil {
			return nil, fmt.Errorf("latency plot of %s: %w", sc, err)
		}
		if n != "" {
			names = append(names, n)
		}
	}
	return names, nil
}

func (s *Suite) save(p *plot.Plot, base string, w, h vg.Length) (string, error) {
	return savePlot(p, s.Dir, base, w, h)
}

// savePlot writes p as DIR/BASE.svg and .png and returns the SVG's name.
func savePlot(p *plot.Plot, dir, base string, w, h vg.Length) (string, error) {
	for _, ext := range []string{".svg", ".png"} {
		if err := p.Save(w, h, filepath.Join(dir, base+ext)); err != nil {
			return "", err
		}
	}
	return base + ".svg", nil
}

func (s *Suite) modes() []string {
	var out []string
	for _, m := range modeOrder {
		for _, g := range s.Groups {
			if g.Mode == m {
				out = append(out, m)
				break
			}
		}
	}
	for _, g := range s.Groups {
		if modeRank(g.Mode) == len(modeOrder) && !slices.Contains(out, g.Mode) {
			out = append(out, g.Mode)
		}
	}
	return out
}

// plotThroughput draws median req/s for the given scenarios, one bar per
// mode that ran any of them; it returns "" when none did.
func (s *Suite) plotThroughput(base, heading string, scenarios []string) (string, error) {
	var modes []string
	for _, m := range s.modes() {
		for _, sc := range scenarios {
			if s.Group(m, sc) != nil {
				modes = append(modes, m)
				break
			}
		}
	}
	if len(modes) == 0 {
		return "", nil
	}
	p := plot.New()
	p.Title.Text = heading
	p.Y.Label.Text = "requests / s"
	width := vg.Points(math.Min(40, 150/float64(len(modes)*len(scenarios))))
	top := 0.0
	for i, m := range modes {
		vals := make(plotter.Values, len(scenarios))
		for j, sc := range scenarios {
			if g := s.Group(m, sc); g != nil {
				vals[j] = g.RequestsPerSec.Median
				top = math.Max(top, vals[j])
			}
		}
		bars, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return "", err
		}
		bars.LineStyle.Width = 0
		bars.Color = plotutil.Color(modeRank(m))
		bars.Offset = vg.Length(float64(i)-float64(len(modes)-1)/2) * width
		p.Add(bars)
		p.Legend.Add(title(m), bars)
	}
	// Room above the bars for the legend, and beside them for the offsets.
	p.Y.Min, p.Y.Max = 0, top*1.35
	p.X.Min, p.X.Max = -0.6, float64(len(scenarios))-0.4
	p.Legend.Top = true
	p.NominalX(scenarios...)
	p.Add(plotter.NewGrid())
	return s.save(p, base, 7*vg.Inch, 4*vg.Inch)
}

// plotLatency draws one scenario's median latency at each percentile, one
// line per mode, on a log scale so that the tail and the median both show.
func (s *Suite) plotLatency(sc string) (string, error) {
	p := plot.New()
	p.Title.Text = "Latency percentiles: " + sc
	p.Y.Label.Text = "ms (log scale)"
	p.X.Label.Text = "percentile"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	labels := []string{"p50", "p90", "p99", "p99.9", "max"}
	lines := 0
	lo, hi := math.Inf(1), 0.0
	for _, m := range s.modes() {
		g := s.Group(m, sc)
		if g == nil {
			continue
		}
		var pts plotter.XYs
		for j, key := range labels {
			v := g.LatencyMs[key].Median
			if v <= 0 {
				continue
			}
			pts = append(pts, plotter.XY{X: float64(j), Y: v})
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		if len(pts) == 0 {
			continue
		}
		l, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return "", err
		}
		l.Color = plotutil.Color(modeRank(m))
		points.Color = plotutil.Color(modeRank(m))
		points.Shape = plotutil.Shape(modeRank(m))
		p.Add(l, points)
		p.Legend.Add(title(m), l, points)
		lines++
	}
	if lines == 0 {
		return "", nil
	}
	// A log axis needs a positive range with some room around the data.
	p.Y.Min, p.Y.Max = lo/1.5, hi*1.5
	p.Legend.Top = true
	p.Legend.Left = true
	p.NominalX(labels...)
	p.Add(plotter.NewGrid())
	return s.save(p, "latency-"+sc, 7*vg.Inch, 4*vg.Inch)
}
