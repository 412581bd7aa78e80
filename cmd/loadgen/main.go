// Command loadgen replays ab- and wrk-style loads and the user API's
// scenarios against an HTTP server, the same reads and writes straight
// against Cassandra (loadgen raw), serves the no-op and naive baselines
// (loadgen noop, loadgen naive), runs the whole make bench suite (loadgen
// suite), the capacity sweep (loadgen sweep), the soak (loadgen soak) and
// the large-table run (loadgen large), and turns a directory of runs into a
// report (loadgen report). The work is in the packages under bench/.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/userapi/userapi/bench/load"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// subcommands are loadgen's verbs; without one, loadgen runs an HTTP load.
var subcommands = map[string]func(context.Context, []string, io.Writer, io.Writer) error{
	"raw": runRaw, "report": runReport, "noop": runNoop, "naive": runNaive,
	"suite": runSuite, "sweep": runSweep, "soak": runSoak, "large": runLarge,
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var err error
	if len(args) > 0 && subcommands[args[0]] != nil {
		err = subcommands[args[0]](ctx, args[1:], stdout, stderr)
	} else {
		err = runHTTP(ctx, args, stdout, stderr)
	}
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "loadgen: %v\nRun loadgen -help for usage.\n", err)
		return 2
	case errors.Is(err, errFlagParse):
		return 2 // flag has printed the message and usage
	default:
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 1
	}
}

const httpUsage = `Usage: loadgen [flags] [URL]
       loadgen raw [flags]         the same load straight to Cassandra (loadgen raw -help)
       loadgen report [flags] DIR  medians, ratios and plots of a suite (loadgen report -help)
       loadgen noop [flags]        a no-op HTTP server to calibrate against (loadgen noop -help)
       loadgen naive [flags]       the naive baseline server: gocql per request (loadgen naive -help)
       loadgen suite [flags]       the make bench suite: every mode, alternating (loadgen suite -help)
       loadgen sweep [flags]       capacity sweep, API and raw: concurrency, rates, the knee (loadgen sweep -help)
       loadgen soak [flags]        a long constant-rate mixed load with verdicts (loadgen soak -help)
       loadgen large [flags]       preload N users, then get and list on that table and a small one (loadgen large -help)

HTTP load against URL, in one of three shapes:
  ab-style   loadgen -n 10000 -c 64 -k http://127.0.0.1:8000/users/ID
  wrk-style  loadgen -d 30s -c 64 -t 1 http://127.0.0.1:8000/users/ID
  fixed rate loadgen -R 20000 -d 30s -c 128 http://127.0.0.1:8000/...
             (latency counts from each request's intended send time)
or a scenario of the user API, whose base URL is given:
             loadgen -scenario get -c 64 -d 30s http://127.0.0.1:8000
             loadgen -scenario mixed -mix read=80,write=20 -d 30s http://127.0.0.1:8000

-t means wrk's threads when -d is given, otherwise ab's time limit in
seconds; a value with a unit (30s) is always a time limit. -threads and
-timelimit say it without the guess. Flags may come before or after URL.

Only loopback targets (127.0.0.0/8, ::1) are allowed unless -allow-remote.
Exit status: 0 when the run happened (failed requests are in the report),
1 when it could not run, 2 for a bad command line.

Flags:
`

func runHTTP(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("loadgen", httpUsage, stderr)
	var (
		cfg               load.Config
		run               runFlags
		headers           headerList
		tFlag             string
		bodyFile, putFile string
		threadsArg        int
		idsFile           string
	)
	fs.StringVar(&cfg.URL, "url", "", "target `URL`; or give it as the argument. For -scenario, the API's base URL (http://127.0.0.1:8000)")
	run.register(fs, &cfg.Load, false)
	fs.BoolVar(&cfg.KeepAlive, "k", false, "keep connections alive (ab's -k). On by default in a wrk-style run (-d), as wrk always does; -k=false turns it off")
	fs.StringVar(&bodyFile, "p", "", "`file` whose content is the request body; implies POST unless -m says otherwise (ab's -p)")
	fs.StringVar(&putFile, "u", "", "`file` whose content is the body of a PUT (ab's -u)")
	fs.StringVar(&cfg.ContentType, "T", "", "Content-Type of the -p body (ab's -T); default application/json")
	fs.Var(&headers, "H", "extra request `header` \"Name: value\"; repeatable (ab's and wrk's -H)")
	fs.StringVar(&cfg.Method, "m", "", "HTTP `method` (ab's -m); default GET, or POST with -p")
	fs.StringVar(&tFlag, "t", "", "`N`: wrk's threads when -d is given, else ab's time limit in seconds; a value with a unit (30s) is a time limit")
	fs.IntVar(&threadsArg, "threads", 0, "`N` OS threads (GOMAXPROCS) for the run, as wrk's -t; default all cores")
	fs.IntVar(&cfg.BatchSize, "batch-size", 10, "`users` per POST /users/batch in the batch scenario (1-1000)")
	fs.IntVar(&cfg.ListLimit, "list-limit", 20, "`rows` per page in the list scenario (limit=, 1-1000)")
	fs.StringVar(&idsFile, "ids", "", "`file` of user ids, one a line (loadgen large writes them): get and update read these instead of users created in a warm-up")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 1:
		return usageError{fmt.Sprintf("one URL expected, got %q", pos)}
	case len(pos) == 1 && cfg.URL != "":
		return badFlag("url", "given twice: -url %s and argument %s", cfg.URL, pos[0])
	case len(pos) == 1:
		cfg.URL = pos[0]
	case cfg.URL == "":
		return badFlag("url", "a target URL is required (as -url or the argument)")
	}
	wrkStyle := isSet(fs, "d")
	if tFlag != "" {
		if n, err := strconv.Atoi(tFlag); err == nil && wrkStyle {
			if n < 1 {
				return badFlag("t", "threads must be at least 1, not %d", n)
			}
			threadsArg = n
		} else if cfg.TimeLimit, err = parseSeconds(tFlag); err != nil {
			return badFlag("t", "%v", err)
		}
	}
	if threadsArg < 0 {
		return badFlag("threads", "must not be negative")
	}
	cfg.Threads = threadsArg
	if cfg.TimeLimit > 0 && !isSet(fs, "n") {
		cfg.Requests = 50000 // ab: "-t ... implies a -n 50000 internally"
	}
	if cfg.Requests == 0 && cfg.Duration == 0 && cfg.TimeLimit == 0 {
		cfg.Requests = 1
	}
	if wrkStyle && !isSet(fs, "k") {
		cfg.KeepAlive = true
	}
	if run.format == "" {
		run.format = string(load.FormatAB)
		if wrkStyle {
			run.format = string(load.FormatWrk)
		}
	}
	bodyFlag := "p"
	if putFile != "" {
		if bodyFile != "" {
			return badFlag("u", "give -p or -u, not both")
		}
		bodyFlag, bodyFile = "u", putFile
		load.Default(&cfg.Method, "PUT")
	}
	if bodyFile != "" {
		if cfg.Body, err = os.ReadFile(bodyFile); err != nil {
			return badFlag(bodyFlag, "%v", err)
		}
	}
	cfg.Headers = headers
	if idsFile != "" {
		if cfg.ReadIDs, err = load.ReadIDs(idsFile); err != nil {
			return badFlag("ids", "%v", err)
		}
	}
	return run.run(fs, &cfg.Load, stdout, stderr, func() (*load.Result, error) { return load.Run(ctx, cfg) })
}

// runFlags are the flags loadgen and loadgen raw share, registered once.
type runFlags struct {
	labels                                 labelMap
	scenario, mix, format, out, cpuProfile string
	quiet                                  bool
}

func (f *runFlags) register(fs *flag.FlagSet, l *load.Load, raw bool) {
	what, in, scen, format := "requests", "connections", "", ""
	warmup, warmupHelp := 0, "`count`: with -scenario, users created before measuring (default 1000); otherwise unmeasured requests sent first (default 0)"
	if raw {
		what, in, scen, format = "queries", "callers", "get", "ab"
		warmup, warmupHelp = 1000, "`rows` inserted before measuring, whose ids get reads"
	}
	f.labels = labelMap{}
	fs.IntVar(&l.Concurrency, "c", 1, "`"+in+"`: "+what+" in flight at once (ab's -c, wrk's -c)")
	fs.Int64Var(&l.Requests, "n", 0, "number of `"+what+"` to send (ab's -n); with -d, whichever ends first. Default: 1 when neither -n, -d nor -t is given, as ab (raw: -d 10s)")
	fs.Var(seconds{&l.Duration}, "d", "run for this `duration` (wrk's -d): 30, 30s, 2m")
	fs.Var(seconds{&l.TimeLimit}, "timelimit", "stop the whole run after this `duration`, warm-up included (ab's -t); without -n it implies -n 50000, as ab")
	fs.Float64Var(&l.Rate, "R", 0, "constant `rate` in "+what+"/s over all "+in+"; latency then counts from each one's intended send time (wrk2's -R)")
	fs.DurationVar(&l.Timeout, "timeout", 10*time.Second, "per-request `timeout`; one without an answer by then counts as a timeout error")
	fs.StringVar(&f.scenario, "scenario", scen, "`scenario`: get, create, batch, update, list, delete or mixed (raw: get, create or mixed); ids come from users created in a warm-up")
	fs.StringVar(&f.mix, "mix", load.DefaultMixText, "`weights` for -scenario mixed: op=weight,... with ops read (=get), write (=create), get, create, batch, update, list, delete")
	fs.IntVar(&l.Warmup, "warmup", warmup, warmupHelp)
	fs.StringVar(&f.format, "format", format, "report `format`: ab, wrk or json; default ab, or wrk for a wrk-style run (-d)")
	fs.StringVar(&f.out, "out", "", "also write the run's JSON summary to this `file`")
	fs.Var(f.labels, "label", "`key=value` carried into the JSON summary; repeatable (the suite tags mode, scenario, repeat)")
	fs.IntVar(&l.WatchPID, "pid", 0, "`PID` of the server (raw: e.g. Cassandra's): its CPU seconds per request and peak RSS over the run, from /proc")
	fs.Uint64Var(&l.Seed, "seed", 0, "random `seed` for bodies and id choice; 0 picks one")
	fs.BoolVar(&l.AllowRemote, "allow-remote", false, "allow a target outside 127.0.0.0/8 and ::1")
	fs.BoolVar(&f.quiet, "q", false, "no progress line (it shows only on a terminal, after 3 s)")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write loadgen's own CPU profile to this `file` (is the client the limit?)")
}

// run completes l from the shared flags, runs the load under an optional
// CPU profile and writes its report, and with -out its JSON.
func (f *runFlags) run(fs *flag.FlagSet, l *load.Load, stdout, stderr io.Writer, run func() (*load.Result, error)) error {
	if l.Scenario = load.ParseScenario(f.scenario); l.Scenario != load.Mixed && isSet(fs, "mix") {
		return badFlag("mix", "applies to -scenario mixed only")
	}
	if l.Scenario == load.Mixed {
		var err error
		if l.Mix, err = load.ParseMix(f.mix); err != nil {
			return asUsage(err)
		}
	}
	switch load.Format(f.format) {
	case load.FormatAB, load.FormatWrk, load.FormatJSON:
	default:
		return badFlag("format", "want ab, wrk or json, not %q", f.format)
	}
	if len(f.labels) > 0 {
		l.Labels = f.labels
	}
	if !f.quiet && isTerminal(os.Stderr) {
		l.Progress = stderr
	}
	stopProfile, err := startCPUProfile(f.cpuProfile)
	if err != nil {
		return err
	}
	res, err := run()
	stopProfile()
	if err != nil {
		return asUsage(err)
	}
	if err := load.WriteReport(stdout, res, load.Format(f.format)); err != nil || f.out == "" {
		return err
	}
	file, err := os.Create(f.out)
	if err != nil {
		return err
	}
	return errors.Join(load.WriteJSON(file, res), file.Close())
}
