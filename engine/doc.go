// Package engine owns everything that talks to Cassandra: the gocql session,
// the schema, prepared statements, the bounded ants worker pool that runs
// every query, the lines that batch writes and group reads per replica set,
// read coalescing, paging, the error taxonomy and the engine's metrics.
//
// Callers (the HTTP layer) never see gocql: they call Engine methods with a
// context whose deadline bounds the whole request, and get back plain Go
// values and errors that match one of the sentinels in errors.go.
//
// A request's path, one file per step:
//
//	reads.go                       the caller's side of each kind of task, with
//	writes.go, batch.go            the CQL a worker runs for it beside it: GetUser
//	updates.go                     (coalescing) and its query; Create/DeleteUser and
//	pages.go                       a lone write; a write line's UNLOGGED batch and
//	health.go                      its routing observer; UpdateUser, its per-id
//	                               queue and read-merge-write; ListUsers/StreamUsers
//	                               and a page; ProbeRead and the health probe
//	lines.go                       grouped/batched: reads and writes that queue up,
//	                               per replica set; the worker that ends a query
//	                               of a line takes those waiting as its next one
//	                               (no goroutine or hand-off of its own; a timer
//	                               only for Config.BatchLinger)
//	readgroup.go                   the read-specific part: one IN query for a group
//	admit.go                       admitted: the one entry point (Engine.admit,
//	                               admitWrites for a batch create) and the bounded
//	                               gate shared by the pool's queue and the tasks
//	                               waiting in lines
//	pool.go                        queued and dispatched to the ants workers
//	exec.go                        executed on a worker: the worker loop, the panic
//	                               guard, dispatch by task kind, and onSessions,
//	                               the fallback between the two sets of
//	                               connections that every query goes through
//	task.go                        completed: the request object and its lifecycle
//	                               (who holds it, who completes it, who recycles it)
//
// Beside them: stamp.go (the write timestamps that order updates),
// engine.go (New, Close, background loops), connect.go (driver and TLS
// settings; the two sets of connections and when a query may run on the
// other), tuner.go (the adaptive batch size and read grouping),
// config.go, types.go (the public value types), errors.go (the
// kinds: sentinel and metric label), metrics.go, schema.go (CQL text),
// ring.go and murmur3.go (the token ring the lines group by).
//
// engine must not import fasthttp, net/http handlers or the flag package;
// configuration arrives as a Config struct.
package engine
