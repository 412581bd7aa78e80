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
//
// Files by concern:
//
//	server.go      Config, Server, routing, the bearer-token check, the root handler
//	users.go       the /users handlers; stream.go the two stream walks
//	ops.go         /health, /ready and /performance; exposition.go /metrics
//	params.go      query parameters and the X-Consistency-Level and X-Request-Timeout headers
//	body.go        request bodies: the user, the patch, the batch, with their limits
//	jsonscan.go    the walker over already-validated JSON; email.go the address check
//	encode.go      JSON answers; errors.go error answers, 422 lists, engineStatus
//	metrics.go     the HTTP request series
//	deadline.go    request deadlines without a timer each; conn.go socket deadlines in steps
//	openapi.go     the OpenAPI document; swaggerui.go the /docs page and its assets
package httpapi
