package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/userapi/userapi/internal/proc"
)

// SuiteConfig is one run of the benchmark suite (`make bench`, `loadgen
// suite`): every mode against every scenario for a fixed time, modes
// alternating their order in each repeat, plus a calibration of the client.
//
//	api         UserAPI as shipped (token-aware batching on)
//	raw         loadgen raw: the same reads and writes straight to Cassandra
//	api-batch1  UserAPI with batching off (NoBatchFlags)
//	naive       the naive baseline server (loadgen naive, bench/naive)
//	noop        loadgen -t 1 and wrk -t1 against a no-op server, client and
//	            server pinned to different cores where taskset allows
//
// Each server is started for its mode on its own keyspace, awaited on /ready
// and stopped by its pid; each load is a loadgen process of its own, so no
// run inherits another's heap. Zero fields take the defaults below.
type SuiteConfig struct {
	Out     string // results directory; default bench/results/<UTC timestamp>
	UserAPI string // the server binary; default bin/userapi
	Loadgen string // loadgen, which drives every load and serves the baselines; default this executable
	Hosts   string // Cassandra contact points for every mode; default 127.0.0.1

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

	// Ports on 127.0.0.1: the servers (one at a time), the no-op server and
	// the API's pprof listener in the profiled run. 0 picks a free one.
	Port, NoopPort, PprofPort int

	APIKeyspace, RawKeyspace, NaiveKeyspace string // default bench_api, bench_raw, bench_naive

	UserAPIFlags []string // extra flags for every server start
	NoBatchFlags []string // flags that turn batching off; default -batch-max 1
	// Profile: after the measured runs, one more get run with the API's
	// pprof on; CPU and allocation profiles go to pprof/ and the report.
	Profile bool
	// KeepKeyspaces keeps the rows earlier suites left in the modes'
	// keyspaces; by default each suite drops them first, so that every
	// mode starts on empty tables and runs compare with earlier suites'.
	KeepKeyspaces bool

	Log io.Writer // progress lines; default stderr
}

// SuiteModes and SuiteScenarios are what SuiteConfig accepts, in order.
var (
	SuiteModes     = []string{ModeNoop, ModeAPI, ModeRaw, ModeAPINoBatch, ModeNaive}
	SuiteScenarios = []string{ScenarioGet, ScenarioCreate, ScenarioMixed, ScenarioGetOne}
)

func (cfg SuiteConfig) withDefaults() (SuiteConfig, error) {
	if cfg.Out == "" {
		cfg.Out = filepath.Join("bench", "results", time.Now().UTC().Format("20060102T150405Z"))
	}
	if cfg.UserAPI == "" {
		cfg.UserAPI = filepath.Join("bin", "userapi")
	}
	if cfg.Loadgen == "" {
		exe, err := os.Executable()
		if err != nil {
			return cfg, fmt.Errorf("find loadgen: %w", err)
		}
		cfg.Loadgen = exe
	}
	if cfg.Hosts == "" {
		cfg.Hosts = "127.0.0.1"
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.Duration, 6*time.Second)
	def(&cfg.NoopDuration, 3*time.Second)
	def(&cfg.WarmDuration, 3*time.Second)
	for _, n := range []struct {
		p    *int
		def  int
		name string
	}{{&cfg.Conns, 64, "Conns"}, {&cfg.Repeats, 3, "Repeats"}, {&cfg.Warmup, 1000, "Warmup"}} {
		if *n.p == 0 {
			*n.p = n.def
		}
		if *n.p < 0 {
			return cfg, fieldErr(n.name, "must be positive, not %d", *n.p)
		}
	}
	if cfg.Duration < 0 || cfg.NoopDuration < 0 {
		return cfg, fieldErr("Duration", "must be positive")
	}
	if len(cfg.Scenarios) == 0 {
		cfg.Scenarios = SuiteScenarios
	}
	if len(cfg.Modes) == 0 {
		cfg.Modes = SuiteModes
	}
	for _, sc := range cfg.Scenarios {
		if !slices.Contains(SuiteScenarios, sc) {
			return cfg, fieldErr("Scenarios", "unknown scenario %q (want %s)", sc, strings.Join(SuiteScenarios, ", "))
		}
	}
	for _, m := range cfg.Modes {
		if !slices.Contains(SuiteModes, m) {
			return cfg, fieldErr("Modes", "unknown mode %q (want %s)", m, strings.Join(SuiteModes, ", "))
		}
	}
	if cfg.Mix == "" {
		cfg.Mix = DefaultMix().String()
	}
	if _, err := ParseMix(cfg.Mix); err != nil {
		return cfg, err
	}
	if cfg.APIKeyspace == "" {
		cfg.APIKeyspace = "bench_api"
	}
	if cfg.RawKeyspace == "" {
		cfg.RawKeyspace = "bench_raw"
	}
	if cfg.NaiveKeyspace == "" {
		cfg.NaiveKeyspace = "bench_naive"
	}
	for _, ks := range []string{cfg.APIKeyspace, cfg.APIKeyspace + "_nobatch", cfg.RawKeyspace, cfg.NaiveKeyspace} {
		if !keyspaceName.MatchString(ks) {
			return cfg, fieldErr("Keyspace", "%q is not a keyspace name", ks)
		}
	}
	if cfg.NoBatchFlags == nil {
		cfg.NoBatchFlags = []string{"-batch-max", "1"}
	}
	if cfg.Log == nil {
		cfg.Log = os.Stderr
	}
	return cfg, nil
}

func (cfg SuiteConfig) has(mode string) bool { return slices.Contains(cfg.Modes, mode) }

// suiteRun is one RunSuite in progress.
type suiteRun struct {
	cfg  SuiteConfig
	ctx  context.Context
	runs string // where the counted runs go; the warm pass uses warmup/
	dur  time.Duration
	pin  bool // taskset can pin the calibration's client and server apart
	wrk  string
}

func (r *suiteRun) logf(format string, args ...any) {
	fmt.Fprintf(r.cfg.Log, "suite: "+format+"\n", args...)
}

// RunSuite runs the suite that cfg describes and writes its directory:
// runs/, logs/, warmup/, pprof/, meta.json, and from WriteSuite report.md,
// results.json and the plots. It returns the aggregated suite.
func RunSuite(ctx context.Context, cfg SuiteConfig) (*Suite, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	r := &suiteRun{cfg: cfg, ctx: ctx, runs: filepath.Join(cfg.Out, "runs"), dur: cfg.Duration}
	for _, d := range []string{"runs", "logs", "pprof", "warmup"} {
		if err := os.MkdirAll(filepath.Join(cfg.Out, d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	r.logf("results in %s", cfg.Out)
	if !cfg.KeepKeyspaces {
		if err := r.dropKeyspaces(); err != nil {
			return nil, err
		}
	}
	if err := r.writeMeta(); err != nil {
		return nil, err
	}
	started := time.Now()
	if cfg.has(ModeNoop) {
		if err := r.calibrate(); err != nil {
			return nil, err
		}
	}
	var order []string
	for _, m := range []string{ModeAPI, ModeRaw, ModeAPINoBatch, ModeNaive} {
		if cfg.has(m) {
			order = append(order, m)
		}
	}
	if cfg.WarmDuration > 0 {
		r.runs, r.dur = filepath.Join(cfg.Out, "warmup"), cfg.WarmDuration
		for _, m := range order {
			if err := r.mode(m, 0); err != nil {
				return nil, err
			}
		}
		r.runs, r.dur = filepath.Join(cfg.Out, "runs"), cfg.Duration
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
	r.logf("runs took %s", time.Since(started).Round(time.Second))
	if cfg.Profile && cfg.has(ModeAPI) && slices.Contains(cfg.Scenarios, ScenarioGet) {
		if err := r.profile(); err != nil {
			return nil, err
		}
	}
	s, err := LoadSuite(cfg.Out)
	if err != nil {
		return nil, err
	}
	if err := s.WriteSuite(); err != nil {
		return nil, err
	}
	r.logf("report: %s", filepath.Join(cfg.Out, "report.md"))
	for _, v := range s.Verdicts() {
		r.logf("%s", v)
	}
	return s, nil
}

// check says up front what is missing, and how to get it.
func (r *suiteRun) check() error {
	cfg := r.cfg
	if _, err := os.Stat(cfg.Loadgen); err != nil {
		return fmt.Errorf("loadgen binary: %w (go build -o bin/loadgen ./cmd/loadgen)", err)
	}
	if cfg.has(ModeAPI) || cfg.has(ModeAPINoBatch) {
		if _, err := os.Stat(cfg.UserAPI); err != nil {
			return fmt.Errorf("server binary: %w (make build, or drop api and api-batch1 from the modes)", err)
		}
	}
	if cfg.has(ModeAPI) || cfg.has(ModeAPINoBatch) || cfg.has(ModeRaw) || cfg.has(ModeNaive) {
		hosts := HostsList(cfg.Hosts)
		if len(hosts) == 0 {
			return fieldErr("Hosts", "no Cassandra contact point")
		}
		addr := hosts[0]
		if _, _, err := net.SplitHostPort(addr); err != nil {
			addr = net.JoinHostPort(addr, "9042")
		}
		if !proc.Listening(addr) {
			return fmt.Errorf("cassandra does not answer at %s: start it with make cassandra-up (scripts/cassandra.sh start), or set CASSANDRA_HOSTS", addr)
		}
	}
	if cfg.has(ModeNoop) {
		if p, err := exec.LookPath("wrk"); err == nil {
			r.wrk = p
		} else {
			r.logf("wrk is not installed (apt-get install wrk): the calibration runs loadgen alone")
		}
		_, err := exec.LookPath("taskset")
		r.pin = err == nil && runtime.NumCPU() >= 2
	}
	return nil
}

// addr returns 127.0.0.1 with the fixed port, refusing one that another
// process holds, or with a free port for 0.
func (r *suiteRun) addr(port int, knob string) (string, error) {
	if port == 0 {
		p, err := proc.FreePort()
		return fmt.Sprintf("127.0.0.1:%d", p), err
	}
	a := fmt.Sprintf("127.0.0.1:%d", port)
	if proc.Listening(a) {
		return "", fmt.Errorf("port %d is taken by another process; set %s", port, knob)
	}
	return a, nil
}

// loadgenSpec runs loadgen with args, under the prefix command (taskset)
// if one is given.
func (r *suiteRun) loadgenSpec(name string, prefix, args []string, logFile string) proc.Spec {
	spec := proc.Spec{Name: name, Path: r.cfg.Loadgen, Args: args, Env: r.env(), LogFile: logFile}
	if len(prefix) > 0 {
		spec.Path, spec.Args = prefix[0], slices.Concat(prefix[1:], []string{r.cfg.Loadgen}, args)
	}
	return spec
}

// env is this process's environment with the given settings on top.
func (r *suiteRun) env(kv ...string) []string {
	return append(os.Environ(), append([]string{"CASSANDRA_HOSTS=" + r.cfg.Hosts}, kv...)...)
}

// server is a running server mode.
type server struct {
	p   *proc.Process
	url string
}

// startServer starts the server of mode (api, api-batch1 or naive) and
// waits until /ready answers 200.
func (r *suiteRun) startServer(mode, label string, extra ...string) (*server, error) {
	listen, err := r.addr(r.cfg.Port, "BENCH_PORT")
	if err != nil {
		return nil, err
	}
	logf := filepath.Join(r.cfg.Out, "logs", "server-"+label+".log")
	var spec proc.Spec
	switch mode {
	case ModeNaive:
		spec = r.loadgenSpec(mode+" server", nil,
			[]string{"naive", "-listen", listen, "-keyspace", r.cfg.NaiveKeyspace, "-hosts", r.cfg.Hosts}, logf)
	default:
		// Each mode writes a table of its own, so that no mode reads a
		// table grown by another's creates.
		ks := r.cfg.APIKeyspace
		if mode == ModeAPINoBatch {
			ks += "_nobatch"
		}
		spec = proc.Spec{Name: mode + " server", Path: r.cfg.UserAPI, LogFile: logf,
			Args: slices.Concat([]string{"-listen", listen}, r.cfg.UserAPIFlags, extra),
			Env:  r.env("CASSANDRA_KEYSPACE=" + ks)}
		if mode == ModeAPINoBatch {
			spec.Args = append(spec.Args, r.cfg.NoBatchFlags...)
		}
	}
	start := time.Now()
	p, err := proc.Start(spec)
	if err != nil {
		return nil, err
	}
	url := "http://" + listen
	if err := p.WaitReady(r.ctx, url+"/ready", 60*time.Second); err != nil {
		_ = p.Stop(20 * time.Second)
		return nil, fmt.Errorf("%w (log: %s)", err, logf)
	}
	r.logf("%s up (pid %d, %s) after %s", label, p.PID(), strings.Join(spec.Args, " "), time.Since(start).Round(10*time.Millisecond))
	return &server{p: p, url: url}, nil
}

func (r *suiteRun) stop(s *server) {
	if err := s.p.Stop(20 * time.Second); err != nil {
		r.logf("%s: %v", s.p.Name, err)
	}
}

// mode runs every scenario of one mode, with its server if it has one.
func (r *suiteRun) mode(mode string, rep int) error {
	label := fmt.Sprintf("%s-%d", mode, rep)
	if mode == ModeRaw {
		for _, sc := range r.cfg.Scenarios {
			if err := r.load(mode, sc, rep, nil); err != nil {
				return err
			}
		}
		return nil
	}
	srv, err := r.startServer(mode, label)
	if err != nil {
		return err
	}
	defer r.stop(srv)
	for _, sc := range r.cfg.Scenarios {
		if err := r.load(mode, sc, rep, srv); err != nil {
			return err
		}
	}
	return nil
}

// scenarioArgs are loadgen's flags for a suite scenario.
func (r *suiteRun) scenarioArgs(sc string) []string {
	conns := strconv.Itoa(r.cfg.Conns)
	switch sc {
	case ScenarioMixed:
		return []string{"-scenario", "mix", "-mix", r.cfg.Mix, "-c", conns}
	case ScenarioGetOne:
		return []string{"-scenario", "get", "-c", "1"}
	}
	return []string{"-scenario", sc, "-c", conns}
}

// load runs one measured load as a loadgen process: against srv, or raw
// when srv is nil.
func (r *suiteRun) load(mode, sc string, rep int, srv *server) error {
	name := fmt.Sprintf("%s-%s-%d", mode, sc, rep)
	var args []string
	if srv == nil {
		args = []string{"raw", "-keyspace", r.cfg.RawKeyspace, "-hosts", r.cfg.Hosts}
	}
	args = append(args, r.scenarioArgs(sc)...)
	args = append(args, "-d", r.dur.String(), "-warmup", strconv.Itoa(r.cfg.Warmup), "-q", "-format", "wrk",
		"-label", "mode="+mode, "-label", "scenario="+sc, "-label", "repeat="+strconv.Itoa(rep))
	out := filepath.Join(r.runs, name+".json")
	args = append(args, "-out", out)
	if srv != nil {
		args = append(args, "-pid", strconv.Itoa(srv.p.PID()), srv.url)
	}
	return r.runLoadgen(name, nil, args, out)
}

// runLoadgen runs loadgen (under the prefix command, if any) to the end,
// its output in logs/NAME.txt, and logs the summary it wrote to out.
func (r *suiteRun) runLoadgen(name string, prefix, args []string, out string) error {
	p, err := proc.Start(r.loadgenSpec("loadgen "+name, prefix, args, filepath.Join(r.cfg.Out, "logs", name+".txt")))
	if err != nil {
		return err
	}
	if err := p.Wait(r.ctx); err != nil {
		return fmt.Errorf("loadgen %s: %w\n%s", name, err, p.Logs())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return fmt.Errorf("loadgen %s wrote no summary: %w", name, err)
	}
	var sum Summary
	if err := json.Unmarshal(b, &sum); err != nil {
		return fmt.Errorf("%s: %w", out, err)
	}
	line := fmt.Sprintf("%s: %.0f req/s, p50 %s ms, p99 %s ms", name, sum.RequestsPerSec, ms(sum.Latency.At(50)), ms(sum.Latency.At(99)))
	if sum.Server != nil {
		line += fmt.Sprintf(", server %.1f µs/req", sum.Server.CPUPerRequestMicros)
	}
	if sum.Client != nil {
		line += fmt.Sprintf(", client %.1f µs/req", sum.Client.CPUPerRequestMicros)
	}
	if sum.Errors > 0 || sum.Non2xx > 0 {
		line += fmt.Sprintf(", %d errors, %d non-2xx", sum.Errors, sum.Non2xx)
	}
	r.logf("%s", line)
	return nil
}

// calibrate measures the client: loadgen -t 1 and wrk -t1 in turn against
// a no-op server, client and server on different cores, so that the client
// is what limits.
func (r *suiteRun) calibrate() error {
	addr, err := r.addr(r.cfg.NoopPort, "BENCH_NOOP_PORT")
	if err != nil {
		return err
	}
	var serverPin, clientPin []string
	if r.pin {
		serverPin, clientPin = []string{"taskset", "-c", "0"}, []string{"taskset", "-c", "1"}
	}
	p, err := proc.Start(r.loadgenSpec("noop server", serverPin, []string{"noop", "-listen", addr, "-d", "600s"},
		filepath.Join(r.cfg.Out, "logs", "noop-server.log")))
	if err != nil {
		return err
	}
	defer func() { _ = p.Stop(10 * time.Second) }()
	if err := p.WaitListening(r.ctx, addr, 10*time.Second); err != nil {
		return err
	}
	url := "http://" + addr + "/"
	secs := fmt.Sprintf("%ds", max(1, int(r.cfg.NoopDuration.Round(time.Second).Seconds())))
	for rep := 1; rep <= r.cfg.Repeats; rep++ {
		if r.wrk != "" {
			if err := r.runWrk(clientPin, rep, url, secs); err != nil {
				return err
			}
		}
		name := fmt.Sprintf("loadgen-noop-%d", rep)
		out := filepath.Join(r.cfg.Out, "runs", fmt.Sprintf("%s-noop-%d.json", ModeLoadgenNoop, rep))
		err := r.runLoadgen(name, clientPin, []string{"-t", "1", "-c", strconv.Itoa(r.cfg.Conns), "-d", secs, "-q", "-format", "wrk",
			"-label", "mode=" + ModeLoadgenNoop, "-label", "scenario=noop", "-label", "repeat=" + strconv.Itoa(rep),
			"-out", out, url}, out)
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *suiteRun) runWrk(pin []string, rep int, url, secs string) error {
	out := filepath.Join(r.cfg.Out, "runs", fmt.Sprintf("%s__noop__%d.wrk.txt", ModeWrkNoop, rep))
	args := slices.Concat(pin, []string{r.wrk, "-t1", "-c", strconv.Itoa(r.cfg.Conns), "-d", secs, "--latency", url})
	p, err := proc.Start(proc.Spec{Name: "wrk", Path: args[0], Args: args[1:], LogFile: out})
	if err != nil {
		return err
	}
	if err := p.Wait(r.ctx); err != nil {
		return fmt.Errorf("wrk: %w\n%s", err, p.Logs())
	}
	sum, err := ParseWrk(p.Logs())
	if err != nil {
		return fmt.Errorf("wrk output: %w", err)
	}
	r.logf("wrk-noop-%d: %.0f req/s, p99 %s ms", rep, sum.RequestsPerSec, ms(sum.Latency.At(99)))
	return nil
}

// profile runs one more get, not counted, while the API's CPU and
// allocation profiles are taken: profiling costs a few percent, so the
// measured runs go without it.
func (r *suiteRun) profile() error {
	paddr, err := r.addr(r.cfg.PprofPort, "BENCH_PPROF_PORT")
	if err != nil {
		return err
	}
	srv, err := r.startServer(ModeAPI, "api-profile", "-pprof-listen", paddr)
	if err != nil {
		return err
	}
	defer r.stop(srv)
	dir := filepath.Join(r.cfg.Out, "pprof")
	secs := max(1, int(r.cfg.Duration.Seconds())-1)
	kinds := []string{"cpu", "allocs"}
	paths := map[string]string{"cpu": "profile", "allocs": "allocs"}
	errs := make(chan error, len(kinds))
	for _, k := range kinds {
		go func() {
			errs <- fetch(r.ctx, fmt.Sprintf("http://%s/debug/pprof/%s?seconds=%d", paddr, paths[k], secs),
				filepath.Join(dir, "api-get."+k+".pprof"), time.Duration(secs+30)*time.Second)
		}()
	}
	out := filepath.Join(dir, "api-get-profiled.json")
	args := append(r.scenarioArgs(ScenarioGet), "-d", r.cfg.Duration.String(), "-warmup", strconv.Itoa(r.cfg.Warmup),
		"-q", "-format", "wrk", "-out", out, srv.url)
	runErr := r.runLoadgen("api-get-profiled", nil, args, out)
	for range kinds {
		if err := <-errs; err != nil {
			r.logf("profile: %v", err)
		}
	}
	if runErr != nil {
		return runErr
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		r.logf("go is not on PATH: profiles left unsummarised in %s", dir)
		return nil
	}
	for _, k := range kinds {
		raw := filepath.Join(dir, "api-get."+k+".pprof")
		if st, err := os.Stat(raw); err != nil || st.Size() == 0 {
			continue
		}
		args := []string{"tool", "pprof", "-top", "-nodecount=30"}
		if k == "allocs" {
			args = append(args, "-sample_index=alloc_space") // bytes allocated during the run, not live
		}
		top, err := exec.CommandContext(r.ctx, goTool, append(args, r.cfg.UserAPI, raw)...).Output()
		if err != nil {
			r.logf("go tool pprof could not read the %s profile: %v", k, err)
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, "api-get-"+k+".txt"), top, 0o644); err != nil {
			return err
		}
	}
	r.logf("profiles of a get-by-id run in %s", dir)
	return nil
}

// fetch saves url's body to path.
func fetch(ctx context.Context, url, path string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, resp.Body)
	return errors.Join(err, f.Close())
}

// writeMeta records the settings and the machine in meta.json.
func (r *suiteRun) writeMeta() error {
	cfg := r.cfg
	server := strings.Join(append([]string{cfg.UserAPI, "-listen 127.0.0.1:PORT"}, cfg.UserAPIFlags...), " ")
	meta := map[string]string{
		"started":     time.Now().UTC().Format(time.RFC3339),
		"git":         gitVersion(),
		"machine":     machine(),
		"kernel":      strings.TrimSpace(readFile("/proc/sys/kernel/osrelease")),
		"go":          runtime.Version(),
		"duration":    cfg.Duration.String() + " per run",
		"connections": strconv.Itoa(cfg.Conns) + " (get-c1: 1)",
		"repeats":     strconv.Itoa(cfg.Repeats) + " (modes alternate their order each repeat)",
		"tables":      tablesNote(cfg.KeepKeyspaces),
		"modes":       strings.Join(cfg.Modes, " "),
		"scenarios":   strings.Join(cfg.Scenarios, " ") + " (mixed: " + cfg.Mix + ")",
		"warm-up":     strconv.Itoa(cfg.Warmup) + " users created before each get and mixed run",
		"server":      fmt.Sprintf("%s (keyspace %s); batching off: %s (keyspace %s_nobatch)", server, cfg.APIKeyspace, strings.Join(cfg.NoBatchFlags, " "), cfg.APIKeyspace),
		"raw":         "loadgen raw, keyspace " + cfg.RawKeyspace + ", LOCAL_QUORUM, token-aware, 2 connections per host",
		"naive":       "loadgen naive (bench/naive), keyspace " + cfg.NaiveKeyspace + ": gocql per request, default driver settings",
		"client":      "loadgen on all cores beside the server and Cassandra (one machine)",
	}
	if cfg.WarmDuration > 0 {
		meta["warm pass"] = cfg.WarmDuration.String() + " of every mode first, not counted"
	}
	if cfg.has(ModeNoop) {
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
	b, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(cfg.Out, "meta.json"), append(b, '\n'), 0o644)
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func gitVersion() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	v := strings.TrimSpace(string(out))
	if exec.Command("git", "diff", "--quiet").Run() != nil {
		v += "+dirty"
	}
	return v
}

// machine is "N cores, M GiB, CPU model" from /proc.
func machine() string {
	model := "unknown"
	for _, line := range strings.Split(readFile("/proc/cpuinfo"), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			model = strings.TrimSpace(v)
			break
		}
	}
	mem := "unknown"
	for _, line := range strings.Split(readFile("/proc/meminfo"), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
				mem = fmt.Sprintf("%.1f GiB", kb/(1<<20))
			}
		}
	}
	return fmt.Sprintf("%d cores, %s, %s", runtime.NumCPU(), mem, model)
}

// dropKeyspaces drops the keyspaces of the modes in use (the servers and
// raw mode create them again), so that no mode starts on a table that
// earlier suites grew, and that background compaction of their rows does
// not take CPU from this one's runs.
func (r *suiteRun) dropKeyspaces() error {
	var names []string
	for _, m := range []struct{ mode, ks string }{
		{ModeAPI, r.cfg.APIKeyspace}, {ModeAPINoBatch, r.cfg.APIKeyspace + "_nobatch"},
		{ModeRaw, r.cfg.RawKeyspace}, {ModeNaive, r.cfg.NaiveKeyspace},
	} {
		if r.cfg.has(m.mode) {
			names = append(names, m.ks)
		}
	}
	if len(names) == 0 {
		return nil
	}
	if err := dropKeyspaces(r.ctx, HostsList(r.cfg.Hosts), names...); err != nil {
		return err
	}
	r.logf("dropped keyspaces %s: every mode starts on empty tables (-keep-keyspaces keeps them)", strings.Join(names, ", "))
	return nil
}

func tablesNote(kept bool) string {
	if kept {
		return "kept from earlier suites (-keep-keyspaces)"
	}
	return "every mode's keyspace dropped before the suite: each starts empty"
}
