package bench

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SoakConfig is one soak (`loadgen soak`, `make soak`): the API under a
// mixed load at a constant rate for a long time, sampled every Window.
// What a run of seconds cannot show: memory that creeps, goroutines that
// pile up, a p99 that drifts while Cassandra flushes and compacts, writes
// acknowledged but lost.
type SoakConfig struct {
	Out     string // default bench/results/soak-<UTC timestamp>
	UserAPI string // default bin/userapi
	Hosts   string // default 127.0.0.1

	Duration time.Duration // the load; default 30m
	Rate     float64       // requests/s in total; required
	Conns    int           // connections; default 256
	Mix      string        // default read=80,write=20
	Warmup   int           // users created before the load, for reads; default 1000

	Window time.Duration // sampling interval; default 10s
	// Settle is the part of the load left out of the drift verdicts (RSS,
	// first window's p99): heaps, caches and connection pools fill first.
	// Default Duration/6, at most 5m; negative: none.
	Settle time.Duration
	// Idle is how long, after the load, the goroutine count may take to
	// fall back to the count before it; default 60s (fasthttp lets idle
	// workers go after 10s).
	Idle time.Duration

	Verify int // acknowledged creates read back and compared at the end; default 10000

	// Nodetool is the command that runs nodetool (default
	// scripts/cassandra.sh nodetool); NodetoolEvery how often its
	// compactionstats runs (default 10m, a JVM start each, whose CPU
	// shows in its window's p99; negative: never). Thread pools are read
	// over CQL at every window.
	Nodetool      []string
	NodetoolEvery time.Duration

	Port         int    // the API's port on 127.0.0.1; 0 picks a free one
	Keyspace     string // default soak_api
	UserAPIFlags []string

	Log io.Writer // a line per window; default stderr
}

func (cfg SoakConfig) withDefaults() (SoakConfig, error) {
	if cfg.Out == "" {
		cfg.Out = filepath.Join("bench", "results", "soak-"+time.Now().UTC().Format("20060102T150405Z"))
	}
	if cfg.Duration == 0 {
		cfg.Duration = 30 * time.Minute
	}
	if cfg.Duration < 0 {
		return cfg, fieldErr("Duration", "must be positive")
	}
	if cfg.Rate <= 0 {
		return cfg, fieldErr("Rate", "set a rate, or a sweep's results.json to take 70%% of its knee from")
	}
	if cfg.Conns == 0 {
		cfg.Conns = 256
	}
	if cfg.Mix == "" {
		cfg.Mix = DefaultMix().String()
	}
	if cfg.Warmup == 0 {
		cfg.Warmup = defaultWarmupIDs
	}
	if cfg.Window == 0 {
		cfg.Window = 10 * time.Second
	}
	if cfg.Window < 0 {
		return cfg, fieldErr("Window", "must be positive")
	}
	if cfg.Settle == 0 {
		cfg.Settle = min(cfg.Duration/6, 5*time.Minute)
	}
	cfg.Settle = max(cfg.Settle, 0)
	if cfg.Idle == 0 {
		cfg.Idle = time.Minute
	}
	if cfg.Verify == 0 {
		cfg.Verify = 10000
	}
	if cfg.Verify < 0 {
		return cfg, fieldErr("Verify", "must be positive")
	}
	if cfg.Nodetool == nil {
		cfg.Nodetool = []string{"scripts/cassandra.sh", "nodetool"}
	}
	if cfg.NodetoolEvery == 0 {
		cfg.NodetoolEvery = 10 * time.Minute
	}
	if cfg.Keyspace == "" {
		cfg.Keyspace = "soak_api"
	}
	if cfg.Log == nil {
		cfg.Log = os.Stderr
	}
	return cfg, nil
}

// SoakSample is one window of a soak.
type SoakSample struct {
	Index          int              `json:"index"`
	Minutes        float64          `json:"minutes"` // the window's end, from the load's start
	RequestsPerSec float64          `json:"requests_per_sec"`
	P50            float64          `json:"p50_ms"`
	P99            float64          `json:"p99_ms"`
	P999           float64          `json:"p99_9_ms"`
	Errors         map[string]int64 `json:"errors,omitempty"` // by kind, and "status NNN" for non-2xx answers

	RSSMiB       float64 `json:"rss_mib"`
	HeapInuseMiB float64 `json:"heap_inuse_mib"`
	HeapAllocMiB float64 `json:"heap_alloc_mib"`
	Goroutines   float64 `json:"goroutines"`
	HTTPConns    int     `json:"http_conns"`
	CQLConns     int     `json:"cql_conns"`
	GCs          float64 `json:"gcs"`              // in the window
	GCPauseMs    float64 `json:"gc_pause_ms"`      // total in the window
	GCMaxPauseMs float64 `json:"gc_max_pause_ms"`  // bucket bound of the longest
	Full         bool    `json:"full"`             // a whole window (the last may be partial)
	Settled      bool    `json:"after_settle"`     // past SoakConfig.Settle
	ServerErr    string  `json:"server,omitempty"` // a failed scrape

	CompactionsPending int64  `json:"compactions_pending"`
	CompactionsActive  int64  `json:"compactions_active"`
	Flushes            int64  `json:"memtable_flushes"` // completed in the window
	FlushesPending     int64  `json:"memtable_flushes_pending"`
	NodetoolPending    int64  `json:"nodetool_pending_compactions"` // -1: not sampled
	NodeErr            string `json:"node,omitempty"`
}

// Verdict is one of the soak's computed checks.
type Verdict struct {
	Name     string `json:"name"`
	Want     string `json:"want"`
	Measured string `json:"measured"`
	Holds    bool   `json:"holds"`
}

// Soak is a finished soak.
type Soak struct {
	Dir       string            `json:"-"`
	Generated time.Time         `json:"generated"`
	Meta      map[string]string `json:"meta"`
	Verdicts  []Verdict         `json:"verdicts"`
	Samples   []SoakSample      `json:"samples"`
	Summary   Summary           `json:"summary"` // the whole load, as loadgen's JSON

	IdleGoroutines  float64 `json:"idle_goroutines"`  // before the load
	AfterGoroutines float64 `json:"after_goroutines"` // lowest within SoakConfig.Idle after it
	Acked           int64   `json:"acked_creates"`
	Checked         int     `json:"checked_creates"`
	Missing         int     `json:"missing_creates"`
	Mismatched      int     `json:"mismatched_creates"`
	VerifyErrors    int     `json:"verify_errors"`
}

// Holds reports whether every verdict holds.
func (s *Soak) Holds() bool {
	return !slices.ContainsFunc(s.Verdicts, func(v Verdict) bool { return !v.Holds })
}

// soakRun is a soak in progress.
type soakRun struct {
	cfg   SoakConfig
	probe *probe
	node  *nodeWatch
	start time.Time

	mu       sync.Mutex
	samples  []SoakSample
	last     ServerSample
	lastNode NodeSample
	nodetool chan NodeSample // a compactionstats result, when one is ready
	ntNext   time.Time
	ntBusy   bool
}

// RunSoak starts the API, runs the soak and writes report.md,
// results.json and the plots into cfg.Out.
func RunSoak(ctx context.Context, cfg SoakConfig) (*Soak, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	mix, err := ParseMix(cfg.Mix)
	if err != nil {
		return nil, err
	}
	h, _, err := harness(ctx, SuiteConfig{Out: cfg.Out, UserAPI: cfg.UserAPI, Hosts: cfg.Hosts, Modes: []string{ModeAPI},
		Port: cfg.Port, APIKeyspace: cfg.Keyspace, UserAPIFlags: cfg.UserAPIFlags, Log: cfg.Log})
	if err != nil {
		return nil, err
	}
	h.cfg.Log = logPrefix{h.cfg.Log, "soak: "}
	srv, err := h.startServer(ModeAPI, "api-soak")
	if err != nil {
		return nil, err
	}
	defer h.stop(srv)
	r := &soakRun{cfg: cfg, nodetool: make(chan NodeSample, 1)}
	if r.probe, err = newProbe(srv.p.PID(), srv.url); err != nil {
		return nil, err
	}
	if r.node, err = newNodeWatch(HostsList(cfg.Hosts), cfg.Nodetool); err != nil {
		return nil, err
	}
	defer r.node.close()
	s := &Soak{Dir: cfg.Out, Meta: cfg.meta()}
	idle, err := r.probe.sample(ctx)
	if err != nil {
		return nil, err
	}
	s.IdleGoroutines = idle.Goroutines
	r.last = idle
	if r.lastNode, err = r.node.sample(ctx, false); err != nil {
		return nil, err
	}
	r.logf("idle: %.0f goroutines, RSS %.1f MiB; %s at %.0f req/s on %d connections, a sample every %s",
		idle.Goroutines, mib(idle.RSSBytes), cfg.Duration, cfg.Rate, cfg.Conns, cfg.Window)

	acks := newReservoir(cfg.Verify)
	load := Config{URL: srv.url, KeepAlive: true, Load: Load{
		Duration: cfg.Duration, Rate: cfg.Rate, Concurrency: cfg.Conns, Timeout: 5 * time.Second,
		Scenario: Mixed, Mix: mix, Warmup: cfg.Warmup, WatchPID: srv.p.PID(),
		Labels: map[string]string{"mode": ModeAPI, "scenario": "soak"},
		Window: cfg.Window, OnWindow: func(w Window) { r.window(ctx, w) },
	}, Created: acks.add}
	r.start = time.Now()
	res, err := Run(ctx, load)
	if err != nil {
		return nil, err
	}
	s.Summary = res.Summary()
	s.Samples = r.samples
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("soak interrupted after %s: %w", time.Since(r.start).Round(time.Second), err)
	}
	r.logf("load done; waiting up to %s for goroutines to fall back to %.0f", cfg.Idle, s.IdleGoroutines)
	s.AfterGoroutines = r.settle(ctx, s.IdleGoroutines)
	s.Acked = acks.seen()
	r.logf("reading back %d of %d acknowledged creates", len(acks.kept()), s.Acked)
	s.Checked, s.Missing, s.Mismatched, s.VerifyErrors = verifyCreated(ctx, srv.url, acks.kept(), 16)
	s.verdicts(cfg)
	if err := s.Write(); err != nil {
		return nil, err
	}
	r.logf("report: %s", filepath.Join(cfg.Out, "report.md"))
	for _, v := range s.Verdicts {
		r.logf("%s", v.line())
	}
	return s, nil
}

func (r *soakRun) logf(format string, args ...any) {
	fmt.Fprintf(r.cfg.Log, "soak: "+format+"\n", args...)
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// window turns one interval of the load into a sample, with the server's
// and the node's state at its end, and prints the progress line.
func (r *soakRun) window(ctx context.Context, w Window) {
	secs := w.End.Sub(w.Start).Seconds()
	smp := SoakSample{
		Index:   w.Index,
		Minutes: w.End.Sub(r.start).Minutes(),
		P50:     percentileMs(w.Latency, 50), P99: percentileMs(w.Latency, 99), P999: percentileMs(w.Latency, 99.9),
		Full:            secs >= 0.9*r.cfg.Window.Seconds(),
		Settled:         w.Start.Sub(r.start) >= r.cfg.Settle,
		NodetoolPending: -1,
	}
	if secs > 0 {
		smp.RequestsPerSec = float64(w.Responses()) / secs
	}
	if n := len(w.Errors) + int(w.Non2xx()); n > 0 {
		smp.Errors = maps.Clone(w.Errors)
		for code, n := range w.Status {
			if code < 200 || code > 299 {
				smp.Errors["status "+strconv.Itoa(code)] += n
			}
		}
	}
	if cur, err := r.probe.sample(ctx); err != nil {
		smp.ServerErr = err.Error()
	} else {
		smp.RSSMiB, smp.HeapInuseMiB, smp.HeapAllocMiB = mib(cur.RSSBytes), cur.HeapInuseBytes/(1<<20), cur.HeapAllocBytes/(1<<20)
		smp.Goroutines, smp.HTTPConns, smp.CQLConns = cur.Goroutines, cur.HTTPConns, cur.CQLConns
		smp.GCs = cur.GCCount - r.last.GCCount
		smp.GCPauseMs = 1000 * (cur.GCPauseSeconds - r.last.GCPauseSeconds)
		smp.GCMaxPauseMs = 1000 * maxPauseBetween(r.last, cur)
		r.last = cur
	}
	if n, err := r.node.sample(ctx, false); err != nil {
		smp.NodeErr = err.Error()
	} else {
		smp.CompactionsPending, smp.CompactionsActive = n.CompactionsPending, n.CompactionsActive
		smp.FlushesPending, smp.Flushes = n.FlushesPending, n.FlushesCompleted-r.lastNode.FlushesCompleted
		r.lastNode = n
	}
	r.nodetoolTick(ctx, &smp)
	r.mu.Lock()
	r.samples = append(r.samples, smp)
	r.mu.Unlock()
	errs := int64(0)
	for _, n := range smp.Errors {
		errs += n
	}
	elapsed := w.End.Sub(r.start)
	r.logf("%s/%s (%.0f%%): %.0f req/s, p50 %.2f ms, p99 %.2f ms, RSS %.1f MiB, heap %.1f MiB, %.0f goroutines, %d HTTP / %d CQL conns, %d errors, compactions %d pending",
		elapsed.Round(time.Second), r.cfg.Duration, 100*elapsed.Seconds()/r.cfg.Duration.Seconds(), smp.RequestsPerSec,
		smp.P50, smp.P99, smp.RSSMiB, smp.HeapInuseMiB, smp.Goroutines, smp.HTTPConns, smp.CQLConns, errs, smp.CompactionsPending)
}

// nodetoolTick starts `nodetool compactionstats` in the background when
// it is due, and puts a finished one's figure into smp: a JVM start takes
// seconds and must not stretch a window.
func (r *soakRun) nodetoolTick(ctx context.Context, smp *SoakSample) {
	select {
	case n := <-r.nodetool:
		smp.NodetoolPending = n.PendingTasks
		r.ntBusy = false
	default:
	}
	if r.cfg.NodetoolEvery < 0 || r.ntBusy || time.Now().Before(r.ntNext) {
		return
	}
	r.ntBusy, r.ntNext = true, time.Now().Add(r.cfg.NodetoolEvery)
	go func() {
		n, err := r.node.sample(ctx, true)
		if err != nil {
			r.logf("%v", err)
		}
		r.nodetool <- n
	}()
}

// settle polls the server's goroutines until they are back to idle or
// cfg.Idle has passed, and returns the lowest count seen.
func (r *soakRun) settle(ctx context.Context, idle float64) float64 {
	lowest := -1.0
	deadline := time.Now().Add(r.cfg.Idle)
	for {
		if s, err := r.probe.sample(ctx); err == nil && (lowest < 0 || s.Goroutines < lowest) {
			lowest = s.Goroutines
		}
		if (lowest >= 0 && lowest <= idle) || time.Now().After(deadline) || ctx.Err() != nil {
			return lowest
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// reservoir keeps a uniform sample of up to n acknowledged create bodies
// (one user each), whatever the run's length.
type reservoir struct {
	mu    sync.Mutex
	n     int
	count int64
	users [][]byte
	r     *rand.Rand
}

func newReservoir(n int) *reservoir {
	return &reservoir{n: n, r: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
}

// add takes a 201 body of POST /users (one user) or /users/batch.
func (rs *reservoir) add(body []byte) {
	users := splitCreated(body)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, u := range users {
		rs.count++
		switch {
		case len(rs.users) < rs.n:
			rs.users = append(rs.users, u)
		default:
			if j := rs.r.Int64N(rs.count); j < int64(rs.n) {
				rs.users[j] = u
			}
		}
	}
}

func (rs *reservoir) seen() int64 {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.count
}

func (rs *reservoir) kept() [][]byte {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return slices.Clone(rs.users)
}

func (cfg SoakConfig) meta() map[string]string {
	nt := "every " + cfg.NodetoolEvery.String()
	if cfg.NodetoolEvery < 0 {
		nt = "off"
	}
	return map[string]string{
		"started":      time.Now().UTC().Format(time.RFC3339),
		"git":          gitVersion(),
		"machine":      machine(),
		"go":           runtime.Version(),
		"load":         fmt.Sprintf("%s at %.0f req/s on %d connections, mix %s", cfg.Duration, cfg.Rate, cfg.Conns, cfg.Mix),
		"window":       cfg.Window.String(),
		"settle":       cfg.Settle.String() + " left out of the RSS drift and first-window p99",
		"server":       strings.Join(append([]string{"bin/userapi"}, cfg.UserAPIFlags...), " ") + " (keyspace " + cfg.Keyspace + ")",
		"samples":      "server: /metrics (go_goroutines, go_memstats_heap_*, go_gc_duration_seconds, go_gc_pauses_seconds) and /proc (VmRSS, sockets); Cassandra: system_views.thread_pools every window, nodetool compactionstats " + nt,
		"latency":      "from each request's intended send time (no coordinated omission)",
		"verification": fmt.Sprintf("up to %d acknowledged creates (uniform sample) read back by id and compared field by field", cfg.Verify),
	}
}
