package harness

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gocql/gocql"

	"github.com/userapi/userapi/bench/load"
	"github.com/userapi/userapi/bench/measure"
	"github.com/userapi/userapi/bench/report"
	"github.com/userapi/userapi/internal/proc"
)

// Run is one run in progress: its config, its context and its log prefix.
type Run struct {
	Config
	Ctx    context.Context
	Runs   string // where loads write their JSON; default OUT/runs
	prefix string
}

// Start checks what the run needs, makes OUT/runs and OUT/logs, and
// returns the run; name prefixes its log lines ("sweep").
func Start(ctx context.Context, cfg Config, name string, needs Needs) (*Run, error) {
	r := &Run{Config: cfg, Ctx: ctx, Runs: filepath.Join(cfg.Out, "runs"), prefix: name + ": "}
	for _, d := range []string{"runs", "logs"} {
		if err := os.MkdirAll(filepath.Join(cfg.Out, d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := cfg.check(needs); err != nil {
		return nil, err
	}
	r.Logf("results in %s", cfg.Out)
	return r, nil
}

// Logf writes a progress line.
func (r *Run) Logf(format string, args ...any) {
	fmt.Fprintf(r.Log, r.prefix+format+"\n", args...)
}

// Addr returns 127.0.0.1 with port, refusing one that another process
// holds, or with a free port for FreePort (or 0); knob names the setting
// to change.
func Addr(port int, knob string) (string, error) {
	if port <= 0 {
		p, err := proc.FreePort()
		return fmt.Sprintf("127.0.0.1:%d", p), err
	}
	a := fmt.Sprintf("127.0.0.1:%d", port)
	if proc.Listening(a) {
		return "", fmt.Errorf("port %d is taken by another process; set %s", port, knob)
	}
	return a, nil
}

// env is this process's environment with the given settings on top.
func (r *Run) env(kv ...string) []string {
	return append(os.Environ(), append([]string{"CASSANDRA_HOSTS=" + r.Hosts}, kv...)...)
}

// Server is a running server under test.
type Server struct {
	P   *proc.Process
	URL string
}

// StartAPI starts bin/userapi on keyspace with extra flags and waits until
// /ready answers 200; label names its log, logs/server-LABEL.log.
func (r *Run) StartAPI(label, keyspace string, extra ...string) (*Server, error) {
	return r.start(label, func(listen, logf string) proc.Spec {
		return proc.Spec{Name: label + " server", Path: r.UserAPI, LogFile: logf,
			Args: slices.Concat([]string{"-listen", listen}, r.UserAPIFlags, extra),
			Env:  r.env("CASSANDRA_KEYSPACE=" + keyspace)}
	})
}

// StartNaive starts the naive baseline (loadgen naive) on keyspace.
func (r *Run) StartNaive(label, keyspace string) (*Server, error) {
	return r.start(label, func(listen, logf string) proc.Spec {
		return r.loadgenSpec(label+" server", nil, []string{"naive", "-listen", listen, "-keyspace", keyspace, "-hosts", r.Hosts}, logf)
	})
}

func (r *Run) start(label string, spec func(listen, logf string) proc.Spec) (*Server, error) {
	listen, err := Addr(r.Port, "-port")
	if err != nil {
		return nil, err
	}
	logf := filepath.Join(r.Out, "logs", "server-"+label+".log")
	s := spec(listen, logf)
	start := time.Now()
	p, err := proc.Start(s)
	if err != nil {
		return nil, err
	}
	url := "http://" + listen
	if err := p.WaitReady(r.Ctx, url+"/ready", 60*time.Second); err != nil {
		_ = p.Stop(20 * time.Second)
		return nil, fmt.Errorf("%w (log: %s)", err, logf)
	}
	r.Logf("%s up (pid %d, %s) after %s", label, p.PID(), strings.Join(s.Args, " "), time.Since(start).Round(10*time.Millisecond))
	return &Server{P: p, URL: url}, nil
}

// Stop stops s by its pid.
func (r *Run) Stop(s *Server) {
	if err := s.P.Stop(20 * time.Second); err != nil {
		r.Logf("%s: %v", s.P.Name, err)
	}
}

// loadgenSpec runs loadgen with args, under the prefix command (taskset)
// if one is given.
func (r *Run) loadgenSpec(name string, prefix, args []string, logFile string) proc.Spec {
	spec := proc.Spec{Name: name, Path: r.Loadgen, Args: args, Env: r.env(), LogFile: logFile}
	if len(prefix) > 0 {
		spec.Path, spec.Args = prefix[0], slices.Concat(prefix[1:], []string{r.Loadgen}, args)
	}
	return spec
}

// Load is one loadgen process: the one place a child loadgen command line
// is built. Zero fields are left to loadgen's own defaults.
type Load struct {
	Name      string // runs/NAME.json and logs/NAME.txt
	Raw       bool   // loadgen raw against Keyspace, no server
	Keyspace  string
	Scenario  load.Scenario // "" sends the plain request to URL
	Mix       string        // for the mixed scenario
	Conns     int
	Duration  time.Duration
	Threads   int     // -t: loadgen's OS threads
	Rate      float64 // constant rate, with a 5 s request timeout
	Warmup    int
	IDs       string // a file of ids to read
	ListLimit int
	Labels    []string // key=value
	Server    *Server  // the target, its pid watched
	URL       string   // the target without a Server
	Prefix    []string // a command to run loadgen under (taskset)
	Out       string   // the JSON summary; default RUNS/NAME.json
}

func (l Load) args(hosts string) []string {
	var a []string
	opt := func(set bool, args ...string) {
		if set {
			a = append(a, args...)
		}
	}
	opt(l.Raw, "raw", "-keyspace", l.Keyspace, "-hosts", hosts)
	opt(l.Scenario != load.Plain, "-scenario", string(l.Scenario))
	opt(l.Scenario == load.Mixed, "-mix", l.Mix)
	opt(l.Threads > 0, "-t", strconv.Itoa(l.Threads))
	a = append(a, "-c", strconv.Itoa(l.Conns), "-d", l.Duration.String())
	opt(l.Warmup > 0, "-warmup", strconv.Itoa(l.Warmup))
	opt(l.Rate > 0, "-R", strconv.FormatFloat(l.Rate, 'f', -1, 64), "-timeout", "5s")
	opt(l.IDs != "", "-ids", l.IDs)
	opt(l.ListLimit > 0, "-list-limit", strconv.Itoa(l.ListLimit))
	a = append(a, "-q", "-format", "wrk")
	for _, kv := range l.Labels {
		a = append(a, "-label", kv)
	}
	a = append(a, "-out", l.Out)
	switch {
	case l.Server != nil:
		a = append(a, "-pid", strconv.Itoa(l.Server.P.PID()), l.Server.URL)
	case l.URL != "":
		a = append(a, l.URL)
	}
	return a
}

// RunLoad runs one loadgen process to its end, its output in
// logs/NAME.txt, logs a line of what it measured and returns its summary.
func (r *Run) RunLoad(l Load) (load.Summary, error) {
	l.Out = cmp.Or(l.Out, filepath.Join(r.Runs, l.Name+".json"))
	var sum load.Summary
	p, err := proc.Start(r.loadgenSpec("loadgen "+l.Name, l.Prefix, l.args(r.Hosts), filepath.Join(r.Out, "logs", l.Name+".txt")))
	if err != nil {
		return sum, err
	}
	if err := p.Wait(r.Ctx); err != nil {
		return sum, fmt.Errorf("loadgen %s: %w\n%s", l.Name, err, p.Logs())
	}
	if err := report.ReadJSON(l.Out, &sum); err != nil {
		return sum, fmt.Errorf("loadgen %s wrote no summary: %w", l.Name, err)
	}
	line := fmt.Sprintf("%s: %.0f req/s, p50 %s ms, p99 %s ms", l.Name, sum.RequestsPerSec, report.Ms(sum.Latency.At(50)), report.Ms(sum.Latency.At(99)))
	if sum.Server != nil {
		line += fmt.Sprintf(", server %.1f µs/req", sum.Server.CPUPerRequestMicros)
	}
	if sum.Client != nil {
		line += fmt.Sprintf(", client %.1f µs/req", sum.Client.CPUPerRequestMicros)
	}
	if sum.Errors > 0 || sum.Non2xx > 0 {
		line += fmt.Sprintf(", %d errors, %d non-2xx", sum.Errors, sum.Non2xx)
	}
	r.Logf("%s", line)
	return sum, nil
}

// DropKeyspaces removes each of names, if it exists, so that its table
// starts empty.
func (r *Run) DropKeyspaces(names ...string) error {
	for _, ks := range names {
		if !load.ValidKeyspace(ks) {
			return load.FieldError("Keyspace", "%q is not a keyspace name", ks)
		}
	}
	s, err := measure.Connect(load.HostsList(r.Hosts), 60*time.Second)
	if err != nil {
		return err
	}
	defer s.Close()
	for _, ks := range names {
		if err := s.Query("DROP KEYSPACE IF EXISTS " + ks).WithContext(r.Ctx).Consistency(gocql.All).Exec(); err != nil {
			return fmt.Errorf("drop keyspace %s: %w", ks, err)
		}
	}
	return nil
}

// StartLoadgen starts a loadgen subcommand that serves (noop), under the
// prefix command if any, its output in logs/NAME.log.
func (r *Run) StartLoadgen(name string, prefix []string, args ...string) (*proc.Process, error) {
	return proc.Start(r.loadgenSpec(name, prefix, args, filepath.Join(r.Out, "logs", name+".log")))
}

// Exec runs argv to its end with its output in logFile, and returns that
// output.
func (r *Run) Exec(name string, argv []string, logFile string) (string, error) {
	p, err := proc.Start(proc.Spec{Name: name, Path: argv[0], Args: argv[1:], LogFile: logFile})
	if err != nil {
		return "", err
	}
	if err := p.Wait(r.Ctx); err != nil {
		return "", fmt.Errorf("%s: %w\n%s", name, err, p.Logs())
	}
	return p.Logs(), nil
}
