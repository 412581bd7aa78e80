package report

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Document is a report.md being written: a heading, where it comes from,
// the run's settings, then the caller's paragraphs, tables and plots.
type Document struct {
	b strings.Builder
}

// Header is what every report holds first: its directory (not in its
// JSON), when it was generated, and the run's settings from meta.json.
type Header struct {
	Dir       string            `json:"-"`
	Generated time.Time         `json:"generated"`
	Meta      map[string]string `json:"meta,omitempty"`
}

// Path is the report's report.md.
func (h Header) Path() string { return filepath.Join(h.Dir, "report.md") }

// NewDocument starts a report: "# title", the line saying when and from
// which directory it was generated (with intro after it, if any), and the
// settings table of h's meta.
func NewDocument(title string, h Header, intro string) *Document {
	d := &Document{}
	d.Printf("# %s\n\nGenerated %s from `%s`.", title, h.Generated.Format(time.RFC3339), h.Dir)
	if intro != "" {
		d.Printf(" %s", intro)
	}
	d.Printf("\n\n")
	if len(h.Meta) > 0 {
		d.Table("setting", "value")
		for _, k := range slices.Sorted(maps.Keys(h.Meta)) {
			d.Row(k, Escape(h.Meta[k]))
		}
		d.Printf("\n")
	}
	return d
}

// Printf appends text.
func (d *Document) Printf(format string, args ...any) { fmt.Fprintf(&d.b, format, args...) }

// Table starts a table with the given header.
func (d *Document) Table(head ...string) {
	d.Row(head...)
	d.Printf("|%s\n", strings.Repeat(" --- |", len(head)))
}

// Row appends a table row.
func (d *Document) Row(cells ...string) { d.Printf("| %s |\n", strings.Join(cells, " | ")) }

// Plots appends the "Plots" section embedding each named image.
func (d *Document) Plots(names []string) {
	if len(names) == 0 {
		return
	}
	d.Printf("\n## Plots\n\n")
	for _, p := range names {
		d.Printf("![%s](%s)\n\n", strings.TrimSuffix(p, filepath.Ext(p)), p)
	}
}

// String is the document so far.
func (d *Document) String() string { return d.b.String() }

// Write writes what every run leaves in dir: results as results.json,
// each plot as BASE.svg and BASE.png, and report.md as doc writes it with
// the names of the plots that have a point.
func Write(dir string, results any, plots []Plot, doc func(plots []string) *Document) error {
	if err := WriteJSON(filepath.Join(dir, "results.json"), results); err != nil {
		return err
	}
	var names []string
	for _, p := range plots {
		name, err := p.Chart.Save(dir, p.Base)
		if err != nil {
			return fmt.Errorf("plot %s: %w", p.Base, err)
		}
		if name != "" {
			names = append(names, name)
		}
	}
	return os.WriteFile(filepath.Join(dir, "report.md"), []byte(doc(names).String()), 0o644)
}

// Escape makes s safe inside a table cell.
func Escape(s string) string { return strings.NewReplacer("|", "\\|", "\n", " ").Replace(s) }

// Ms formats a latency in ms; a point the tool did not report (wrk has no
// p99.9) shows as a dash rather than a misleading zero.
func Ms(v float64) string {
	if v <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.3f", v)
}

// F formats v with format, or a dash when ok is false.
func F(format string, v float64, ok bool) string {
	if !ok {
		return "—"
	}
	return fmt.Sprintf(format, v)
}
