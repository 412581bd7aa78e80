// Package httpapi is the service's HTTP layer on fasthttp: routing,
// decoding and validating requests, encoding answers, the one function that
// maps engine errors to statuses (engineStatus), the request metrics, the
// bearer-token check, and the OpenAPI document and embedded Swagger UI.
//
// The contract is the FastAPI original's: FastAPI-shaped errors
// ({"detail": ...}, and pydantic-shaped 422 lists), the same routes, fields
// and defaults.
//
// Every handler copies what it needs out of the fasthttp.RequestCtx, calls
// the engine under its own deadline (fasthttp's ctx.Done closes only at
// shutdown), and has written its answer before it returns: nothing keeps
// the ctx or points into its buffers afterwards.
//
// httpapi must not talk to Cassandra or import gocql: all data goes through
// the Store interface, which *engine.Engine implements. It reads no flags or
// environment; cmd/userapi configures it through Config.
package httpapi
