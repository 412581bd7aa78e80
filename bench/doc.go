// Package bench is the load harness behind cmd/loadgen and `make bench`.
//
// It owns: driving HTTP load (ab-style fixed request counts, wrk-style
// durations, and constant-rate runs whose latency is taken from each
// request's intended send time, so a stall cannot hide behind coordinated
// omission), each worker on a fasthttp-framed connection of its own as in
// wrk and ab (conn.go; warm-up and set-up use fasthttp's pooled client); the
// API scenarios (get-by-id, create, batch create,
// update, list with paging, delete, weighted mixes) with realistic bodies and
// ids taken from responses; the same reads and writes sent straight to
// Cassandra with gocql (RunRaw), which is the limit the API is measured
// against; latency in HDR histograms; the ab, wrk and JSON renderings of a
// run; server CPU and peak RSS, and loadgen's own CPU, from /proc; a no-op
// server to calibrate the client against; the suite that `make bench` runs
// (RunSuite: servers and loads as processes through internal/proc, modes
// alternating, meta.json); and the suite report (medians, ratios, targets
// with computed verdicts, plots) that `loadgen report` writes. The naive
// baseline server the suite measures the API against is bench/naive.
//
// It must not touch: the engine or httpapi packages (it measures the server
// from outside, over HTTP or CQL, as a user would), the flag package (flags
// live in cmd/loadgen), or any address outside 127.0.0.0/8 unless a caller
// sets Config.AllowRemote.
package bench
