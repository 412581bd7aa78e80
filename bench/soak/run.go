package soak

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/userapi/userapi/bench/harness"
	"github.com/userapi/userapi/bench/load"
	"github.com/userapi/userapi/bench/measure"
	"github.com/userapi/userapi/bench/report"
)

// Config is one soak (`loadgen soak`, `make soak`): the API under a
// mixed load at a constant rate for a long time, sampled every Window.
// What a run of seconds cannot show: memory that creeps, goroutines that
// pile up, a p99 that drifts while Cassandra flushes and compacts, writes
// acknowledged but lost.
type Config struct {
	harness.Config

	Duration time.Duration // the load; default 30m
	// Rate is the load in requests/s. Zero: KneeShare of the API's mixed
	// knee in Sweep, a sweep's results.json (default the latest under
	// bench/results), or, with no sweep there, of a short calibration's.
	Rate      float64
	Sweep     string
	KneeShare float64 // default 0.7
	Conns     int     // connections; default 256
	Mix       string  // default read=80,write=20
	Warmup    int     // users created before the load, for reads; default 1000

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

	Keyspace string // default soak_api
}

// Defaults returns c with every zero field set to its default.
func (c Config) Defaults() Config {
	c.Config = c.Config.Defaults("soak-", 18484)
	load.Default(&c.Duration, 30*time.Minute)
	load.Default(&c.KneeShare, 0.7)
	load.Default(&c.Conns, 256)
	load.Default(&c.Mix, load.DefaultMixText)
	load.Default(&c.Warmup, 1000)
	load.Default(&c.Window, 10*time.Second)
	load.Default(&c.Settle, min(c.Duration/6, 5*time.Minute))
	c.Settle = max(c.Settle, 0)
	load.Default(&c.Idle, time.Minute)
	load.Default(&c.Verify, 10000)
	load.Default(&c.NodetoolEvery, 10*time.Minute)
	load.Default(&c.Keyspace, "soak_api")
	if c.Nodetool == nil {
		c.Nodetool = []string{"scripts/cassandra.sh", "nodetool"}
	}
	return c
}

func (c Config) check() error {
	switch {
	case c.Duration < 0:
		return load.FieldError("Duration", "must be positive")
	case c.Rate < 0:
		return load.FieldError("Rate", "must not be negative")
	case c.KneeShare <= 0 || c.KneeShare > 1:
		return load.FieldError("KneeShare", "must be in (0, 1], not %g", c.KneeShare)
	case c.Window < 0:
		return load.FieldError("Window", "must be positive")
	case c.Verify < 0:
		return load.FieldError("Verify", "must be positive")
	}
	return nil
}

// Sample is one window of a soak.
type Sample struct {
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
	Settled      bool    `json:"after_settle"`     // past Config.Settle
	ServerErr    string  `json:"server,omitempty"` // a failed scrape

	CompactionsPending int64  `json:"compactions_pending"`
	CompactionsActive  int64  `json:"compactions_active"`
	Flushes            int64  `json:"memtable_flushes"` // completed in the window
	FlushesPending     int64  `json:"memtable_flushes_pending"`
	NodetoolPending    int64  `json:"nodetool_pending_compactions"` // -1: not sampled
	NodeErr            string `json:"node,omitempty"`
}

// Report is a finished soak.
type Report struct {
	report.Header
	Verdicts []report.Verdict `json:"verdicts"`
	Samples  []Sample         `json:"samples"`
	Summary  load.Summary     `json:"summary"` // the whole load, as loadgen's JSON

	IdleGoroutines  float64 `json:"idle_goroutines"`  // before the load
	AfterGoroutines float64 `json:"after_goroutines"` // lowest within Config.Idle after it
	Acked           int64   `json:"acked_creates"`
	Checked         int     `json:"checked_creates"`
	Missing         int     `json:"missing_creates"`
	Mismatched      int     `json:"mismatched_creates"`
	VerifyErrors    int     `json:"verify_errors"`
}

// Holds reports whether every verdict holds.
func (s *Report) Holds() bool {
	return !slices.ContainsFunc(s.Verdicts, func(v report.Verdict) bool { return !v.Holds() })
}

// soakRun is a soak in progress.
type soakRun struct {
	*harness.Run
	cfg   Config
	probe *measure.Probe
	node  *measure.Node
	start time.Time

	mu       sync.Mutex
	samples  []Sample
	last     measure.ServerSample
	lastNode measure.NodeSample
	nodetool chan measure.NodeSample // a compactionstats result, when one is ready
	ntNext   time.Time
	ntBusy   bool
}

// Run starts the API, runs the soak and writes report.md, results.json
// and the plots into cfg.Out.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.Defaults()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	mix, err := load.ParseMix(cfg.Mix)
	if err != nil {
		return nil, err
	}
	h, err := harness.Start(ctx, cfg.Config, "soak", harness.Needs{API: true, Cassandra: true})
	if err != nil {
		return nil, err
	}
	srv, err := h.StartAPI("api-soak", cfg.Keyspace)
	if err != nil {
		return nil, err
	}
	defer h.Stop(srv)
	r := &soakRun{Run: h, cfg: cfg, nodetool: make(chan measure.NodeSample, 1)}
	if r.cfg.Rate == 0 {
		if r.cfg.Rate, err = r.pickRate(srv.URL, mix); err != nil {
			return nil, err
		}
	}
	if r.probe, err = measure.NewProbe(srv.P.PID(), srv.URL); err != nil {
		return nil, err
	}
	if r.node, err = measure.NewNode(load.HostsList(cfg.Hosts), cfg.Nodetool); err != nil {
		return nil, err
	}
	defer r.node.Close()
	meta, err := report.WriteMeta(cfg.Out, r.cfg.meta())
	if err != nil {
		return nil, err
	}
	s := &Report{Header: report.Header{Dir: cfg.Out, Meta: meta}}
	idle, err := r.probe.Sample(ctx)
	if err != nil {
		return nil, err
	}
	s.IdleGoroutines = idle.Goroutines
	r.last = idle
	if r.lastNode, err = r.node.Sample(ctx, false); err != nil {
		return nil, err
	}
	r.Logf("idle: %.0f goroutines, RSS %.1f MiB; %s at %.0f req/s on %d connections, a sample every %s",
		idle.Goroutines, mib(idle.RSSBytes), cfg.Duration, r.cfg.Rate, cfg.Conns, cfg.Window)

	acks := load.NewReservoir[[]byte](cfg.Verify)
	cfgLoad := load.Config{URL: srv.URL, KeepAlive: true, Load: load.Load{
		Duration: cfg.Duration, Rate: r.cfg.Rate, Concurrency: cfg.Conns, Timeout: 5 * time.Second,
		Scenario: load.Mixed, Mix: mix, Warmup: cfg.Warmup, WatchPID: srv.P.PID(),
		Labels: map[string]string{"mode": harness.ModeAPI, "scenario": "soak"},
		Window: cfg.Window, OnWindow: func(w load.Window) { r.window(ctx, w) },
	}, Created: func(body []byte) { acks.Add(splitCreated(body)...) }}
	r.start = time.Now()
	res, err := load.Run(ctx, cfgLoad)
	if err != nil {
		return nil, err
	}
	s.Summary = res.Summary()
	s.Samples = r.samples
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("soak interrupted after %s: %w", time.Since(r.start).Round(time.Second), err)
	}
	r.Logf("load done; waiting up to %s for goroutines to fall back to %.0f", cfg.Idle, s.IdleGoroutines)
	s.AfterGoroutines = r.settle(ctx, s.IdleGoroutines)
	s.Acked = acks.Seen()
	r.Logf("reading back %d of %d acknowledged creates", len(acks.Kept()), s.Acked)
	s.Checked, s.Missing, s.Mismatched, s.VerifyErrors = verifyCreated(ctx, srv.URL, acks.Kept(), 16)
	s.verdicts(r.cfg)
	if err := s.Write(); err != nil {
		return nil, err
	}
	r.Logf("report: %s", s.Path())
	for _, v := range s.Verdicts {
		r.Logf("%s", v)
	}
	return s, nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// window turns one interval of the load into a sample, with the server's
// and the node's state at its end, and prints the progress line.
func (r *soakRun) window(ctx context.Context, w load.Window) {
	secs := w.End.Sub(w.Start).Seconds()
	smp := Sample{
		Index:   w.Index,
		Minutes: w.End.Sub(r.start).Minutes(),
		P50:     load.PercentileMs(w.Latency, 50), P99: load.PercentileMs(w.Latency, 99), P999: load.PercentileMs(w.Latency, 99.9),
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
	if cur, err := r.probe.Sample(ctx); err != nil {
		smp.ServerErr = err.Error()
	} else {
		smp.RSSMiB, smp.HeapInuseMiB, smp.HeapAllocMiB = mib(cur.RSSBytes), cur.HeapInuseBytes/(1<<20), cur.HeapAllocBytes/(1<<20)
		smp.Goroutines, smp.HTTPConns, smp.CQLConns = cur.Goroutines, cur.HTTPConns, cur.CQLConns
		smp.GCs = cur.GCCount - r.last.GCCount
		smp.GCPauseMs = 1000 * (cur.GCPauseSeconds - r.last.GCPauseSeconds)
		smp.GCMaxPauseMs = 1000 * measure.MaxPauseBetween(r.last, cur)
		r.last = cur
	}
	if n, err := r.node.Sample(ctx, false); err != nil {
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
	r.Logf("%s/%s (%.0f%%): %.0f req/s, p50 %.2f ms, p99 %.2f ms, RSS %.1f MiB, heap %.1f MiB, %.0f goroutines, %d HTTP / %d CQL conns, %d errors, compactions %d pending",
		elapsed.Round(time.Second), r.cfg.Duration, 100*elapsed.Seconds()/r.cfg.Duration.Seconds(), smp.RequestsPerSec,
		smp.P50, smp.P99, smp.RSSMiB, smp.HeapInuseMiB, smp.Goroutines, smp.HTTPConns, smp.CQLConns, errs, smp.CompactionsPending)
}

// nodetoolTick starts `nodetool compactionstats` in the background when
// it is due, and puts a finished one's figure into smp: a JVM start takes
// seconds and must not stretch a window.
func (r *soakRun) nodetoolTick(ctx context.Context, smp *Sample) {
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
		n, err := r.node.Sample(ctx, true)
		if err != nil {
			r.Logf("%v", err)
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
		if s, err := r.probe.Sample(ctx); err == nil && (lowest < 0 || s.Goroutines < lowest) {
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

func (cfg Config) meta() map[string]string {
	nt := "every " + cfg.NodetoolEvery.String()
	if cfg.NodetoolEvery < 0 {
		nt = "off"
	}
	return map[string]string{
		"load":         fmt.Sprintf("%s at %.0f req/s on %d connections, mix %s", cfg.Duration, cfg.Rate, cfg.Conns, cfg.Mix),
		"window":       cfg.Window.String(),
		"settle":       cfg.Settle.String() + " left out of the RSS drift and first-window p99",
		"server":       strings.Join(append([]string{"bin/userapi"}, cfg.UserAPIFlags...), " ") + " (keyspace " + cfg.Keyspace + ")",
		"samples":      "server: /metrics (go_goroutines, go_memstats_heap_*, go_gc_duration_seconds, go_gc_pauses_seconds) and /proc (VmRSS, sockets); Cassandra: system_views.thread_pools every window, nodetool compactionstats " + nt,
		"latency":      "from each request's intended send time (no coordinated omission)",
		"verification": fmt.Sprintf("up to %d acknowledged creates (uniform sample) read back by id and compared field by field", cfg.Verify),
	}
}
