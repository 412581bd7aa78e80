// Package report writes what a run leaves: one markdown document type
// (document.go), one chart type (chart.go), one verdict type (verdict.go)
// and one writer of meta.json and results.json (meta.go). The suite, the
// sweep, the soak and the large-table run each fill these; none writes
// markdown, SVG or JSON by hand. It must not run anything.
package report
