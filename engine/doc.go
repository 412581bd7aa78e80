// Package engine owns everything that talks to Cassandra: the gocql session,
// the schema, prepared statements, the bounded ants worker pool that runs
// every query, the token-aware write batcher, read coalescing and grouping,
// paging, the error taxonomy and the engine's metrics.
//
// Callers (the HTTP layer) never see gocql: they call Engine methods with a
// context whose deadline bounds the whole request, and get back plain Go
// values and errors that match one of the sentinels in errors.go.
//
// A request's path, one file per step:
//
//	reads.go, writes.go, pages.go  the caller's side: GetUser (with coalescing),
//	                               Create/Update/DeleteUser, ListUsers/StreamUsers
//	admit.go                       admitted: the one entry point (Engine.admit) and
//	                               the bounded gate the pool and batcher share
//	batcher.go                     batched: writes grouped by replica set
//	readgroup.go                   grouped: reads that queue up, one IN query
//	                               per replica set (no goroutine of its own)
//	pool.go                        queued and dispatched to the ants workers
//	exec.go                        executed on a worker: the worker loop, the panic
//	                               guard and the CQL of every task kind but the
//	                               grouped read (readgroup.go)
//	task.go                        completed: the request object and its lifecycle
//	                               (who holds it, who completes it, who recycles it)
//
// Beside them: stamp.go (the write timestamps that order updates),
// engine.go (New, Close, background loops), connect.go (driver and TLS
// settings), config.go, types.go (the public value types), errors.go (the
// kinds: sentinel and metric label), metrics.go, schema.go (CQL text),
// ring.go and murmur3.go (the token ring the batcher groups by).
//
// engine must not import fasthttp, net/http handlers or the flag package;
// configuration arrives as a Config struct.
package engine
