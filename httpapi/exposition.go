package httpapi

import (
	"bytes"
	"strings"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"
)

// /metrics is a complete Prometheus text exposition: every family has its
// # HELP and # TYPE lines. VictoriaMetrics/metrics writes the TYPE lines
// once metadata is on (a process-wide switch, so New turns it on for every
// Set: the HTTP layer's, the engine's, the Go runtime's) but leaves HELP
// empty; writeMetrics fills the text in from metricHelp, or for the Go
// runtime and process families from their origin. A family with no known
// help keeps an empty HELP line, and the exposition test fails on it.

func enableMetricMetadata() { metrics.ExposeMetadata(true) }

// metricHelp is the help text of every family this service defines. The
// engine's families are listed here too: the engine writes its series, the
// HTTP layer decides how they are exposed.
var metricHelp = map[string]string{
	"userapi_http_requests_total":           "HTTP requests answered, by method, route pattern and status.",
	"userapi_http_request_duration_seconds": "Time from routing to the answer being written, by method and route pattern.",
	"userapi_http_requests_in_flight":       "HTTP requests being handled now.",

	"userapi_engine_rejected_total":                 "Tasks refused at admission: the pool and queue were full (overloaded) or the engine was closing (closed).",
	"userapi_engine_expired_in_queue_total":         "Tasks whose deadline passed while queued; dropped without running a query.",
	"userapi_engine_reads_total":                    "Reads of one user (GET /users/{id}) the engine was asked for.",
	"userapi_engine_coalesced_reads_total":          "Reads of a user answered by a query another reader of the same id sent after both arrived.",
	"userapi_engine_batch_size":                     "Writes per UNLOGGED batch sent to Cassandra.",
	"userapi_engine_read_group_size":                "Reads of distinct ids sent as one SELECT ... WHERE id IN query (reads that queued up).",
	"userapi_engine_batch_coordinator_total":        "Batches by whether the coordinator chosen was a replica of the batch's partitions.",
	"userapi_engine_batch_coordinator_host_total":   "Batches sent, by the coordinator node they were sent to.",
	"userapi_engine_batch_mixed_replica_sets_total": "Batches whose writes belonged to more than one replica set.",
	"userapi_engine_query_duration_seconds":         "Cassandra statement latency as seen by the engine, by statement.",
	"userapi_engine_errors_total":                   "Failed Cassandra statements by error kind (a missing user is not counted).",
	"userapi_engine_pool_running":                   "Workers of the query pool that are alive.",
	"userapi_engine_pool_waiting":                   "Tasks queued for a worker.",
	"userapi_engine_pool_capacity":                  "Tasks the pool admits at once: workers plus queue slots.",
	"userapi_engine_cassandra_connected":            "1 while the engine reaches Cassandra, 0 otherwise.",
	"userapi_engine_batch_max":                      "Writes per batch in force: the size the tuner chose within -batch-max (-batch-adaptive), or -batch-max.",
	"userapi_engine_batch_inflight_limit":           "Units (batches, or lone writes) per replica set that may run at once, as the tuner chose (the pool's size for lone writes).",
	"userapi_engine_batch_probes":                   "The batch tuner's probes of a neighbouring size, by outcome: accepted (moved), rejected (kept), abandoned (the load stopped being busy).",
	"userapi_engine_read_group_inflight_limit":      "Read queries per replica set that may run at once before reads wait to be grouped, as the tuner chose (the pool's size: each read at once).",
	"userapi_engine_read_group_probes":              "The read tuner's probes of grouping against each read at once, by outcome: accepted (moved), rejected (kept), abandoned (the load stopped being busy).",
}

// helpFor returns a family's help text, or "" when none is known.
func helpFor(family string) string {
	if h, ok := metricHelp[family]; ok {
		return h
	}
	switch {
	case strings.HasPrefix(family, "go_memstats_"):
		return "Go runtime memory statistic from runtime.MemStats (" + strings.TrimPrefix(family, "go_memstats_") + ")."
	case strings.HasPrefix(family, "go_"):
		return "Go runtime statistic from runtime/metrics or the runtime package (" + strings.TrimPrefix(family, "go_") + ")."
	case strings.HasPrefix(family, "process_"):
		return "Process statistic read from /proc (" + strings.TrimPrefix(family, "process_") + ")."
	}
	return ""
}

var helpPrefix = []byte("# HELP ")

// appendWithHelp copies an exposition from src to dst, giving each empty
// # HELP line its text.
func appendWithHelp(dst, src []byte) []byte {
	for len(src) > 0 {
		line := src
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			line = src[:i+1]
		}
		src = src[len(line):]
		family, ok := bytes.CutPrefix(bytes.TrimRight(line, "\n"), helpPrefix)
		if ok && bytes.IndexByte(family, ' ') < 0 {
			if h := helpFor(string(family)); h != "" {
				dst = append(dst, helpPrefix...)
				dst = append(dst, family...)
				dst = append(dst, ' ')
				dst = append(dst, h...) // plain text: no backslash or newline to escape
				dst = append(dst, '\n')
				continue
			}
		}
		dst = append(dst, line...)
	}
	return dst
}

// writeMetrics serves the HTTP layer's series, the Go runtime and process,
// then the engine's pool, queue, batch and query series.
func (s *Server) writeMetrics(ctx *fasthttp.RequestCtx, _ string) {
	raw := acquireBuf()
	s.metrics.write(raw)
	metrics.WriteProcessMetrics(raw)
	s.store.WriteMetrics(raw)
	out := acquireBuf()
	out.B = appendWithHelp(out.B, raw.B)
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("text/plain; version=0.0.4; charset=utf-8")
	ctx.SetBody(out.B)
	releaseBuf(out)
	releaseBuf(raw)
}
