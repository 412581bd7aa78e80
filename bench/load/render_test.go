package load

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// uniformHist holds 1 ms, 2 ms, ... n ms once each.
func uniformHist(t *testing.T, n int) *Result {
	t.Helper()
	r := &Result{Latency: newHist()}
	for i := 1; i <= n; i++ {
		require.NoError(t, r.Latency.RecordValue(int64(i)*1000), "record %d ms", i)
	}
	return r
}

func TestPercentiles(t *testing.T) {
	r := uniformHist(t, 1000)
	s := Summarize(r.Latency)
	assert.Equal(t, int64(1000), s.Count)
	for _, tc := range []struct {
		p, want float64
	}{
		{50, 500}, {66, 660}, {75, 750}, {90, 900}, {99, 990}, {99.9, 999}, {99.99, 1000}, {100, 1000},
	} {
		got := s.At(tc.p)
		// Three significant digits: within 0.1%, never below the sample.
		assert.InDelta(t, tc.want, got, tc.want*0.001+1e-9, "p%v", tc.p)
		assert.GreaterOrEqual(t, got, tc.want, "p%v errs on the slow side", tc.p)
	}
	assert.InDelta(t, 1.0, s.Min, 0.001, "min")
	assert.InDelta(t, 500.5, s.Mean, 0.5, "mean")
	assert.InDelta(t, 288.675, s.Stdev, 0.5, "stdev of 1..1000") // sqrt((n^2-1)/12)
	assert.InDelta(t, 57.7, withinStdev(r.Latency), 0.5, "share within one stdev")
}

func TestPercentilesFractional(t *testing.T) {
	r := &Result{Latency: newHist()}
	// 90 fast answers at 0.25 ms, 9 at 1.5 ms, 1 at 42 ms.
	require.NoError(t, r.Latency.RecordValues(250, 90))
	require.NoError(t, r.Latency.RecordValues(1500, 9))
	require.NoError(t, r.Latency.RecordValue(42000))
	s := Summarize(r.Latency)
	assert.InDelta(t, 0.25, s.At(50), 0.001, "p50 keeps its fraction")
	assert.InDelta(t, 0.25, s.At(90), 0.001, "p90")
	assert.InDelta(t, 1.5, s.At(95), 0.002, "p95")
	assert.InDelta(t, 1.5, s.At(99), 0.002, "p99")
	assert.InDelta(t, 42, s.At(99.9), 0.05, "p99.9 is the outlier")
	assert.InDelta(t, 42, s.Max, 0.05, "max")
}

func TestPercentilesEmpty(t *testing.T) {
	s := Summarize(newHist())
	assert.Zero(t, s.Count)
	assert.Zero(t, s.At(99))
	assert.NotNil(t, s.Percentiles, "an empty list, not null, in JSON")
}

func TestMicrosClamps(t *testing.T) {
	assert.Equal(t, int64(histLowest), micros(0), "zero")
	assert.Equal(t, int64(1500), micros(1500*time.Microsecond))
	assert.Equal(t, histHighest, micros(10*time.Hour), "beyond the range")
}

func sampleResult(t *testing.T) *Result {
	r := uniformHist(t, 100)
	r.Mode = "http"
	r.Target = "http://127.0.0.1:8000/users/abc"
	r.Method = "GET"
	r.Concurrency = 4
	r.KeepAlive = true
	r.Elapsed = 2 * time.Second
	r.Responses = 200
	r.Status = map[int]int64{200: 197, 404: 2, 503: 1}
	r.Errors = map[string]int64{ErrKindTimeout: 1, ErrKindConnect: 2}
	r.BytesRead = 20480
	r.BytesWritten = 10240
	r.BodyBytes = 10000
	r.Connections = 4
	r.ServerSoftware = "userapi"
	r.DocumentPath = "/users/abc"
	r.DocumentLength = 50
	return r
}

func TestWriteAB(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteAB(&b, sampleResult(t)))
	out := b.String()
	for _, want := range []string{
		"Server Software:        userapi\n",
		"Server Hostname:        127.0.0.1\n",
		"Server Port:            8000\n",
		"Document Path:          /users/abc\n",
		"Document Length:        50 bytes\n",
		"Concurrency Level:      4\n",
		"Time taken for tests:   2.000 seconds\n",
		"Complete requests:      200\n",
		"Failed requests:        3\n",
		"   (Connect: 2, Receive: 1, Length: 0, Exceptions: 0)\n",
		"Non-2xx responses:      3\n",
		"Keep-Alive requests:    196\n",
		"Total transferred:      20480 bytes\n",
		"HTML transferred:       10000 bytes\n",
		"Requests per second:    100.00 [#/sec] (mean)\n",
		"Time per request:       39.409 [ms] (mean)\n", // 4 * 2 s / 203 requests
		"Time per request:       9.852 [ms] (mean, across all concurrent requests)\n",
		"Transfer rate:          10.00 [Kbytes/sec] received\n",
		"Percentage of the requests served within a certain time (ms)\n",
		"    50%     50.015\n",
		"  99.9%    100.031\n",
		"   100%    100.031 (longest request)\n",
		"Status codes:           200: 197, 404: 2, 503: 1\n",
		"Errors:                 connect 2, timeout 1\n",
	} {
		assert.Contains(t, out, want, "ab report")
	}
	assert.NotContains(t, out, "Total body sent", "only for requests with a body")
}

func TestWriteWrk(t *testing.T) {
	var b bytes.Buffer
	r := sampleResult(t)
	r.Threads = 2
	require.NoError(t, WriteWrk(&b, r))
	out := b.String()
	for _, want := range []string{
		"Running 2.00s test @ http://127.0.0.1:8000/users/abc\n",
		"  2 threads and 4 connections\n",
		"  Thread Stats   Avg      Stdev     Max   +/- Stdev\n",
		"    Latency   50.50ms   28.87ms  100.03ms    58.00%\n",
		"  Latency Distribution\n",
		"    50%   50.02ms\n",
		"    99%   99.01ms\n",
		"  200 requests in 2.00s, 20.00KB read\n",
		"  Non-2xx or 3xx responses: 3\n",
		"  Socket errors: connect 2, read 0, write 0, timeout 1\n",
		"Requests/sec:    100.00\n",
		"Transfer/sec:     10.00KB\n",
	} {
		assert.Contains(t, out, want, "wrk report")
	}
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	r := sampleResult(t)
	r.Labels = map[string]string{"mode": "api", "scenario": "get"}
	require.NoError(t, WriteJSON(&b, r))
	var s Summary
	require.NoError(t, json.Unmarshal(b.Bytes(), &s), "JSON parses back")
	assert.Equal(t, "api", s.Labels["mode"])
	assert.Equal(t, int64(200), s.Requests)
	assert.InDelta(t, 100.0, s.RequestsPerSec, 1e-9)
	assert.Equal(t, int64(3), s.Non2xx)
	assert.Equal(t, int64(3), s.Errors)
	assert.Equal(t, int64(197), s.Status["200"])
	assert.InDelta(t, 50, s.Latency.At(50), 0.1)
	assert.InDelta(t, 100, s.Latency.At(99.9), 0.1)
	assert.Len(t, s.Latency.Percentiles, len(ReportPercentiles))
}

func TestWriteReportFormats(t *testing.T) {
	r := sampleResult(t)
	for _, f := range []Format{FormatAB, FormatWrk, FormatJSON} {
		var b bytes.Buffer
		require.NoError(t, WriteReport(&b, r, f), "format %s", f)
		assert.NotEmpty(t, b.String(), "format %s", f)
	}
	assert.Error(t, WriteReport(&bytes.Buffer{}, r, "xml"), "unknown format")
}

func TestReportsOfEmptyRun(t *testing.T) {
	r := &Result{Latency: newHist(), Status: map[int]int64{}, Errors: map[string]int64{ErrKindConnect: 3}, Info: Info{Concurrency: 1}}
	for _, f := range []Format{FormatAB, FormatWrk, FormatJSON} {
		var b bytes.Buffer
		require.NoError(t, WriteReport(&b, r, f), "format %s of a run with no answers", f)
		assert.NotContains(t, b.String(), "NaN", "format %s", f)
		assert.NotContains(t, b.String(), "Inf", "format %s", f)
	}
}

func TestWrkUnits(t *testing.T) {
	for _, tc := range []struct {
		us   float64
		want string
	}{
		{512, "512.00us"}, {1500, "1.50ms"}, {2.5e6, "2.50s"}, {90e6, "1.50m"},
	} {
		assert.Equal(t, tc.want, wrkTime(tc.us), "wrkTime(%v)", tc.us)
	}
	for _, tc := range []struct {
		n    float64
		want string
	}{
		{512, "512.00"}, {2048, "2.00K"}, {5 * 1024 * 1024, "5.00M"},
	} {
		assert.Equal(t, tc.want, wrkBinary(tc.n), "wrkBinary(%v)", tc.n)
	}
}

func TestRateReportLines(t *testing.T) {
	r := sampleResult(t)
	r.Rate = 100
	r.Scheduled = 210
	r.Unsent = 7
	r.Service = newHist()
	require.NoError(t, r.Service.RecordValue(800))
	var b bytes.Buffer
	require.NoError(t, WriteAB(&b, r))
	assert.Contains(t, b.String(), "Schedule:               100.00 req/s, 210 scheduled, 7 unsent\n")
	assert.Contains(t, b.String(), "Service time (ms):      p50 0.800")
	assert.False(t, math.IsNaN(r.RequestsPerSec()))
	assert.True(t, strings.Contains(b.String(), "intended send time"), "the table says where latency counts from")
}
