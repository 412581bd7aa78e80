// Package large is `make bench-large` (loadgen large): get-by-id and list
// on a table preloaded with a million users beside a small one, each in a
// keyspace dropped first, and the large / small ratios. It runs through
// package harness, preloads with package load and writes through package
// report.
package large
