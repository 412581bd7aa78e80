package suite

import (
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/userapi/userapi/bench/harness"
	"github.com/userapi/userapi/bench/load"
	"github.com/userapi/userapi/bench/measure"
	"github.com/userapi/userapi/bench/report"
	"github.com/userapi/userapi/internal/delayproxy"
)

// Config is one run of the benchmark suite (`make bench`, `loadgen
// suite`): every mode (harness.ModeAPI and the rest; noop is the client's
// calibration) against every scenario for a fixed time, modes alternating
// their order in each repeat. Each server runs on its own keyspace, each
// load is a loadgen process of its own, so no run inherits another's heap.
// Zero fields take the defaults of Defaults.
type Config struct {
	harness.Config // Port: the servers' (one at a time)

	Duration     time.Duration // each measured run; default 6s
	NoopDuration time.Duration // each calibration run; default 3s
	// WarmDuration is an uncounted first pass of every mode: the first
	// runs after a start meet a cold JVM, cold caches and a new keyspace
	// and were up to 5x slower than the rest. Default 3s; negative: none.
	WarmDuration time.Duration
	Conns        int      // connections, and concurrent queries for raw; default 64
	Repeats      int      // default 3; the report uses medians
	Warmup       int      // users created before each get and mixed run; default 1000
	Scenarios    []string // of get, create, mixed, get-c1; default all
	Modes        []string // of noop, api, raw, api-batch1, naive; default all
	Mix          string   // the mixed scenario's weights; default read=80,write=20

	// The no-op server's port and the API's pprof listener's in the
	// profiled run; harness.FreePort picks a free one.
	NoopPort, PprofPort int

	APIKeyspace, RawKeyspace, NaiveKeyspace string // default bench_api, bench_raw, bench_naive

	NoBatchFlags []string // flags that turn batching off; default -batch-max 1
	// Profile: after the measured runs, one more get run with the API's
	// pprof on; CPU and allocation profiles go to pprof/ and the report.
	Profile bool
	// Delay puts a network between Cassandra and every client of it (API,
	// naive, raw): a delay proxy (internal/delayproxy) on DelayHost:9042
	// forwards to the first of Hosts, holding each direction Delay/2, so
	// that a query's round trip grows by Delay. 0: none.
	Delay     time.Duration
	DelayHost string // default 127.0.0.62
	// KeepKeyspaces keeps the rows earlier suites left in the modes'
	// keyspaces; by default each suite drops them first, so that every
	// mode starts on empty tables and runs compare with earlier suites'.
	KeepKeyspaces bool
}

// Modes and Scenarios are what Config accepts, in order.
var (
	Modes     = []string{harness.ModeNoop, harness.ModeAPI, harness.ModeRaw, harness.ModeAPINoBatch, harness.ModeNaive}
	Scenarios = []string{string(load.Get), string(load.Create), string(load.Mixed), harness.ScenarioGetOne}
)

// Defaults returns c with every zero field set to its default.
func (c Config) Defaults() Config {
	c.Config = c.Config.Defaults("", 18480)
	load.Default(&c.Duration, 6*time.Second)
	load.Default(&c.NoopDuration, 3*time.Second)
	load.Default(&c.WarmDuration, 3*time.Second)
	load.Default(&c.Conns, 64)
	load.Default(&c.Repeats, 3)
	load.Default(&c.Warmup, 1000)
	load.Default(&c.NoopPort, 18481)
	load.Default(&c.PprofPort, 18482)
	load.Default(&c.Mix, load.DefaultMixText)
	load.Default(&c.APIKeyspace, "bench_api")
	load.Default(&c.RawKeyspace, "bench_raw")
	load.Default(&c.NaiveKeyspace, "bench_naive")
	load.Default(&c.DelayHost, "127.0.0.62")
	if c.Scenarios == nil {
		c.Scenarios = Scenarios
	}
	if c.Modes == nil {
		c.Modes = Modes
	}
	if c.NoBatchFlags == nil {
		c.NoBatchFlags = []string{"-batch-max", "1"}
	}
	return c
}

func (c Config) check() error {
	for _, n := range []struct {
		v    int
		name string
	}{{c.Conns, "Conns"}, {c.Repeats, "Repeats"}, {c.Warmup, "Warmup"}} {
		if n.v < 1 {
			return load.FieldError(n.name, "must be a positive integer, not %d", n.v)
		}
	}
	if c.Delay < 0 {
		return load.FieldError("Delay", "must not be negative")
	}
	if c.Duration < 0 || c.NoopDuration < 0 {
		return load.FieldError("Duration", "must be positive")
	}
	if err := harness.CheckNames("Scenarios", "scenario", c.Scenarios, Scenarios); err != nil {
		return err
	}
	if err := harness.CheckNames("Modes", "mode", c.Modes, Modes); err != nil {
		return err
	}
	if _, err := load.ParseMix(c.Mix); err != nil {
		return err
	}
	for _, ks := range []string{c.APIKeyspace, c.APIKeyspace + "_nobatch", c.RawKeyspace, c.NaiveKeyspace} {
		if !load.ValidKeyspace(ks) {
			return load.FieldError("Keyspace", "%q is not a keyspace name", ks)
		}
	}
	return nil
}

func (c Config) has(mode string) bool { return slices.Contains(c.Modes, mode) }

// keyspaces are the modes' in use: each mode writes a table of its own, so
// that no mode reads a table grown by another's creates.
func (c Config) keyspaces() map[string]string {
	ks := map[string]string{}
	for mode, name := range map[string]string{harness.ModeAPI: c.APIKeyspace, harness.ModeAPINoBatch: c.APIKeyspace + "_nobatch",
		harness.ModeRaw: c.RawKeyspace, harness.ModeNaive: c.NaiveKeyspace} {
		if c.has(mode) {
			ks[mode] = name
		}
	}
	return ks
}

// suiteRun is one Run in progress.
type suiteRun struct {
	*harness.Run
	cfg  Config
	dur  time.Duration
	pin  bool   // taskset can pin the calibration's client and server apart
	wrk  string // wrk's path; "" when it is not installed
	node string // the node and how it syncs its commit log, for meta.json
	// delay is the proxy between Cassandra and its clients (Config.Delay).
	delay *delayproxy.Proxy
}

// Run runs the suite that cfg describes and writes its directory: runs/,
// logs/, warmup/, pprof/, meta.json, and from Report.Write report.md,
// results.json and the plots. It returns the aggregated suite.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.Defaults()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	var delay *delayproxy.Proxy
	if cfg.Delay > 0 {
		target := load.HostsList(cfg.Hosts)[0]
		if _, _, err := net.SplitHostPort(target); err != nil {
			target = net.JoinHostPort(target, "9042")
		}
		var err error
		if delay, err = delayproxy.Start(net.JoinHostPort(cfg.DelayHost, "9042"), target, cfg.Delay/2); err != nil {
			return nil, fmt.Errorf("delay proxy: %w", err)
		}
		defer delay.Close()
		cfg.Hosts = cfg.DelayHost
	}
	api := cfg.has(harness.ModeAPI) || cfg.has(harness.ModeAPINoBatch)
	h, err := harness.Start(ctx, cfg.Config, "suite", harness.Needs{API: api, Loadgen: true, Cassandra: len(cfg.keyspaces()) > 0})
	if err != nil {
		return nil, err
	}
	r := &suiteRun{Run: h, cfg: cfg, dur: cfg.Duration, delay: delay}
	for _, d := range []string{"pprof", "warmup"} {
		if err := os.MkdirAll(filepath.Join(cfg.Out, d), 0o755); err != nil {
			return nil, err
		}
	}
	if cfg.has(harness.ModeNoop) {
		if r.wrk, err = exec.LookPath("wrk"); err != nil {
			r.Logf("%s: the calibration runs loadgen alone", WrkMissing)
		}
		_, err := exec.LookPath("taskset")
		r.pin = err == nil && runtime.NumCPU() >= 2
	}
	if len(cfg.keyspaces()) > 0 {
		hosts := load.HostsList(cfg.Hosts)
		sync, err := measure.CommitLogSync(ctx, hosts)
		if err != nil {
			return nil, err
		}
		r.node = strings.Join(hosts, ",") + ": commitlog_sync " + sync + " (" + syncNote(sync) + ")"
		r.Logf("node %s", r.node)
	}
	if ks := slices.Sorted(maps.Values(cfg.keyspaces())); !cfg.KeepKeyspaces && len(ks) > 0 {
		if err := r.DropKeyspaces(ks...); err != nil {
			return nil, err
		}
		r.Logf("dropped keyspaces %s: every mode starts on empty tables (-keep-keyspaces keeps them)", strings.Join(ks, ", "))
	}
	if _, err := report.WriteMeta(cfg.Out, r.meta()); err != nil {
		return nil, err
	}
	started := time.Now()
	if cfg.has(harness.ModeNoop) {
		if err := r.calibrate(); err != nil {
			return nil, err
		}
	}
	var order []string
	for _, m := range Modes {
		if m != harness.ModeNoop && cfg.has(m) {
			order = append(order, m)
		}
	}
	if cfg.WarmDuration > 0 {
		r.Runs, r.dur = filepath.Join(cfg.Out, "warmup"), cfg.WarmDuration
		for _, m := range order {
			if err := r.mode(m, 0); err != nil {
				return nil, err
			}
		}
		r.Runs, r.dur = filepath.Join(cfg.Out, "runs"), cfg.Duration
	}
	// Rotate the order each repeat so no mode always runs first (on a
	// cold cache) or last (after the table has grown the most).
	for rep := 1; rep <= cfg.Repeats; rep++ {
		for i := range order {
			if err := r.mode(order[(i+rep-1)%len(order)], rep); err != nil {
				return nil, err
			}
		}
	}
	r.Logf("runs took %s", time.Since(started).Round(time.Second))
	if delay != nil {
		// Timers fire late on a busy machine: the delay each chunk really
		// got is the setting plus this lateness, per direction.
		chunks, late := delay.Stats()
		meta := r.meta()
		meta["delay"] += fmt.Sprintf("; measured: %d chunks forwarded, each %s late on average (per direction)", chunks, late.Round(time.Microsecond))
		if _, err := report.WriteMeta(cfg.Out, meta); err != nil {
			return nil, err
		}
	}
	if cfg.Profile && cfg.has(harness.ModeAPI) && slices.Contains(cfg.Scenarios, string(load.Get)) {
		if err := r.profile(); err != nil {
			return nil, err
		}
	}
	s, err := Load(cfg.Out)
	if err != nil {
		return nil, err
	}
	if err := s.Write(); err != nil {
		return nil, err
	}
	r.Logf("report: %s", s.Path())
	for _, t := range s.Targets {
		r.Logf("%s", t)
	}
	return s, nil
}

// mode runs every scenario of one mode, with its server if it has one.
func (r *suiteRun) mode(mode string, rep int) error {
	var srv *harness.Server
	var err error
	label := fmt.Sprintf("%s-%d", mode, rep)
	switch mode {
	case harness.ModeNaive:
		srv, err = r.StartNaive(label, r.cfg.NaiveKeyspace)
	case harness.ModeAPI:
		srv, err = r.StartAPI(label, r.cfg.APIKeyspace)
	case harness.ModeAPINoBatch:
		srv, err = r.StartAPI(label, r.cfg.APIKeyspace+"_nobatch", r.cfg.NoBatchFlags...)
	}
	if err != nil {
		return err
	}
	if srv != nil {
		defer r.Stop(srv)
	}
	for _, sc := range r.cfg.Scenarios {
		l := r.scenario(sc)
		l.Name, l.Server, l.Raw, l.Keyspace = fmt.Sprintf("%s-%s-%d", mode, sc, rep), srv, srv == nil, r.cfg.RawKeyspace
		l.Labels = []string{"mode=" + mode, "scenario=" + sc, "repeat=" + strconv.Itoa(rep)}
		if _, err := r.RunLoad(l); err != nil {
			return err
		}
		if mode == harness.ModeAPI || mode == harness.ModeAPINoBatch {
			if err := r.noteTuners(srv, filepath.Join(r.Runs, l.Name+".json")); err != nil {
				return err
			}
		}
	}
	return nil
}

// scenario is the load of a suite scenario.
func (r *suiteRun) scenario(sc string) harness.Load {
	l := harness.Load{Scenario: load.ParseScenario(sc), Mix: r.cfg.Mix, Conns: r.cfg.Conns, Duration: r.dur, Warmup: r.cfg.Warmup}
	if sc == harness.ScenarioGetOne {
		l.Scenario, l.Conns = load.Get, 1
	}
	return l
}

// meta are the suite's settings for meta.json.
func (r *suiteRun) meta() map[string]string {
	cfg := r.cfg
	server := strings.Join(append([]string{cfg.UserAPI, "-listen 127.0.0.1:PORT"}, cfg.UserAPIFlags...), " ")
	tables := "every mode's keyspace dropped before the suite: each starts empty"
	if cfg.KeepKeyspaces {
		tables = "kept from earlier suites (-keep-keyspaces)"
	}
	meta := map[string]string{
		"duration":    cfg.Duration.String() + " per run",
		"connections": strconv.Itoa(cfg.Conns) + " (get-c1: 1)",
		"repeats":     strconv.Itoa(cfg.Repeats) + " (modes alternate their order each repeat)",
		"tables":      tables,
		"modes":       strings.Join(cfg.Modes, " "),
		"scenarios":   strings.Join(cfg.Scenarios, " ") + " (mixed: " + cfg.Mix + ")",
		"warm-up":     strconv.Itoa(cfg.Warmup) + " users created before each get and mixed run",
		"server":      fmt.Sprintf("%s (keyspace %s); batching off: %s (keyspace %s_nobatch)", server, cfg.APIKeyspace, strings.Join(cfg.NoBatchFlags, " "), cfg.APIKeyspace),
		"raw":         "loadgen raw, keyspace " + cfg.RawKeyspace + ", LOCAL_QUORUM, token-aware, 2 connections per host",
		"naive":       "loadgen naive (bench/naive), keyspace " + cfg.NaiveKeyspace + ": gocql per request, default driver settings",
		"client":      "loadgen on all cores beside the server and Cassandra (one machine)",
	}
	if r.node != "" {
		meta["node"] = r.node
	}
	if cfg.Delay > 0 {
		meta["delay"] = fmt.Sprintf("%s added to every round trip to Cassandra: internal/delayproxy on %s:9042, %s each way", cfg.Delay, cfg.DelayHost, cfg.Delay/2)
	}
	if cfg.WarmDuration > 0 {
		meta["warm pass"] = cfg.WarmDuration.String() + " of every mode first, not counted"
	}
	if cfg.has(harness.ModeNoop) {
		cal := fmt.Sprintf("loadgen -t 1 and wrk -t1, %s each", cfg.NoopDuration)
		if r.wrk == "" {
			cal = fmt.Sprintf("loadgen -t 1 alone (wrk not installed), %s each", cfg.NoopDuration)
			meta[metaWrk] = WrkMissing
		}
		if r.pin {
			cal += ", on core 1; no-op server on core 0"
		}
		meta["calibration"] = cal
	}
	return meta
}
