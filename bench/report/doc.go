// Package report writes what a run leaves: one markdown document type
// with the Header every report starts with, and Write, which leaves
// results.json, the plots and report.md (document.go); one chart type
// (chart.go), one verdict type (verdict.go) and the meta.json writer
// (meta.go). The suite, the sweep, the soak and the large-table run each
// fill these; none writes markdown, SVG or JSON by hand. It must not run
// anything.
package report
