//go:build integration

package httpapi

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userapi/userapi/engine"
)

// metric reads one series' value from /metrics (0 when absent).
func (a *liveAPI) metric(t *testing.T, series string) float64 {
	t.Helper()
	resp, body := a.do(t, "GET", "/metrics", "")
	require.Equal(t, 200, resp.StatusCode)
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err, "%s", sc.Text())
			return f
		}
	}
	return 0
}

// X-Request-Timeout against the real engine and node: the client's deadline
// is the request's, past it the answer is 504, and the work is cancelled:
// tasks still queued are dropped, a running query's context ends.
func TestRequestTimeoutHeaderAgainstCassandra(t *testing.T) {
	// One worker: whatever waits for it is queued, so deadlines pass there.
	api := startLive(t, func(c *engine.Config) { c.PoolSize, c.QueueDepth = 1, 8192 })
	const expired = `userapi_engine_expired_in_queue_total`
	const queryTimeouts = `userapi_engine_errors_total{kind="timeout"}`

	t.Run("a malformed value is a 422 and reaches no query", func(t *testing.T) {
		u := api.create(t, "t", "t@example.com", 1)
		for _, v := range []string{"abc", "0", "-1", "nan", "inf"} {
			resp, body := api.do(t, "GET", "/users/"+u.ID, "", "X-Request-Timeout", v)
			require.Equal(t, 422, resp.StatusCode, "%q: %s", v, body)
			assert.Contains(t, string(body), `"loc":["header","x-request-timeout"]`, "%q", v)
			assert.Contains(t, string(body), `"input":"`+v+`"`, "%q", v)
		}
		resp, body := api.do(t, "GET", "/users/"+u.ID, "", "X-Request-Timeout", "10")
		assert.Equal(t, 200, resp.StatusCode, "a valid value: %s", body)
	})

	t.Run("queued work past the deadline is dropped", func(t *testing.T) {
		before := api.metric(t, expired)
		start := time.Now()
		// 1000 probes on one worker cannot finish in 20 ms.
		resp, body := api.do(t, "GET", "/performance/async?requests=1000", "", "X-Request-Timeout", "0.02")
		took := time.Since(start)
		assert.Less(t, took, 2*time.Second, "the header set the deadline (-request-timeout is 5s)")
		switch resp.StatusCode {
		case 504:
			assert.Equal(t, `{"detail":"Database request timed out"}`, string(body))
		case 200:
			p := decode[map[string]any](t, body)
			assert.Less(t, p["successful_requests"], 1000.0, "probes past the deadline do not succeed: %s", body)
		default:
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		// The worker drops each expired task as it comes to it, without a query.
		require.Eventually(t, func() bool { return api.metric(t, expired) > before }, 10*time.Second, 20*time.Millisecond,
			"no queued task was dropped as expired")
	})

	t.Run("a running query's context ends at the deadline", func(t *testing.T) {
		// 1000 rows in requests of 100: on the one worker each takes about
		// 0.1 s on a quiet machine, far inside the 5 s request timeout
		// however busy the machine (one of 1000 took over 5 s under load).
		for range 10 {
			resp, body := api.do(t, "POST", "/users/batch", batchBody(100, nil))
			require.Equal(t, 201, resp.StatusCode, "%.300s", body)
		}
		// Wait until nothing is queued, so the walk's first page runs at once.
		require.Eventually(t, func() bool { return api.metric(t, "userapi_engine_pool_waiting") == 0 },
			10*time.Second, 20*time.Millisecond)
		// A page of 1000 rows takes some milliseconds: a deadline a little
		// after its start ends it mid-query. Which deadline lands inside
		// the query depends on the machine, so try a range.
		for _, ms := range []int{1, 2, 3, 5, 8, 12, 20, 30, 50, 80} {
			before := api.metric(t, queryTimeouts)
			start := time.Now()
			resp, body := api.do(t, "GET", "/users/stream?limit=0&fetch_size=1000", "",
				"X-Request-Timeout", fmt.Sprintf("%g", float64(ms)/1000))
			took := time.Since(start)
			if resp.StatusCode == 200 {
				break // the whole walk fit: larger deadlines will too
			}
			require.Equal(t, 504, resp.StatusCode, "%d ms: %.300s", ms, body)
			assert.Less(t, took, 2*time.Second, "%d ms: the header, not the 60s stream timeout, set the deadline", ms)
			if api.metric(t, queryTimeouts) > before {
				return // a query was cut short by its context
			}
		}
		t.Fatal("no deadline ended a running query (every 504 came before a query started)")
	})
}
