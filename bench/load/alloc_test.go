package load

import (
	"context"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The measuring loop must not allocate per request: a client that makes
// garbage at 100k requests/s spends its time in the collector and reports
// the collector's pauses as the server's latency. AllocsPerRun counts the
// whole process, so the full loop is measured against the no-op server
// (which allocates nothing), and the scenarios' request building apart
// from any server.

func TestPlainLoopAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = ServeNoop(ctx, ln)
	}()
	t.Cleanup(func() { cancel(); <-done })

	cfg, err := Config{URL: "http://" + ln.Addr().String() + "/", KeepAlive: true, Load: Load{Requests: 1}}.withDefaults()
	require.NoError(t, err)
	u, _ := url.Parse(cfg.URL)
	w := newPlainWorker(cfg, newClient(cfg, u).newConnDoer())
	d := &driver{plan: plan{ops: []string{"get"}}}
	sh := &shard{lat: newHist(), errs: map[string]int64{}, opErrs: make([]int64, 1)}
	step := func() {
		op, _ := w.next()
		t0 := time.Now()
		status, n, err := w.do()
		d.record(sh, op, status, n, time.Since(t0), 0, err)
	}
	for range 50 {
		step() // open the connection and grow buffers first
	}
	assert.Zero(t, testing.AllocsPerRun(500, step), "allocations per request, client and no-op server together")
	assert.Equal(t, int64(50+1+500), sh.status[200], "every request answered (AllocsPerRun runs once more to warm up)")
}

func TestScenarioRequestBuildingAllocations(t *testing.T) {
	s := startStub(t)
	for _, sc := range []Scenario{Get, Create, Batch, Update, List, Delete} {
		cfg, err := Config{URL: s.url, KeepAlive: true, Load: Load{Scenario: sc, Requests: 2000, Warmup: 20}}.withDefaults()
		require.NoError(t, err)
		u, _ := url.Parse(cfg.URL)
		scen, err := newAPIScenario(context.Background(), cfg, newClient(cfg, u), u)
		require.NoError(t, err, "scenario %s", sc)
		wk, _ := scen.newWorker(0)
		w := wk.(*apiWorker)
		w.page = append(w.page, "c29tZS9wYWdlPXN0YXRl"...) // a list walk in progress
		for range 20 {
			_, err := w.next()
			require.NoError(t, err, "scenario %s", sc)
		}
		allocs := testing.AllocsPerRun(200, func() { _, _ = w.next() })
		assert.Zero(t, allocs, "scenario %s: allocations to build a request", sc)
	}
}
