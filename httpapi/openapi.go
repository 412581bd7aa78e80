package httpapi

import (
	json "github.com/goccy/go-json"

	"github.com/userapi/userapi/engine"
)

// The OpenAPI 3.1 description of every route, built once at start-up. A
// test checks that each registered route is described here and nothing
// else is, so the two cannot drift apart.

type obj = map[string]any

func ref(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }

func jsonContent(schema obj) obj {
	return obj{"application/json": obj{"schema": schema}}
}

func resp(desc string, schema obj) obj {
	r := obj{"description": desc}
	if schema != nil {
		r["content"] = jsonContent(schema)
	}
	return r
}

func errResp(desc string) obj { return resp(desc, ref("HTTPError")) }

var (
	resp422 = resp("Validation error: one entry per problem", ref("HTTPValidationError"))
	resp503 = obj{
		"description": "Overloaded, Cassandra unavailable, or shutting down; retry after the given seconds",
		"headers":     obj{"Retry-After": obj{"schema": obj{"type": "integer"}, "description": "Seconds to wait"}},
		"content":     jsonContent(ref("HTTPError")),
	}
	resp504 = errResp("Cassandra did not answer within the request timeout")
	resp500 = errResp("Unexpected error (details only in the server log)")
	resp502 = errResp("Outcome unknown: the write reached the database and its answer was lost " +
		"(the connection broke after the request was sent), so it may have been applied. " +
		"No Retry-After: a blind retry of a create makes a second user; read before retrying.")
	resp502Batch = resp("Outcome unknown or partial: some writes were applied, or may have been. "+
		"`created` lists the users that were written; the others may or may not exist. No Retry-After.",
		ref("HTTPPartialError"))
	resp504Batch = resp("Cassandra did not answer within the request timeout; `created`, when present, "+
		"lists the users that were written", ref("HTTPPartialError"))
)

// withWriteErrors adds the answers of routes that write: withErrors' and
// the 502 of an unknown outcome.
func withWriteErrors(r obj) obj {
	if _, ok := r["502"]; !ok {
		r["502"] = resp502
	}
	return withErrors(r)
}

// withErrors adds the answers every engine-backed route can give, where r
// does not describe them itself.
func withErrors(r obj) obj {
	for code, v := range map[string]obj{"422": resp422, "500": resp500, "503": resp503, "504": resp504} {
		if _, ok := r[code]; !ok {
			r[code] = v
		}
	}
	return r
}

func intQuery(name, desc string, def, lo, hi int) obj {
	return obj{
		"name": name, "in": "query", "required": false, "description": desc,
		"schema": obj{"type": "integer", "default": def, "minimum": lo, "maximum": hi},
	}
}

var (
	consistencyParam = obj{
		"name": "X-Consistency-Level", "in": "header", "required": false,
		"description": "Cassandra consistency level for this request; default is the server's -consistency",
		"schema":      obj{"type": "string", "enum": []string{"ONE", "LOCAL_ONE", "QUORUM", "LOCAL_QUORUM", "ALL", "EACH_QUORUM"}},
	}
	timeoutParam = obj{
		"name": "X-Request-Timeout", "in": "header", "required": false,
		"description": "Deadline of this request's database work, in seconds (a decimal such as 0.1 or 10). " +
			"Never longer than the server's -request-timeout (for the stream routes, the stream timeout); " +
			"past it the answer is 504 and the work is cancelled. Zero, negative, non-finite or malformed: 422.",
		"schema": obj{"type": "number", "exclusiveMinimum": 0},
	}
	userIDParam = obj{
		"name": "user_id", "in": "path", "required": true,
		"description": "User id (UUID); anything else is a 400",
		"schema":      obj{"type": "string", "format": "uuid"},
	}
)

func op(tag, id, summary, desc string, params []obj, body obj, responses obj) obj {
	o := obj{"tags": []string{tag}, "operationId": id, "summary": summary, "responses": responses}
	if desc != "" {
		o["description"] = desc
	}
	if len(params) > 0 {
		o["parameters"] = params
	}
	if body != nil {
		o["requestBody"] = obj{"required": true, "content": jsonContent(body)}
	}
	return o
}

func openAPISpec(docsPublic bool, assets []string) obj {
	str := func(desc string) obj { return obj{"type": "string", "description": desc} }
	timestamp := obj{"type": "string", "format": "date-time",
		"description": "RFC 3339 UTC with exactly three fractional digits", "example": "2024-01-10T12:00:00.000Z"}
	name := obj{"type": "string", "minLength": 1, "maxLength": 100}
	email := obj{"type": "string", "format": "email"}
	age := obj{"type": "integer", "minimum": 0, "maximum": 150}
	nullable := func(s obj) obj { return obj{"anyOf": []obj{s, {"type": "null"}}} }

	schemas := obj{
		"UserCreate": obj{
			"type": "object", "required": []string{"name", "email", "age"},
			"properties": obj{"name": name, "email": email, "age": age},
			"example":    obj{"name": "John Doe", "email": "john@example.com", "age": 30},
		},
		"UserUpdate": obj{
			"type":        "object",
			"description": "Partial update: absent or null fields keep their value",
			"properties":  obj{"name": nullable(name), "email": nullable(email), "age": nullable(age)},
			"example":     obj{"name": "Jane Doe", "age": 31},
		},
		"UserResponse": obj{
			"type": "object", "required": []string{"id", "name", "email", "age", "created_at", "updated_at"},
			"properties": obj{
				"id": obj{"type": "string", "format": "uuid"}, "name": name, "email": email, "age": age,
				"created_at": timestamp, "updated_at": timestamp,
			},
		},
		"UserBatch": obj{
			"type": "object", "required": []string{"users"},
			"properties": obj{"users": obj{"type": "array", "minItems": 1, "maxItems": 1000, "items": ref("UserCreate")}},
		},
		"UserBatchResponse": obj{
			"type": "object", "required": []string{"created"},
			"properties": obj{"created": obj{"type": "array", "items": ref("UserResponse")}},
		},
		"StreamResponse": obj{
			"type": "object",
			"properties": obj{
				"users":  obj{"type": "array", "items": ref("UserResponse")},
				"detail": str("Present, in place of metadata, when the walk failed after rows were sent"),
				"metadata": obj{"type": "object", "properties": obj{
					"total_returned": obj{"type": "integer"}, "pages_fetched": obj{"type": "integer"},
					"fetch_size": obj{"type": "integer"}, "streaming_enabled": obj{"type": "boolean"},
				}},
			},
		},
		"PagesResponse": obj{
			"type": "object",
			"properties": obj{
				"pages_processed":      obj{"type": "integer"},
				"total_rows_processed": obj{"type": "integer"},
				"pages_info": obj{"type": "array", "items": obj{"type": "object", "properties": obj{
					"page_number":  obj{"type": "integer"},
					"rows_in_page": obj{"type": "integer"},
					"sample_user": nullable(obj{"type": "object", "properties": obj{
						"id": obj{"type": "string", "format": "uuid"}, "name": name, "email": email,
					}}),
				}}},
				"metadata": obj{"type": "object", "properties": obj{
					"fetch_size": obj{"type": "integer"}, "max_pages_limit": obj{"type": "integer"},
					"streaming_mode": obj{"type": "string", "const": "page_by_page"},
				}},
			},
		},
		"PerformanceResult": obj{
			"type": "object",
			"properties": obj{
				"total_time":           obj{"type": "number", "description": "seconds"},
				"requests":             obj{"type": "integer"},
				"successful_requests":  obj{"type": "integer"},
				"avg_time_per_request": obj{"type": "number", "description": "seconds"},
				"requests_per_second":  obj{"type": "number"},
				"mode":                 obj{"type": "string", "enum": []string{"async", "sync"}},
			},
		},
		"Health": obj{
			"type": "object",
			"properties": obj{
				"status":              obj{"type": "string", "enum": []string{"healthy", "unhealthy"}},
				"cassandra_connected": obj{"type": "boolean"},
				"timestamp":           timestamp,
			},
		},
		"HTTPError": obj{
			"type": "object", "required": []string{"detail"},
			"properties": obj{"detail": str("What went wrong")},
		},
		"HTTPPartialError": obj{
			"type": "object", "required": []string{"detail"},
			"properties": obj{
				"detail":  str("What went wrong"),
				"created": obj{"type": "array", "items": ref("UserResponse"), "description": "The users that were written"},
			},
		},
		"HTTPValidationError": obj{
			"type":       "object",
			"properties": obj{"detail": obj{"type": "array", "items": ref("ValidationError")}},
		},
		"ValidationError": obj{
			"type": "object", "required": []string{"loc", "msg", "type"},
			"properties": obj{
				"loc":  obj{"type": "array", "items": obj{"anyOf": []obj{{"type": "string"}, {"type": "integer"}}}},
				"msg":  obj{"type": "string"},
				"type": obj{"type": "string"},
			},
		},
	}

	userResp := resp("The user", ref("UserResponse"))
	notFound := errResp("User not found")
	badID := errResp("Malformed user id: `{\"detail\": \"Invalid user ID format\"}`")
	userPath := obj{
		"get": op("users", "get_user", "Get a user", "", []obj{userIDParam, consistencyParam, timeoutParam}, nil,
			withErrors(obj{"200": userResp, "400": errResp("Malformed user id: `{\"detail\": \"Invalid UUID\"}`"), "404": notFound})),
		"put": op("users", "update_user", "Update a user (partial merge)",
			"Absent or null fields keep their value; `{}` is accepted. `updated_at` always moves forward. "+
				"An update never re-creates a deleted user.",
			[]obj{userIDParam, consistencyParam, timeoutParam}, ref("UserUpdate"),
			withWriteErrors(obj{"200": userResp, "400": badID, "404": notFound})),
		"delete": op("users", "delete_user", "Delete a user", "Idempotent: deleting a missing user is a 204 too.",
			[]obj{userIDParam, consistencyParam, timeoutParam}, nil,
			withWriteErrors(obj{"204": obj{"description": "Deleted"}, "400": badID})),
	}
	patch := op("users", "patch_user", "Update a user (partial merge)", "Same as PUT.",
		[]obj{userIDParam, consistencyParam, timeoutParam}, ref("UserUpdate"),
		withWriteErrors(obj{"200": userResp, "400": badID, "404": notFound}))
	userPath["patch"] = patch

	perf := func(mode, desc string) obj {
		return obj{"get": op("performance", "performance_"+mode, "Run N probe reads ("+mode+")", desc,
			[]obj{intQuery("requests", "Number of `SELECT ... LIMIT 1` queries", defaultPerfRequests, 1, maxPerfRequests), timeoutParam},
			nil, withErrors(obj{"200": resp("Timing", ref("PerformanceResult"))}))}
	}

	paths := obj{
		"/health": obj{"get": op("health", "health", "Liveness and Cassandra connectivity", "Always 200.", nil, nil,
			obj{"200": resp("Health report", ref("Health"))})},
		"/ready": obj{"get": op("health", "ready", "Readiness for load balancers",
			"503 while Cassandra is unreachable or the server is draining.", nil, nil,
			obj{"200": resp("Ready", obj{"type": "object", "properties": obj{"status": obj{"type": "string"}}}),
				"503": errResp("Not ready")})},
		"/metrics": obj{"get": op("health", "metrics", "Prometheus metrics", "HTTP, process and engine series.", nil, nil,
			obj{"200": obj{"description": "Prometheus text format", "content": obj{"text/plain": obj{"schema": obj{"type": "string"}}}}})},
		"/openapi.json": obj{"get": op("docs", "openapi", "This document", "", nil, nil,
			obj{"200": obj{"description": "OpenAPI document", "content": obj{"application/json": obj{}}}})},
		"/docs": obj{"get": op("docs", "docs", "Interactive documentation (Swagger UI)", "", nil, nil,
			obj{"200": obj{"description": "HTML page", "content": obj{"text/html": obj{}}}})},
		"/docs/{file}": obj{"get": op("docs", "docs_asset", "Swagger UI asset", "", []obj{{
			"name": "file", "in": "path", "required": true, "schema": obj{"type": "string", "enum": assets}}}, nil,
			obj{"200": obj{"description": "The file"}, "404": errResp("No such asset")})},
		"/users": obj{
			"post": op("users", "create_user", "Create a user", "Answers 201 with `Location: /users/{id}`.",
				[]obj{consistencyParam, timeoutParam}, ref("UserCreate"),
				withWriteErrors(obj{"201": obj{
					"description": "Created",
					"headers":     obj{"Location": obj{"schema": obj{"type": "string"}}},
					"content":     jsonContent(ref("UserResponse")),
				}})),
			"get": op("users", "list_users", "List users, a page at a time",
				"When more rows exist the answer carries `X-Next-Page-State` and a `Link: <...>; rel=\"next\"` header; "+
					"pass the token back as `page_state` to continue. A walk visits every row once.",
				[]obj{
					intQuery("limit", "Page size", defaultListLimit, 1, maxListLimit),
					{"name": "page_state", "in": "query", "required": false,
						"schema": obj{"type": "string", "pattern": engine.PageStatePattern, "maxLength": 12},
						"description": "Token from X-Next-Page-State, passed back as it is; empty or absent: the first page. " +
							"Any token of this pattern is accepted: it names the position a walk resumes from; " +
							"a token of another shape is a 422."},
					consistencyParam, timeoutParam,
				}, nil,
				withErrors(obj{"200": obj{
					"description": "A page of users",
					"headers": obj{
						"X-Next-Page-State": obj{"schema": obj{"type": "string"}, "description": "Token of the next page"},
						"Link":              obj{"schema": obj{"type": "string"}, "description": `</users?limit=N&page_state=T>; rel="next"`},
					},
					"content": jsonContent(obj{"type": "array", "items": ref("UserResponse")}),
				}})),
		},
		"/users/batch": obj{"post": op("users", "create_users", "Create 1-1000 users",
			"All users are validated first: one invalid item is a 422 naming its index, and nothing is written. "+
				"Writes go through the engine's token-aware batching.",
			[]obj{consistencyParam, timeoutParam}, ref("UserBatch"),
			withWriteErrors(obj{"201": resp("Created, in input order", ref("UserBatchResponse")),
				"502": resp502Batch, "504": resp504Batch}))},
		"/users/stream": obj{"get": op("users", "stream_users", "Walk the table page by page",
			"`limit=0` means no limit (capped at 100000 in the JSON form). Both forms stream as pages arrive, "+
				"with memory bounded by one page; with `Accept: application/x-ndjson` one user per line. An error after "+
				"the first row ends the stream: NDJSON with a last line `{\"detail\": ...}`, JSON with `\"detail\"` "+
				"in place of `\"metadata\"`. A client that does not take in a page within 5 s loses the stream.",
			[]obj{
				intQuery("limit", "At most this many users; 0 = all", defaultStreamLimit, 0, maxStreamLimit),
				intQuery("fetch_size", "Rows per page", defaultFetchSize, minFetchSize, maxFetchSize),
				consistencyParam, timeoutParam,
			}, nil,
			withErrors(obj{"200": obj{"description": "Users", "content": obj{
				"application/json":     obj{"schema": ref("StreamResponse")},
				"application/x-ndjson": obj{"schema": ref("UserResponse")},
			}}}))},
		"/users/stream/pages": obj{"get": op("users", "stream_pages", "Report the pages of a walk", "",
			[]obj{
				intQuery("limit", "At most this many rows; 0 = all", defaultStreamLimit, 0, maxStreamLimit),
				intQuery("fetch_size", "Rows per page", defaultFetchSize, minFetchSize, maxFetchSize),
				intQuery("max_pages", "Stop after this many pages; 0 = no limit", defaultMaxPages, 0, maxMaxPages),
				consistencyParam, timeoutParam,
			}, nil,
			withErrors(obj{"200": resp("Pages", ref("PagesResponse"))}))},
		"/users/{user_id}":   userPath,
		"/performance/async": perf("async", "All probes at once through the engine's worker pool."),
		"/performance/sync":  perf("sync", "One probe after another."),
	}

	// The probes and metrics never need the token; the docs only with
	// -docs-auth.
	public := []string{"/health", "/ready", "/metrics"}
	if docsPublic {
		public = append(public, "/openapi.json", "/docs", "/docs/{file}")
	}
	for _, p := range public {
		paths[p].(obj)["get"].(obj)["security"] = []obj{}
	}
	return obj{
		"openapi": "3.1.0",
		"tags": []obj{
			{"name": "users", "description": "User management"},
			{"name": "performance", "description": "Concurrent versus sequential probe reads"},
			{"name": "health", "description": "Probes and metrics (no token needed)"},
			{"name": "docs", "description": "This documentation"},
		},
		"info": obj{
			"title":       "User Management API",
			"version":     "1.0.0",
			"description": "User management over Apache Cassandra, compatible with the FastAPI example app.",
		},
		"paths":      paths,
		"components": obj{"schemas": schemas, "securitySchemes": obj{"bearer": obj{"type": "http", "scheme": "bearer"}}},
		// The bearer token is required only when the server has API_TOKEN set.
		"security": []obj{{}, {"bearer": []string{}}},
	}
}

func openAPIDocument(docsPublic bool, assets []string) ([]byte, error) {
	return json.Marshal(openAPISpec(docsPublic, assets))
}
