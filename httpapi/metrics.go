package httpapi

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// latencyBuckets cover a cached read (sub-millisecond) up to the longest
// request timeout anyone should configure.
var latencyBuckets = []float64{
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
}

// routeMetrics holds one route's series. They are created on first use (so
// /metrics lists only what happened) and then found by index, so recording
// costs no allocation and no lock beyond the histogram's own.
type routeMetrics struct {
	set      *metrics.Set
	method   string
	pattern  string
	latency  atomic.Pointer[metrics.PrometheusHistogram]
	statuses [600]atomic.Pointer[metrics.Counter]
}

func (r *routeMetrics) observe(status int, d time.Duration) {
	if status < 100 || status >= len(r.statuses) {
		status = 599
	}
	c := r.statuses[status].Load()
	if c == nil {
		// GetOrCreate makes concurrent first uses agree on one counter.
		c = r.set.GetOrCreateCounter(fmt.Sprintf(`userapi_http_requests_total{method=%q,route=%q,status="%d"}`,
			r.method, r.pattern, status))
		r.statuses[status].Store(c)
	}
	c.Inc()
	if d <= 0 {
		return
	}
	h := r.latency.Load()
	if h == nil {
		h = r.set.GetOrCreatePrometheusHistogramExt(fmt.Sprintf(
			`userapi_http_request_duration_seconds{method=%q,route=%q}`, r.method, r.pattern), latencyBuckets)
		r.latency.Store(h)
	}
	h.Update(d.Seconds())
}

// serverMetrics is the HTTP layer's metrics set.
type serverMetrics struct {
	set      *metrics.Set
	inFlight atomic.Int64
	routes   map[string]*routeMetrics // by method+" "+pattern, filled before serving
}

// Pseudo-routes for requests that match no handler.
const (
	routeNotFound         = "unmatched"
	routeMethodNotAllowed = "method_not_allowed"
	routeRejected         = "rejected" // refused by fasthttp before routing
	routeUnauthorized     = "unauthorized"
)

func newServerMetrics() *serverMetrics {
	m := &serverMetrics{set: metrics.NewSet(), routes: make(map[string]*routeMetrics)}
	m.set.NewGauge("userapi_http_requests_in_flight", func() float64 { return float64(m.inFlight.Load()) })
	for _, r := range []string{routeNotFound, routeMethodNotAllowed, routeRejected, routeUnauthorized} {
		m.route("", r)
	}
	return m
}

// route returns the series of one route, creating them at registration.
func (m *serverMetrics) route(method, pattern string) *routeMetrics {
	key := method + " " + pattern
	if r, ok := m.routes[key]; ok {
		return r
	}
	r := &routeMetrics{set: m.set, method: method, pattern: pattern}
	m.routes[key] = r
	return r
}

// record counts a request on a pseudo-route.
func (m *serverMetrics) record(pattern string, status int, d time.Duration) {
	m.routes[" "+pattern].observe(status, d)
}

func (m *serverMetrics) write(w io.Writer) { m.set.WritePrometheus(w) }
