//go:build integration

package httpapi

import (
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// /metrics of the real server over the real engine and node is a complete
// exposition: Prometheus' parser reads it, and every family, the engine's
// and the Go runtime's included, has its type and help.
func TestMetricsExpositionAgainstCassandra(t *testing.T) {
	api := startLive(t)
	u := api.create(t, "m", "m@example.com", 1)
	api.do(t, "GET", "/users/"+u.ID, "")
	api.do(t, "GET", "/users/"+u.ID+"x", "")
	api.do(t, "POST", "/users/batch", batchBody(5, nil))
	api.do(t, "GET", "/performance/async?requests=5", "")

	resp, body := api.do(t, "GET", "/metrics", "")
	require.Equal(t, 200, resp.StatusCode)
	families := checkExposition(t, body)
	for name, typ := range map[string]dto.MetricType{
		"userapi_http_requests_total":           dto.MetricType_COUNTER,
		"userapi_http_request_duration_seconds": dto.MetricType_HISTOGRAM,
		"userapi_engine_query_duration_seconds": dto.MetricType_HISTOGRAM,
		"userapi_engine_batch_size":             dto.MetricType_HISTOGRAM,
		"userapi_engine_errors_total":           dto.MetricType_COUNTER,
		"userapi_engine_pool_capacity":          dto.MetricType_GAUGE,
		"userapi_engine_cassandra_connected":    dto.MetricType_GAUGE,
		"go_goroutines":                         dto.MetricType_GAUGE,
		"go_gc_duration_seconds":                dto.MetricType_SUMMARY,
		"process_cpu_seconds_total":             dto.MetricType_COUNTER,
	} {
		if assert.Contains(t, families, name) {
			assert.Equal(t, typ, families[name].GetType(), name)
		}
	}
	connected := families["userapi_engine_cassandra_connected"]
	require.NotNil(t, connected)
	assert.Equal(t, 1.0, connected.GetMetric()[0].GetGauge().GetValue())
}
