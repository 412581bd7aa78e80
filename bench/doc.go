// Package bench is the load harness behind cmd/loadgen and `make bench`,
// `make sweep`, `make soak` and `make bench-large`. Its code is in the
// packages below, each named for what it does:
//
//	load      generate load: one worker interface, per-worker connections,
//	          pacing from the intended send time, the API scenarios, raw CQL
//	measure   read a process and the node from outside: /proc, /metrics, CQL
//	harness   start and stop what is measured; build loadgen's command line
//	report    the report document, chart, verdict and meta.json writer
//	suite     the make bench suite: modes x scenarios, targets and verdicts
//	sweep     the capacity sweep and its knees
//	soak      the long constant-rate run and its verdicts
//	large     get and list on a preloaded large table beside a small one
//	naive     the naive baseline server the suite measures the API against
//
// bench/results holds the runs a document cites (scripts/check-tracked.sh).
// None of these packages may touch the engine or httpapi (the server is
// measured from outside, as a user would) or the flag package (flags live
// in cmd/loadgen).
package bench
