//go:build cluster

package cluster

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"github.com/userapi/userapi/internal/cassandratest"
)

// The two data centres of `make dcs-up`: a cluster of their own on addresses
// no other test uses (127.0.0.1 is the shared node, .11-13 the ring, .20-31
// the fault drills).
var (
	dcsEnv = []string{"CASSANDRA_CLUSTER=dcs", "CASSANDRA_DC_LAYOUT=dc1:41,42 dc2:51,52", "CASSANDRA_HEAP=512m"}
	dc1    = []string{"127.0.0.41", "127.0.0.42"}
	dc2    = []string{"127.0.0.51", "127.0.0.52"}
)

// TestDCOutageLocalQuorum: a keyspace with NetworkTopologyStrategy
// {dc1: 2, dc2: 2}; an API local to dc1 serves a mixed load at LOCAL_QUORUM
// while every dc2 node is killed. No request fails; EACH_QUORUM requests get
// a prompt 503 once dc1 has marked dc2 down. dc2 returns, the hints dc1 kept
// are delivered, and an API local to dc2 reads every acknowledged user at
// LOCAL_QUORUM. The nodes' own request counters show that neither API's
// queries left its DC.
func TestDCOutageLocalQuorum(t *testing.T) {
	scriptIn(t, dcsEnv, nil, "start") // idempotent; a node that cannot start fails the drill
	t.Cleanup(func() { scriptIn(t, dcsEnv, nil, "stop") })
	all := append(append([]string(nil), dc1...), dc2...)
	up := map[string]string{}
	for _, a := range all {
		up[a] = "UN"
	}
	waitState(t, dcsEnv, 1, up, 2*time.Minute)

	// The keyspace spans both DCs; the API would create one in its own DC only.
	ks := cassandratest.NewName("dcs")
	admin := dcSession(t, "dc1", dc1)
	require.NoError(t, admin.Query("CREATE KEYSPACE "+ks+" WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 2, 'dc2': 2}").
		Consistency(gocql.All).Exec())
	require.NoError(t, admin.AwaitSchemaAgreement(t.Context()))
	t.Cleanup(func() { cassandratest.Drop(dcSession(t, "dc1", dc1), ks) })

	apiFlags := func(dc string, hosts []string) []string {
		return []string{"-cassandra-hosts", strings.Join(hosts, ","), "-cassandra-dc", dc, "-cassandra-keyspace", ks,
			"-cassandra-replication-factor", "2", "-consistency", "LOCAL_QUORUM"}
	}
	api1 := newReplica(t, "api-dc1", apiFlags("dc1", dc1)...)

	rate := drillRate(t, 150)
	before := countsOf(t, all, ks)
	load, begin, steady := startSteadyLoad(t, api1.addr, rate)
	healthy := countsOf(t, all, ks)
	localOnly(t, "dc1 API, both DCs healthy", before, healthy, dc1, dc2)

	// Kill every dc2 node; dc1 keeps serving at LOCAL_QUORUM.
	killed := time.Now()
	scriptIn(t, dcsEnv, []string{"CASSANDRA_NODE=3 4"}, "kill")
	down := map[string]string{dc2[0]: "DN", dc2[1]: "DN"}
	waitState(t, dcsEnv, 1, down, 2*time.Minute)
	waitState(t, dcsEnv, 2, down, time.Minute)
	t.Logf("dc2 killed; dc1 marked it down after %v", time.Since(killed).Round(time.Second))

	// EACH_QUORUM needs two replicas in each DC: with dc2 known down the
	// coordinator refuses at once (Unavailable), and the API answers 503.
	id := load.someID()
	require.NotEmpty(t, id)
	var slowest time.Duration
	probes := map[string]int{}
	for i := 0; i < 10; i++ {
		for _, p := range []struct{ method, path, body string }{
			{"POST", "/users", fmt.Sprintf(`{"name":"each %d","email":"each%d@example.com","age":1}`, i, i)},
			{"GET", "/users/" + id, ""},
			{"PUT", "/users/" + id, `{"age":7}`},
		} {
			st, body, took, err := probe(api1.addr, p.method, p.path, p.body, "EACH_QUORUM")
			require.NoError(t, err, "%s %s at EACH_QUORUM", p.method, p.path)
			slowest = max(slowest, took)
			probes[fmt.Sprintf("%s %d", p.method, st)]++
			assert.Equal(t, 503, st, "%s %s at EACH_QUORUM with dc2 down: %s", p.method, p.path, body)
			assert.True(t, hasDetail(body), "a 503 explains itself: %s", body)
			assert.Less(t, took, 2*time.Second, "EACH_QUORUM fails fast, not by timing out (write timeout 2s)")
		}
	}
	t.Logf("EACH_QUORUM with dc2 down: %v, slowest answer %v", probes, slowest.Round(100*time.Microsecond))

	time.Sleep(10 * time.Second)
	restart := time.Now()
	scriptIn(t, dcsEnv, []string{"CASSANDRA_NODE=3 4"}, "start")
	waitState(t, dcsEnv, 1, map[string]string{dc2[0]: "UN", dc2[1]: "UN"}, 2*time.Minute)
	outage := window{"dc2 down", killed, time.Now()}
	t.Logf("dc2 restarted: CQL and UN on dc1 after %v (%v after the kill)", time.Since(restart).Round(time.Second), time.Since(killed).Round(time.Second))
	time.Sleep(3 * time.Second)
	load.halt()
	// Hints wait in memory until the next flush (hints_flush_period, 10s)
	// before they show in system_views.pending_hints and are dispatched.
	time.Sleep(11 * time.Second)
	hints := waitHintsDelivered(t, dc1, 3*time.Minute)
	t.Logf("no hints pending on dc1 %v after the load stopped", (hints + 11*time.Second).Round(time.Second))
	// A LOCAL_QUORUM read repairs the one dc2 replica it finds stale, so it
	// would hide a lost hint: compare every replica first (changes nothing).
	node3 := []string{"CASSANDRA_NODE=3"}
	insync := func() bool {
		return strings.Contains(scriptIn(t, dcsEnv, node3, "nodetool", "repair", "--preview", "--full", ks, "users"), "Previewed data was in sync")
	}
	if insync() {
		t.Log("preview repair: all four replicas in sync after the hints were delivered")
	} else {
		t.Log("preview repair: replicas differ after the hints; running a full repair")
		scriptIn(t, dcsEnv, node3, "nodetool", "repair", "--full", ks, "users")
		require.True(t, insync(), "replicas in sync after a full repair")
	}

	rs := load.snapshot()
	sAll, sSteady, sOut := summarize(rs, window{"all", begin, time.Now()}), summarize(rs, steady), summarize(rs, outage)
	creates, updates := acked(rs)
	oc, ou := acked(inWindow(rs, outage))
	t.Logf("dc1 API at %d req/s: %v", rate, sAll)
	t.Logf("steady (both DCs):  %v", sSteady)
	t.Logf("dc2 down (%v):  %v; p99 %.1fx steady", outage.to.Sub(outage.from).Round(time.Second), sOut, float64(sOut.p99)/float64(sSteady.p99))
	t.Logf("acknowledged writes: %d creates, %d updates (during the outage %d creates, %d updates)", creates, updates, oc, ou)
	if sAll.failed > 0 {
		t.Logf("first failures: %s", strings.Join(failures(rs, 10), "\n  "))
	}
	assert.Zero(t, sAll.failed, "no request at LOCAL_QUORUM fails while dc2 is down")
	assert.Greater(t, oc, rate/5, "writes were acknowledged during the outage")

	// An API local to dc2 reads every acknowledged user, the outage's too,
	// at LOCAL_QUORUM: both dc2 replicas answer, dc1 is not asked.
	api2 := newReplica(t, "api-dc2", apiFlags("dc2", dc2)...)
	beforeRead := countsOf(t, all, ks)
	checked, lost, changed := load.verify(t, api2.addr, [2]string{})
	afterRead := countsOf(t, all, ks)
	t.Logf("dc2 API read back %d acknowledged users at LOCAL_QUORUM: lost %d, changed %d", checked, lost, changed)
	assert.Equal(t, creates, checked)
	assert.Zero(t, lost, "no acknowledged write is missing in dc2")
	assert.Zero(t, changed, "no acknowledged write differs in dc2")
	localOnly(t, "dc2 API, both DCs healthy", beforeRead, afterRead, dc2, dc1)
}

// dcSession is a session confined to one DC's nodes.
func dcSession(t *testing.T, dc string, hosts []string) *gocql.Session {
	t.Helper()
	c := gocql.NewCluster(hosts...)
	c.HostFilter = gocql.DataCentreHostFilter(dc)
	c.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(gocql.DCAwareRoundRobinPolicy(dc))
	c.Timeout = 30 * time.Second
	c.ConnectTimeout = 10 * time.Second
	c.Consistency = gocql.LocalQuorum
	s, err := c.CreateSession()
	require.NoError(t, err, "session to %s (%v)", dc, hosts)
	t.Cleanup(s.Close)
	return s
}

func countsOf(t *testing.T, addrs []string, ks string) map[string]map[string]int64 {
	out := map[string]map[string]int64{}
	for _, a := range addrs {
		out[a] = tableCounts(t, a, ks)
	}
	return out
}

// localOnly checks, from the nodes' own counters between two snapshots,
// that only nodes in local coordinated requests or served reads for the
// table, while remote nodes still received the replicated writes.
func localOnly(t *testing.T, what string, before, after map[string]map[string]int64, local, remote []string) {
	t.Helper()
	delta := func(a, k string) int64 { return after[a][k] - before[a][k] }
	var lines []string
	var coordinated int64
	for _, a := range append(append([]string(nil), local...), remote...) {
		lines = append(lines, fmt.Sprintf("%s coordinator reads %d writes %d, local reads %d writes %d", a,
			delta(a, "coordinator_read"), delta(a, "coordinator_write"), delta(a, "local_read"), delta(a, "local_write")))
	}
	t.Logf("%s, table counters from system_views:\n  %s", what, strings.Join(lines, "\n  "))
	for _, a := range local {
		coordinated += delta(a, "coordinator_read") + delta(a, "coordinator_write")
	}
	assert.Positive(t, coordinated, "%s: the local DC coordinated the requests", what)
	for _, a := range remote {
		assert.Zero(t, delta(a, "coordinator_read"), "%s: %s coordinated no read", what, a)
		assert.Zero(t, delta(a, "coordinator_write"), "%s: %s coordinated no write", what, a)
		assert.Zero(t, delta(a, "local_read"), "%s: %s served no read", what, a)
	}
}

func inWindow(rs []result, w window) []result {
	var out []result
	for _, r := range rs {
		if !r.at.Before(w.from) && r.at.Before(w.to) {
			out = append(out, r)
		}
	}
	return out
}

// someID is one acknowledged user's id.
func (l *mixLoad) someID() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ids) == 0 {
		return ""
	}
	return l.ids[0]
}

// probe sends one request with X-Consistency-Level and times it.
func probe(addr, method, path, body, consistency string) (int, []byte, time.Duration, error) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(method)
	req.SetRequestURI("http://" + addr + path)
	req.Header.Set("X-Consistency-Level", consistency)
	if body != "" {
		req.Header.SetContentType("application/json")
		req.SetBodyString(body)
	}
	start := time.Now()
	err := fasthttp.DoTimeout(req, resp, 15*time.Second)
	return resp.StatusCode(), append([]byte(nil), resp.Body()...), time.Since(start), err
}

func hasDetail(b []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return false
	}
	_, ok := m["detail"]
	return ok
}
