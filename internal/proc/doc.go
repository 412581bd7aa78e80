// Package proc starts, watches and stops the Go binaries that the bench
// harness (bench/harness, for the suite, sweep, soak and large runs) and
// the fault drills (internal/faults) run: one process per Start, its
// output captured, readiness awaited over HTTP or TCP, and a stop by its
// own pid, SIGTERM first and SIGKILL after a grace period. It also reads
// a process's CPU time and resident memory from /proc/PID/stat and
// /proc/PID/status.
//
// It owns only processes it started: it never looks a process up by name,
// and Stop acts on the pid Start returned. It must not touch Cassandra
// (scripts/cassandra.sh starts and stops the nodes), HTTP beyond a
// readiness probe, or the flag package.
package proc
