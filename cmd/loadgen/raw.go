package main

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/userapi/userapi/bench"
)

const rawUsage = `Usage: loadgen raw [flags]

The API's reads and writes sent straight to Cassandra with gocql: no HTTP,
no server. Its throughput at a concurrency is the limit the API is measured
against. It creates -keyspace and its users table if missing, inserts -warmup
rows, then reads them by id (get), inserts new rows (create), or mixes both.
Statements are prepared, routing is token-aware, no query is retried.

  loadgen raw -scenario get -c 64 -d 30s
  loadgen raw -scenario mix -mix read=80,write=20 -c 64 -d 30s -format json

Flags:
`

func runRaw(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("loadgen raw", rawUsage, stderr)
	var (
		cfg      bench.RawConfig
		hosts    string
		labels   = labelMap{}
		scenario string
		mix      string
		format   string
		out      string
		quiet    bool
		profile  string
	)
	cassandraFlags(fs, &hosts, &cfg.Port)
	fs.StringVar(&cfg.Keyspace, "keyspace", "loadgen_raw", "`keyspace` to create and load; kept apart from the API's")
	fs.IntVar(&cfg.ReplicationFactor, "rf", 1, "replication `factor` if the keyspace is created")
	fs.StringVar(&cfg.Consistency, "consistency", "LOCAL_QUORUM", "consistency `level` of every query, as the API's default")
	fs.IntVar(&cfg.NumConns, "conns", 2, "connections per `host`, as the engine's default")
	fs.StringVar(&cfg.Username, "username", os.Getenv("CASSANDRA_USERNAME"), "`user` for password authentication (env CASSANDRA_USERNAME)")
	fs.StringVar(&cfg.Password, "password", os.Getenv("CASSANDRA_PASSWORD"), "`password` (env CASSANDRA_PASSWORD)")
	fs.IntVar(&cfg.Concurrency, "c", 1, "`callers`: queries in flight at once, as HTTP connections are")
	fs.Int64Var(&cfg.Requests, "n", 0, "number of `queries`; with -d, whichever ends first")
	fs.Var(seconds{&cfg.Duration}, "d", "run for this `duration`: 30, 30s, 2m (default 10s when -n is not given)")
	fs.Var(seconds{&cfg.TimeLimit}, "timelimit", "stop the whole run after this `duration`, warm-up included")
	fs.IntVar(&cfg.Threads, "t", 0, "`N` OS threads (GOMAXPROCS); default all cores")
	fs.Float64Var(&cfg.Rate, "R", 0, "constant `rate` in queries/s; latency then counts from each query's intended send time")
	fs.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "per-query `timeout`")
	fs.StringVar(&scenario, "scenario", "get", "`scenario`: get (SELECT by id), create (INSERT) or mix")
	fs.StringVar(&mix, "mix", "read=80,write=20", "`weights` for -scenario mix: read (=get) and write (=create)")
	fs.IntVar(&cfg.Warmup, "warmup", 1000, "`rows` inserted before measuring, whose ids get reads")
	fs.StringVar(&format, "format", "ab", "report `format`: ab, wrk or json")
	fs.StringVar(&out, "out", "", "also write the run's JSON summary to this `file`")
	fs.Var(labels, "label", "`key=value` carried into the JSON summary; repeatable")
	fs.IntVar(&cfg.WatchPID, "pid", 0, "`PID` to watch (e.g. Cassandra's): CPU seconds per query and peak RSS")
	fs.Uint64Var(&cfg.Seed, "seed", 0, "random `seed`; 0 picks one")
	fs.BoolVar(&cfg.AllowRemote, "allow-remote", false, "allow contact points outside 127.0.0.0/8 and ::1")
	fs.BoolVar(&quiet, "q", false, "no progress line (it shows only on a terminal, after 3 s)")
	fs.StringVar(&profile, "cpuprofile", "", "write loadgen's own CPU profile to this `file`")
	err := parseNoArgs(fs, args)
	if err != nil {
		return err
	}
	if cfg.Hosts, err = hostsFlag(hosts); err != nil {
		return err
	}
	if cfg.Requests == 0 && cfg.Duration == 0 {
		cfg.Duration = 10 * time.Second
	}
	if err := checkFormat(format); err != nil {
		return err
	}
	if cfg.Scenario, cfg.Mix, err = scenarioFlags(fs, scenario, mix); err != nil {
		return err
	}
	if len(labels) > 0 {
		cfg.Labels = labels
	}
	if !quiet && isTerminal(os.Stderr) {
		cfg.Progress = stderr
	}
	return profiled(profile, func() (*bench.Result, error) { return bench.RunRaw(ctx, cfg) }, stdout, format, out)
}
