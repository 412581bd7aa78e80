// Package naive is a BASELINE for the benchmark suite, never used by the
// service: the handler the engine exists to beat. Each request runs on its
// fasthttp goroutine and calls gocql directly, one prepared SELECT by id or
// one single INSERT, with the driver's default settings (only the contact
// points, the consistency the API uses, and the keyspace are set), go-json
// for bodies, no pool, no queue, no batching, no coalescing. It serves the
// API's GET /users/{id} and POST /users with the same JSON shapes, and
// /ready. `loadgen naive` runs it; `make bench` measures it as mode naive.
//
// Keep it that simple: the point of the comparison is what the engine's
// design buys over the obvious code. It must not import the engine or
// httpapi.
package naive
