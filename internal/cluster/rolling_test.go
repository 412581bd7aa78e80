//go:build cluster

package cluster

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userapi/userapi/internal/cassandratest"
)

// drillRate is the drills' constant request rate: DRILL_RATE or def.
func drillRate(t *testing.T, def int) int {
	if v := os.Getenv("DRILL_RATE"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "DRILL_RATE")
		return n
	}
	return def
}

// TestRollingRestartBehindHAProxy: HAProxy (the shipped configuration, local
// server lines) in front of three userapi replicas over the ring at RF=3,
// LOCAL_QUORUM, under a constant mixed load of creates, reads of created ids
// and updates. Each replica is restarted in turn (SIGTERM: /ready 503, drain,
// exit; start; ready; HAProxy sees it UP), then each Cassandra node (nodetool
// drain, stop, start, CQL answers, peers see it UN, hints delivered). The
// client sees no failed request, and every acknowledged write reads back.
func TestRollingRestartBehindHAProxy(t *testing.T) {
	rate := drillRate(t, 150)
	ks := cassandratest.NewName("roll")
	t.Cleanup(func() { cassandratest.Drop(session(t), ks) })
	common := []string{"-cassandra-hosts", strings.Join(hosts, ","), "-cassandra-keyspace", ks,
		"-cassandra-replication-factor", "3", "-consistency", "LOCAL_QUORUM",
		// Above the ~2 s HAProxy needs to see /ready fail (inter 1s, fall 2):
		// the replica keeps serving until no new request is sent to it.
		"-drain-delay", "3s"}
	var reps []*replica
	for i := 1; i <= 3; i++ {
		reps = append(reps, newReplica(t, fmt.Sprintf("app%d", i), common...))
	}
	lb := startBalancer(t, reps)

	load, begin, first := startSteadyLoad(t, lb.addr, rate)
	windows := []window{first}
	type roll struct {
		name       string
		took, down time.Duration
	}
	var rolls []roll

	for _, r := range reps {
		t0 := time.Now()
		r.stop(t)
		down := time.Since(t0)
		r.start(t)
		lb.waitUp(t, r.name, 30*time.Second)
		rolls = append(rolls, roll{"api " + r.name, time.Since(t0), down})
		time.Sleep(2 * time.Second)
		windows = append(windows, window{"api " + r.name, t0, time.Now()})
		time.Sleep(3 * time.Second)
	}
	for n := 1; n <= len(hosts); n++ {
		node := []string{fmt.Sprintf("CASSANDRA_NODE=%d", n)}
		t0 := time.Now()
		scriptIn(t, clusterEnv, node, "nodetool", "drain")
		scriptIn(t, clusterEnv, node, "stop")
		down := time.Since(t0)
		scriptIn(t, clusterEnv, node, "start")
		waitState(t, clusterEnv, n%len(hosts)+1, map[string]string{hosts[n-1]: "UN"}, 90*time.Second)
		hints := waitHintsDelivered(t, hosts, 3*time.Minute)
		rolls = append(rolls, roll{"cassandra " + hosts[n-1], time.Since(t0), down})
		t.Logf("cassandra %s: drained and stopped in %v, back and UN, hints delivered %v later", hosts[n-1], down.Round(time.Second), hints.Round(time.Second))
		time.Sleep(2 * time.Second)
		windows = append(windows, window{"cassandra " + hosts[n-1], t0, time.Now()})
		time.Sleep(3 * time.Second)
	}
	after := time.Now()
	time.Sleep(10 * time.Second)
	windows = append(windows, window{"after", after, time.Now()})
	load.halt()

	rs := load.snapshot()
	all := summarize(rs, window{"all", begin, time.Now()})
	creates, updates := acked(rs)
	checked, lost, changed := load.verify(t, lb.addr, [2]string{})
	t.Logf("rolling restart at %d req/s through HAProxy: %v", rate, all)
	t.Logf("acknowledged writes: %d creates, %d updates; users read back %d, lost %d, changed %d", creates, updates, checked, lost, changed)
	t.Logf("haproxy backend: retries %d, redispatches %d, connection errors %d, response errors %d",
		lb.counter("wretr"), lb.counter("wredis"), lb.counter("econ"), lb.counter("eresp"))
	steady := summarize(rs, windows[0])
	for i, w := range windows {
		s := summarize(rs, w)
		line := fmt.Sprintf("%-22s %v", w.name, s)
		if i > 0 && i <= len(rolls) {
			line += fmt.Sprintf("; roll took %v (stopped after %v); p99 %.1fx steady", rolls[i-1].took.Round(100*time.Millisecond),
				rolls[i-1].down.Round(100*time.Millisecond), float64(s.p99)/float64(steady.p99))
		}
		t.Log(line)
	}
	if all.failed > 0 {
		t.Logf("first failures: %s", strings.Join(failures(rs, 10), "\n  "))
	}
	assert.Zero(t, all.failed, "no request fails as the client sees it")
	assert.Zero(t, lost, "no acknowledged write is lost")
	assert.Zero(t, changed, "no acknowledged write is changed")
	assert.Equal(t, creates, checked, "every acknowledged create was read back")
	assert.Greater(t, creates, rate/2, "the load ran")

	// The replicas' own exit: each left on SIGTERM with status 0 (checked in
	// stop); every replica is back in HAProxy's view.
	rows, err := lb.backend()
	require.NoError(t, err)
	for _, r := range reps {
		assert.Equal(t, "UP", rows[r.name]["status"], "%s is in the balancer again", r.name)
	}
}
