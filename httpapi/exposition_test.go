package httpapi

import (
	"bytes"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userapi/userapi/engine"
)

// checkExposition parses a /metrics body with Prometheus' own parser and
// fails on any family without a # TYPE line or help text. It returns the
// families by name.
func checkExposition(t *testing.T, body []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(body))
	require.NoError(t, err, "not a valid Prometheus text exposition")
	typed := map[string]bool{}
	for _, line := range strings.Split(string(body), "\n") {
		if f, ok := strings.CutPrefix(line, "# TYPE "); ok {
			typed[strings.Fields(f)[0]] = true
		}
	}
	var noHelp, noType []string
	for name, mf := range families {
		if strings.TrimSpace(mf.GetHelp()) == "" {
			noHelp = append(noHelp, name)
		}
		if !typed[name] || mf.GetType() == dto.MetricType_UNTYPED {
			noType = append(noType, name)
		}
	}
	sort.Strings(noHelp)
	sort.Strings(noType)
	assert.Empty(t, noHelp, "families without # HELP text")
	assert.Empty(t, noType, "families without # TYPE")
	return families
}

func TestMetricsExposition(t *testing.T) {
	store := newFakeStore()
	ts := startServer(t, store)
	id := newUUID()
	store.add(engine.User{ID: id, Name: "a", Email: "a@b.co"})
	ts.do(t, "GET", "/users/"+id.String(), "")
	ts.do(t, "POST", "/users", "{}")
	ts.do(t, "GET", "/nowhere", "")
	_, body := ts.do(t, "GET", "/metrics", "")
	families := checkExposition(t, body)
	for name, typ := range map[string]dto.MetricType{
		"userapi_http_requests_total":           dto.MetricType_COUNTER,
		"userapi_http_request_duration_seconds": dto.MetricType_HISTOGRAM,
		"userapi_http_requests_in_flight":       dto.MetricType_GAUGE,
		"go_goroutines":                         dto.MetricType_GAUGE,
		"go_gc_duration_seconds":                dto.MetricType_SUMMARY,
		"go_memstats_alloc_bytes_total":         dto.MetricType_COUNTER,
		"process_resident_memory_bytes":         dto.MetricType_GAUGE,
		"fake_engine_users":                     dto.MetricType_GAUGE,
	} {
		if assert.Contains(t, families, name) {
			assert.Equal(t, typ, families[name].GetType(), name)
		}
	}
}

func TestAppendWithHelp(t *testing.T) {
	in := "# HELP userapi_http_requests_in_flight\n# TYPE userapi_http_requests_in_flight gauge\n" +
		"userapi_http_requests_in_flight 0\n# HELP unknown_family\n# HELP kept Its own text.\nx 1"
	want := "# HELP userapi_http_requests_in_flight HTTP requests being handled now.\n" +
		"# TYPE userapi_http_requests_in_flight gauge\nuserapi_http_requests_in_flight 0\n" +
		"# HELP unknown_family\n# HELP kept Its own text.\nx 1"
	assert.Equal(t, want, string(appendWithHelp(nil, []byte(in))))
}
