// Package soak is the long run of `make soak` (loadgen soak): the API
// under a constant-rate mixed load for minutes, sampled every window (the
// server's memory, goroutines, GC and connections, the client's latency,
// Cassandra's compactions), then verdicts on drift, leaks, failures and
// lost writes (report.go). Its rate is given, or 70% of a sweep's knee, or
// of a short calibration of its own (rate.go). It runs the server through
// package harness, the load with package load, and writes through package
// report.
package soak
