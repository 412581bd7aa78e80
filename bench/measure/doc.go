// Package measure reads a process and the node from outside: CPU time and
// peak RSS over a run from /proc (proc.go), a server's /metrics and sockets
// (probe.go), and Cassandra's background work over CQL and nodetool
// (node.go). It must not start or stop anything (package harness does) nor
// drive load (package load).
package measure
