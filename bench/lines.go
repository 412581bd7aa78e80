package bench

import (
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// series is one line of a line chart.
type series struct {
	name string
	pts  plotter.XYs
}

// lineChart is the sweep's and the soak's figure: lines over a numeric x,
// optionally on log axes, with optional horizontal reference lines.
type lineChart struct {
	title, x, y string
	logX, logY  bool
	lines       []series
	refs        []series // drawn dashed, e.g. a p99 bound
}

// save draws c into dir as BASE.svg and .png and returns the SVG's name,
// or "" when no line has a point.
func (c lineChart) save(dir, base string) (string, error) {
	p := plot.New()
	p.Title.Text = c.title
	p.X.Label.Text = c.x
	p.Y.Label.Text = c.y
	lo, hi := math.Inf(1), math.Inf(-1)
	n := 0
	for i, s := range c.lines {
		pts := c.positive(s.pts)
		if len(pts) == 0 {
			continue
		}
		for _, pt := range pts {
			lo, hi = math.Min(lo, pt.Y), math.Max(hi, pt.Y)
		}
		l, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return "", err
		}
		l.Color, points.Color, points.Shape = plotutil.Color(i), plotutil.Color(i), plotutil.Shape(i)
		p.Add(l, points)
		p.Legend.Add(s.name, l, points)
		n++
	}
	if n == 0 {
		return "", nil
	}
	for _, r := range c.refs {
		pts := c.positive(r.pts)
		if len(pts) == 0 {
			continue
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return "", err
		}
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		l.Color = plotutil.Color(len(c.lines))
		p.Add(l)
		p.Legend.Add(r.name, l)
		for _, pt := range pts {
			lo, hi = math.Min(lo, pt.Y), math.Max(hi, pt.Y)
		}
	}
	if c.logY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		p.Y.Min, p.Y.Max = lo/1.5, hi*1.5
	} else {
		p.Y.Min, p.Y.Max = math.Min(0, lo), hi*1.15+1e-9
	}
	if c.logX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	p.Legend.Padding = vg.Points(2)
	p.Legend.YOffs = -vg.Points(2)
	p.Add(plotter.NewGrid())
	return savePlot(p, dir, base, 7*vg.Inch, 4*vg.Inch)
}

// positive drops the points a log axis cannot show.
func (c lineChart) positive(pts plotter.XYs) plotter.XYs {
	if !c.logX && !c.logY {
		return pts
	}
	var out plotter.XYs
	for _, pt := range pts {
		if (!c.logX || pt.X > 0) && (!c.logY || pt.Y > 0) {
			out = append(out, pt)
		}
	}
	return out
}
