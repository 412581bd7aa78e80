//go:build cluster

// Package cluster proves token-aware routing on a real 3-node ring started by
// `make cluster-up` (127.0.0.11-13; the shared single node on 127.0.0.1 stays
// untouched). Run with `make test-cluster`.
package cluster

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userapi/userapi/engine"
	"github.com/userapi/userapi/internal/cassandratest"
)

var (
	hosts      = []string{"127.0.0.11", "127.0.0.12", "127.0.0.13"}
	repoRoot   = func() string { r, _ := filepath.Abs("../.."); return r }()
	clusterEnv = []string{"CASSANDRA_CLUSTER=ring", "CASSANDRA_ADDR_BASE=11", "CASSANDRA_NODES=3"}
)

func script(t testing.TB, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("scripts/cassandra.sh", args...)
	cmd.Dir = repoRoot
	cmd.Env = append(append(os.Environ(), clusterEnv...), env...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "cassandra.sh %v: %s", args, out)
	return string(out)
}

func session(t testing.TB) *gocql.Session {
	t.Helper()
	c := gocql.NewCluster(hosts...)
	c.Timeout = 10 * time.Second
	c.Consistency = gocql.Quorum
	s, err := c.CreateSession()
	require.NoError(t, err, "the 3-node ring must be up: make cluster-up")
	t.Cleanup(s.Close)
	return s
}

func newEngine(t testing.TB, rf int, mutate func(*engine.Config)) (*engine.Engine, string) {
	t.Helper()
	ks := cassandratest.NewName(fmt.Sprintf("cluster_rf%d", rf))
	cfg := engine.Config{
		Hosts: hosts, Keyspace: ks, ReplicationFactor: rf,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e, err := engine.New(ctx, cfg)
	require.NoError(t, err)
	s := session(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = e.Close(ctx)
		cassandratest.Drop(s, ks)
	})
	return e, ks
}

func createMany(t testing.TB, e *engine.Engine, n, workers int) []engine.User {
	t.Helper()
	out := make([]engine.User, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				u, err := e.CreateUser(ctx, engine.NewUser{Name: fmt.Sprint("c", i), Email: fmt.Sprintf("c%d@example.com", i), Age: i % 100}, engine.Options{})
				cancel()
				if !assert.NoError(t, err, "create %d", i) {
					return
				}
				out[i] = u
			}
		}()
	}
	wg.Wait()
	return out
}

// TestTokensAndReplicas: the engine's client-side token of every key equals
// Cassandra's token(id), and its replica set equals what the cluster says
// (nodetool getendpoints) for RF=1 and RF=3.
func TestTokensAndReplicas(t *testing.T) {
	for _, rf := range []int{1, 3} {
		t.Run(fmt.Sprintf("rf=%d", rf), func(t *testing.T) {
			e, ks := newEngine(t, rf, nil)
			users := createMany(t, e, 300, 16)
			s := session(t)
			iter := s.Query("SELECT id, token(id) FROM " + ks + ".users").Iter()
			var id gocql.UUID
			var tok int64
			n := 0
			for iter.Scan(&id, &tok) {
				require.Equal(t, tok, engine.Token(engine.UUID(id)), "token of %s", id)
				n++
			}
			require.NoError(t, iter.Close())
			require.Equal(t, len(users), n, "every created row is there")

			// nodetool starts a JVM per call: check a sample of keys.
			owners := map[string]int{}
			for _, u := range users[:12] {
				out := script(t, nil, "nodetool", "getendpoints", ks, "users", u.ID.String())
				var want []string
				for _, l := range strings.Fields(out) {
					if strings.HasPrefix(l, "127.0.0.") {
						want = append(want, l)
					}
				}
				got := e.Replicas(u.ID)
				sort.Strings(want)
				sort.Strings(got)
				require.Equal(t, want, got, "replicas of %s (token %d)", u.ID, engine.Token(u.ID))
				owners[strings.Join(got, ",")]++
			}
			t.Logf("rf=%d: %d tokens checked against token(id); replica sets of 12 keys: %v", rf, n, owners)
		})
	}
}

// TestBatchesFollowReplicas: every batch holds writes of one replica set only
// and goes to one of its replicas. With RF=1 that means every write is
// delivered to the node that owns it.
func TestBatchesFollowReplicas(t *testing.T) {
	for _, tc := range []struct {
		rf int
		cl engine.Consistency
	}{{1, engine.One}, {3, engine.LocalQuorum}} {
		t.Run(fmt.Sprintf("rf=%d", tc.rf), func(t *testing.T) {
			// Writes batch only when their line is full (engine/lines.go):
			// with 4 batches in flight per replica set, 64 callers form many.
			e, _ := newEngine(t, tc.rf, func(c *engine.Config) { c.Consistency, c.BatchInflight, c.BatchFixed = tc.cl, 4, true })
			createMany(t, e, 3000, 64)
			toReplica, toOther, mixed := e.BatchRouting()
			t.Logf("rf=%d: batches to a replica %d, to another node %d, mixing replica sets %d; share to owners %.1f%%",
				tc.rf, toReplica, toOther, mixed, 100*float64(toReplica)/float64(toReplica+toOther))
			assert.Greater(t, toReplica, uint64(0))
			assert.Zero(t, toOther, "every batch goes to a replica of its writes")
			assert.Zero(t, mixed, "no batch mixes replica sets")
		})
	}
}

// TestNodeLossUnderLoad: kill -9 one node of three during a mixed load at
// RF=3, LOCAL_QUORUM. Requests keep succeeding (failures only within the
// driver's detection window), no acknowledged write is lost, and the
// returned node is used again.
func TestNodeLossUnderLoad(t *testing.T) {
	// The returned node's use is seen in the batch coordinator metrics, and
	// writes batch only when their line is full (engine/lines.go): with 2
	// batches in flight, the 8 concurrent creates below form batches.
	e, ks := newEngine(t, 3, func(c *engine.Config) { c.BatchInflight, c.BatchFixed = 2, true })
	seed := createMany(t, e, 200, 16)
	var (
		mu       sync.Mutex
		acked    []engine.User
		failures []time.Time
		ok       atomic.Int64
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				var err error
				if i%2 == 0 {
					var u engine.User
					u, err = e.CreateUser(ctx, engine.NewUser{Name: fmt.Sprintf("w%d-%d", w, i), Email: "loss@example.com", Age: w}, engine.Options{})
					if err == nil {
						mu.Lock()
						acked = append(acked, u)
						mu.Unlock()
					}
				} else {
					_, err = e.GetUser(ctx, seed[(w*31+i)%len(seed)].ID, engine.Options{})
				}
				cancel()
				if err != nil {
					mu.Lock()
					failures = append(failures, time.Now())
					mu.Unlock()
				} else {
					ok.Add(1)
				}
			}
		}(w)
	}
	time.Sleep(3 * time.Second)
	killed := time.Now()
	script(t, []string{"CASSANDRA_NODE=2"}, "kill")
	time.Sleep(8 * time.Second)
	okDuringOutage := ok.Load()
	restartAt := time.Now()
	script(t, []string{"CASSANDRA_NODE=2"}, "start")
	back := time.Since(restartAt)
	before := coordinated(t, e, "127.0.0.12")
	time.Sleep(8 * time.Second)
	after := coordinated(t, e, "127.0.0.12")
	close(stop)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	var window time.Duration
	if len(failures) > 0 {
		window = failures[len(failures)-1].Sub(failures[0])
	}
	t.Logf("node 2 killed at +3s; %d requests succeeded in all, %d failed (first %v after the kill, spread over %v); node back in %v",
		ok.Load(), len(failures), firstAfter(failures, killed), window.Round(time.Millisecond), back.Round(time.Second))
	t.Logf("batches coordinated by the returned node: %d before its return settled, %d after", before, after)
	assert.Greater(t, okDuringOutage, int64(100), "the service kept serving with a node down")
	assert.LessOrEqual(t, len(failures), 100, "failures only within the detection window")
	assert.Greater(t, after, before, "the returned node coordinates batches again")

	s := session(t)
	lost := 0
	for _, u := range acked {
		var name string
		err := s.Query("SELECT name FROM "+ks+".users WHERE id = ?", gocql.UUID(u.ID)).Consistency(gocql.Quorum).Scan(&name)
		if err != nil || name != u.Name {
			lost++
		}
	}
	t.Logf("acknowledged creates checked: %d, lost: %d", len(acked), lost)
	assert.Zero(t, lost)
}

func firstAfter(ts []time.Time, t0 time.Time) time.Duration {
	if len(ts) == 0 {
		return 0
	}
	return ts[0].Sub(t0).Round(time.Millisecond)
}

// coordinated reads how many batches host coordinated from the metrics.
func coordinated(t *testing.T, e *engine.Engine, host string) int {
	var b strings.Builder
	e.WriteMetrics(&b)
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(l, `userapi_engine_batch_coordinator_host_total{host="`+host+`"}`) {
			var n int
			fmt.Sscanf(l[strings.LastIndexByte(l, ' ')+1:], "%d", &n)
			return n
		}
	}
	return 0
}

// BenchmarkClusterCreates: creates/s at 64 concurrent callers on the 3-node
// ring (RF=3, LOCAL_QUORUM) with replica-aware batching, batching off, and
// batches grouped by nothing (plain multi-partition batches). Run with
// `make bench-cluster`.
func BenchmarkClusterCreates(b *testing.B) {
	type variant struct {
		name   string
		mutate func(*engine.Config)
	}
	variants := []variant{
		{"token-aware", nil}, // adaptive: the tuner picks the size
		{"fixed16", func(c *engine.Config) { c.BatchFixed, c.BatchMax, c.BatchInflight = true, 16, 4 }},
		{"batchmax1", func(c *engine.Config) { c.BatchMax = 1 }},
		{"ungrouped", func(c *engine.Config) { c.BatchIgnoreReplicas = true }},
	}
	// RF=3 on 3 nodes makes every node a replica of every key, so grouping
	// by replica set equals grouping by nothing; RF=1 shows the difference.
	for _, rf := range []int{3, 1} {
		for _, v := range variants {
			benchCreates(b, fmt.Sprintf("rf%d/%s", rf, v.name), rf, v.mutate)
		}
	}
}

func benchCreates(b *testing.B, name string, rf int, mutate func(*engine.Config)) {
	b.Run(name, func(b *testing.B) {
		e, _ := newEngine(b, rf, mutate)
		b.SetParallelism(64)
		b.ResetTimer()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				i++
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := e.CreateUser(ctx, engine.NewUser{Name: fmt.Sprint("b", i), Email: "bench@example.com", Age: i % 100}, engine.Options{})
				cancel()
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "creates/s")
	})
}
