package load

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const wrkSample = `Running 3s test @ http://127.0.0.1:18182/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.86ms    4.00ms  50.36ms   94.67%
    Req/Sec    46.89k    15.60k   81.84k    76.67%
  Latency Distribution
     50%  822.00us
     75%    1.52ms
     90%    3.61ms
     99%   20.60ms
  140916 requests in 3.02s, 6.99MB read
  Non-2xx or 3xx responses: 4
  Socket errors: connect 1, read 2, write 0, timeout 3
Requests/sec:  46591.60
Transfer/sec:      2.31MB
`

func TestParseWrk(t *testing.T) {
	s, err := ParseWrk(wrkSample)
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:18182/", s.Target)
	assert.Equal(t, 1, s.Threads)
	assert.Equal(t, 64, s.Concurrency)
	assert.InDelta(t, 1.86, s.Latency.Mean, 1e-9, "mean")
	assert.InDelta(t, 50.36, s.Latency.Max, 1e-9, "max")
	assert.InDelta(t, 0.822, s.Latency.At(50), 1e-9, "p50 in ms")
	assert.InDelta(t, 20.6, s.Latency.At(99), 1e-9, "p99")
	assert.Len(t, s.Latency.Percentiles, 4)
	assert.Equal(t, int64(140916), s.Requests)
	assert.InDelta(t, 3.02, s.ElapsedSeconds, 1e-9)
	assert.InDelta(t, 6.99*1024*1024, float64(s.BytesRead), 1)
	assert.Equal(t, int64(4), s.Non2xx)
	assert.Equal(t, int64(6), s.Errors)
	assert.InDelta(t, 46591.60, s.RequestsPerSec, 1e-9)

	// Our own wrk rendering reads back the same way.
	r := sampleResult(t)
	var b strings.Builder
	require.NoError(t, WriteWrk(&b, r))
	back, err := ParseWrk(b.String())
	require.NoError(t, err, "parse our wrk output:\n%s", b.String())
	assert.InDelta(t, r.RequestsPerSec(), back.RequestsPerSec, 0.01)
	assert.InDelta(t, 99.01, back.Latency.At(99), 0.01)

	_, err = ParseWrk("unable to connect to 127.0.0.1:1 Connection refused\n")
	assert.Error(t, err, "output without a result")
}

func FuzzParseWrk(f *testing.F) {
	f.Add(wrkSample)
	f.Add("Requests/sec: x\n  Latency Distribution\n 50% 1q\n")
	f.Fuzz(func(t *testing.T, text string) {
		_, _ = ParseWrk(text) // must not panic
	})
}
