// Package suite is the benchmark suite of `make bench` (loadgen suite):
// every mode (the API, raw CQL, the API with batching off, the naive
// baseline, the client's calibration) against every scenario, alternating,
// repeated; then medians, ratios, the targets with their verdicts, and
// plots (report.go, plot.go). It runs everything through package harness
// and writes through package report; it must not borrow another run's code.
package suite
