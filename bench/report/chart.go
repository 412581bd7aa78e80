package report

import (
	"math"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Series is one line (or one set of bars) of a Chart.
type Series struct {
	Name  string
	Pts   plotter.XYs
	Style int // colour and marker index when the chart is Styled
}

// Chart is every figure of every report: lines over a numeric x, or over
// named x positions (Nominal), optionally on log axes, with dashed
// reference lines; or, with Bars, one bar per series at each named x.
type Chart struct {
	Title, X, Y string
	LogX, LogY  bool
	Nominal     []string // x tick names at 0, 1, ...
	Bars        bool
	Styled      bool // colours from Series.Style, not the order: a mode keeps its colour across charts
	Lines       []Series
	Refs        []Series // drawn dashed, e.g. a p99 bound
}

// Plot is a chart and the base name of its files.
type Plot struct {
	Base  string
	Chart Chart
}

// Save draws c into dir as BASE.svg and BASE.png and returns the SVG's
// name, or "" when no series has a point. Git keeps the SVG only
// (scripts/check-tracked.sh); the PNG is for a quick look on the machine.
func (c Chart) Save(dir, base string) (string, error) {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = c.Title, c.X, c.Y
	var n int
	var err error
	if c.Bars {
		n, err = c.bars(p)
	} else {
		n, err = c.lines(p)
	}
	if err != nil || n == 0 {
		return "", err
	}
	if len(c.Nominal) > 0 {
		p.NominalX(c.Nominal...)
	}
	p.Add(plotter.NewGrid())
	for _, ext := range []string{".svg", ".png"} {
		if err := p.Save(7*vg.Inch, 4*vg.Inch, filepath.Join(dir, base+ext)); err != nil {
			return "", err
		}
	}
	return base + ".svg", nil
}

func (c Chart) style(i int, s Series) int {
	if c.Styled {
		return s.Style
	}
	return i
}

// bars draws each series' Y values as bars side by side at x = 0, 1, ...
func (c Chart) bars(p *plot.Plot) (int, error) {
	if len(c.Lines) == 0 {
		return 0, nil
	}
	width := vg.Points(math.Min(40, 150/float64(len(c.Lines)*len(c.Nominal))))
	top := 0.0
	for i, s := range c.Lines {
		vals := make(plotter.Values, len(c.Nominal))
		for _, pt := range s.Pts {
			vals[int(pt.X)] = pt.Y
			top = math.Max(top, pt.Y)
		}
		bars, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return 0, err
		}
		bars.LineStyle.Width = 0
		bars.Color = plotutil.Color(c.style(i, s))
		bars.Offset = vg.Length(float64(i)-float64(len(c.Lines)-1)/2) * width
		p.Add(bars)
		p.Legend.Add(s.Name, bars)
	}
	// Room above the bars for the legend, and beside them for the offsets.
	p.Y.Min, p.Y.Max = 0, top*1.35
	p.X.Min, p.X.Max = -0.6, float64(len(c.Nominal))-0.4
	p.Legend.Top = true
	return len(c.Lines), nil
}

func (c Chart) lines(p *plot.Plot) (int, error) {
	lo, hi := math.Inf(1), math.Inf(-1)
	n := 0
	for i, s := range c.Lines {
		pts := c.positive(s.Pts)
		if len(pts) == 0 {
			continue
		}
		for _, pt := range pts {
			lo, hi = math.Min(lo, pt.Y), math.Max(hi, pt.Y)
		}
		l, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return 0, err
		}
		st := c.style(i, s)
		l.Color, points.Color, points.Shape = plotutil.Color(st), plotutil.Color(st), plotutil.Shape(st)
		p.Add(l, points)
		p.Legend.Add(s.Name, l, points)
		n++
	}
	if n == 0 {
		return 0, nil
	}
	for _, r := range c.Refs {
		pts := c.positive(r.Pts)
		if len(pts) == 0 {
			continue
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return 0, err
		}
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		l.Color = plotutil.Color(len(c.Lines))
		p.Add(l)
		p.Legend.Add(r.Name, l)
		for _, pt := range pts {
			lo, hi = math.Min(lo, pt.Y), math.Max(hi, pt.Y)
		}
	}
	if c.LogY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		p.Y.Min, p.Y.Max = lo/1.5, hi*1.5
	} else {
		p.Y.Min, p.Y.Max = math.Min(0, lo), hi*1.15+1e-9
	}
	if c.LogX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	p.Legend.Padding = vg.Points(2)
	p.Legend.YOffs = -vg.Points(2)
	return n, nil
}

// positive drops the points a log axis cannot show.
func (c Chart) positive(pts plotter.XYs) plotter.XYs {
	if !c.LogX && !c.LogY {
		return pts
	}
	var out plotter.XYs
	for _, pt := range pts {
		if (!c.LogX || pt.X > 0) && (!c.LogY || pt.Y > 0) {
			out = append(out, pt)
		}
	}
	return out
}
