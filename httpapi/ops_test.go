package httpapi

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userapi/userapi/engine"
)

func TestPerformance(t *testing.T) {
	store := newFakeStore()
	ts := startServer(t, store)
	type perfJSON struct {
		TotalTime          float64 `json:"total_time"`
		Requests           int     `json:"requests"`
		SuccessfulRequests int     `json:"successful_requests"`
		AvgTimePerRequest  float64 `json:"avg_time_per_request"`
		RequestsPerSecond  float64 `json:"requests_per_second"`
		Mode               string  `json:"mode"`
	}
	for _, mode := range []string{"async", "sync"} {
		store.resetCalls()
		resp, body := ts.do(t, "GET", "/performance/"+mode+"?requests=50", "")
		require.Equal(t, 200, resp.StatusCode, "%s: %s", mode, body)
		p := decode[perfJSON](t, body)
		assert.Equal(t, 50, p.Requests, mode)
		assert.Equal(t, 50, p.SuccessfulRequests, mode)
		assert.Equal(t, mode, p.Mode)
		assert.Greater(t, p.TotalTime, 0.0)
		assert.Greater(t, p.RequestsPerSecond, 0.0)
		assert.InDelta(t, p.TotalTime/50, p.AvgTimePerRequest, 1e-6)
		assert.Equal(t, 50, store.callCount(), "%s: one probe per request", mode)

		resp, body = ts.do(t, "GET", "/performance/"+mode, "")
		require.Equal(t, 200, resp.StatusCode)
		assert.Equal(t, 100, decode[perfJSON](t, body).Requests, "default")

		for _, q := range []string{"0", "1001", "x"} {
			resp, _ = ts.do(t, "GET", "/performance/"+mode+"?requests="+q, "")
			assert.Equal(t, 422, resp.StatusCode, "%s requests=%s", mode, q)
		}
	}
	store.setErr(engine.ErrUnavailable)
	resp, body := ts.do(t, "GET", "/performance/async?requests=5", "")
	assert.Equal(t, 503, resp.StatusCode, "no probe succeeded: %s", body)
}

func TestHealthAndReady(t *testing.T) {
	store := newFakeStore()
	ts := startServer(t, store)
	type healthJSON struct {
		Status             string `json:"status"`
		CassandraConnected bool   `json:"cassandra_connected"`
		Timestamp          string `json:"timestamp"`
	}
	resp, body := ts.do(t, "GET", "/health", "")
	require.Equal(t, 200, resp.StatusCode)
	h := decode[healthJSON](t, body)
	assert.Equal(t, "healthy", h.Status)
	assert.True(t, h.CassandraConnected)
	assert.Regexp(t, timestampRE, h.Timestamp)
	resp, _ = ts.do(t, "GET", "/ready", "")
	assert.Equal(t, 200, resp.StatusCode)

	store.mu.Lock()
	store.down = true
	store.mu.Unlock()
	resp, body = ts.do(t, "GET", "/health", "")
	require.Equal(t, 200, resp.StatusCode, "health reports, it does not fail")
	h = decode[healthJSON](t, body)
	assert.Equal(t, "unhealthy", h.Status)
	assert.False(t, h.CassandraConnected)
	resp, body = ts.do(t, "GET", "/ready", "")
	assert.Equal(t, 503, resp.StatusCode, "body: %s", body)

	store.mu.Lock()
	store.down = false
	store.mu.Unlock()
	ts.srv.Drain()
	resp, body = ts.do(t, "GET", "/ready", "")
	assert.Equal(t, 503, resp.StatusCode)
	assert.Equal(t, "Server is draining", decode[detailJSON](t, body).Detail)
	resp, _ = ts.do(t, "GET", "/users", "")
	assert.Equal(t, 200, resp.StatusCode, "draining still serves")
}

func TestMetricsEndpoint(t *testing.T) {
	store := newFakeStore()
	ts := startServer(t, store)
	id := newUUID()
	store.add(engine.User{ID: id, Name: "a", Email: "a@b.co"})
	ts.do(t, "GET", "/users/"+id.String(), "")
	ts.do(t, "GET", "/users/"+newUUID().String(), "")
	ts.do(t, "GET", "/nowhere", "")
	resp, body := ts.do(t, "GET", "/metrics", "")
	require.Equal(t, 200, resp.StatusCode)
	assert.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain"))
	text := string(body)
	for _, want := range []string{
		`userapi_http_requests_total{method="GET",route="/users/{user_id}",status="200"} 1`,
		`userapi_http_requests_total{method="GET",route="/users/{user_id}",status="404"} 1`,
		`userapi_http_requests_total{method="",route="unmatched",status="404"} 1`,
		`userapi_http_request_duration_seconds_bucket{method="GET",route="/users/{user_id}",le="+Inf"} 2`,
		`userapi_http_request_duration_seconds_count{method="GET",route="/users/{user_id}"} 2`,
		`userapi_http_requests_in_flight `,
		"go_goroutines ",
		"process_resident_memory_bytes ",
		"fake_engine_users 1",
	} {
		assert.Contains(t, text, want)
	}
}
