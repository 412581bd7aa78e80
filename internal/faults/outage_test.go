//go:build faults

package faults

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const requestTimeout = 3 * time.Second

// outageDrill runs a steady mixed load, breaks the node with breakIt, checks
// every request during the outage is answered honestly within the request
// timeout, heals the node with healIt, and checks recovery and that no
// acknowledged write was lost.
func outageDrill(t *testing.T, cluster string, base int, breakIt, healIt func(n *node)) {
	n := startNode(t, cluster, base)
	srv := startServer(t, n.addr(), "faults_"+strings.ReplaceAll(cluster, "-", "_"),
		"-request-timeout", requestTimeout.String(), "-cassandra-query-timeout", "1s",
		"-cassandra-connect-timeout", "1s")

	l := startLoad(srv.url, 8, 5*time.Millisecond)
	time.Sleep(6 * time.Second)
	healthyUntil := time.Now()

	breakIt(n)
	broken := time.Now()
	detect := waitFor(t, "/health reports cassandra_connected=false", 10*time.Second, func() bool {
		c, ok := health(srv.url)
		return ok && !c
	})
	assert.Equal(t, 503, ready(srv.url), "/ready during the outage")
	time.Sleep(4 * time.Second)
	outageEnd := time.Now()

	healIt(n) // returns once the node answers CQL again
	healed := time.Now()
	recovery := waitFor(t, "API serves creates again", 30*time.Second, func() bool {
		st, _, err := do("POST", srv.url+"/users", []byte(`{"name":"probe","email":"probe@example.com","age":1}`), nil)
		return err == nil && st == 201
	})
	waitFor(t, "/ready 200 again", 10*time.Second, func() bool { return ready(srv.url) == 200 })
	time.Sleep(2 * time.Second)
	l.halt()

	outcomes, acked := l.snapshot()
	// Requests in flight at the moment of the kill may fail either way.
	before := statusCounts(outcomes, time.Time{}, healthyUntil.Add(-requestTimeout))
	during := statusCounts(outcomes, broken, outageEnd)
	after := statusCounts(outcomes, healed.Add(recovery), time.Now())
	t.Logf("before: %v", before)
	t.Logf("during outage (%v): %v; detected in %v", outageEnd.Sub(broken).Round(time.Millisecond), during, detect.Round(time.Millisecond))
	t.Logf("recovered %v after the node answered CQL; after: %v", recovery.Round(time.Millisecond), after)

	for k := range before {
		assert.Contains(t, []string{"200", "201"}, k, "only successes before the outage: %v", before)
	}
	assert.Greater(t, len(outcomes), 0)
	var slowest time.Duration
	for _, o := range outcomes {
		if o.at.Before(broken) || !o.at.Before(outageEnd) {
			continue
		}
		require.Empty(t, o.err, "every request during the outage gets an HTTP answer (%s at %v)", o.op, o.at)
		require.Contains(t, []int{200, 201, 503, 504}, o.status, "outage answers are 503/504, never 500 (%s)", o.op)
		if o.status >= 500 {
			require.True(t, o.detail, "%d carries a JSON detail", o.status)
		}
		if o.latency > slowest {
			slowest = o.latency
		}
	}
	t.Logf("slowest answer during the outage: %v (request timeout %v)", slowest.Round(time.Millisecond), requestTimeout)
	assert.LessOrEqual(t, slowest, requestTimeout+time.Second, "answered within the request timeout")
	for k := range after {
		assert.Contains(t, []string{"200", "201"}, k, "only successes after recovery: %v", after)
	}

	lost := verifyAcked(t, srv.url, acked)
	t.Logf("acknowledged creates checked: %d, lost or changed: %d", len(acked), lost)
	assert.Zero(t, lost)
}

// TestOutageKill9: the node dies hard; acknowledged writes survive because
// the local node's commit log is synced (group) before a write is acked.
func TestOutageKill9(t *testing.T) {
	outageDrill(t, "faults-kill", 30,
		func(n *node) { n.script("kill") },
		func(n *node) { n.script("start") })
}

// TestOutagePause: the node hangs (SIGSTOP): connections stay open but
// nothing answers, so only deadlines can save the clients.
func TestOutagePause(t *testing.T) {
	outageDrill(t, "faults-pause", 31,
		func(n *node) { n.script("pause") },
		func(n *node) { n.script("resume"); n.script("wait") })
}
