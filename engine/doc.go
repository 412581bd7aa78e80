// Package engine owns everything that talks to Cassandra: the gocql session,
// the schema, prepared statements, the bounded ants worker pool that runs
// every query, the token-aware write batcher, read coalescing, paging, the
// error taxonomy and the engine's metrics.
//
// Callers (the HTTP layer) never see gocql: they call Engine methods with a
// context whose deadline bounds the whole request, and get back plain Go
// values and errors that match one of the sentinels in errors.go.
//
// engine must not import fasthttp, net/http handlers or the flag package;
// configuration arrives as a Config struct.
package engine
