package main

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/userapi/userapi/bench/load"
)

const rawUsage = `Usage: loadgen raw [flags]

The API's reads and writes sent straight to Cassandra with gocql: no HTTP,
no server. Its throughput at a concurrency is the limit the API is measured
against. It creates -keyspace and its users table if missing, inserts -warmup
rows, then reads them by id (get), inserts new rows (create), or mixes both.
Statements are prepared, routing is token-aware, no query is retried.

  loadgen raw -scenario get -c 64 -d 30s
  loadgen raw -scenario mixed -mix read=80,write=20 -c 64 -d 30s -format json

Flags:
`

func runRaw(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("loadgen raw", rawUsage, stderr)
	var (
		cfg   load.RawConfig
		run   runFlags
		hosts string
	)
	cassandraFlags(fs, &hosts, &cfg.Port)
	run.register(fs, &cfg.Load, true)
	fs.StringVar(&cfg.Keyspace, "keyspace", "loadgen_raw", "`keyspace` to create and load; kept apart from the API's")
	fs.IntVar(&cfg.ReplicationFactor, "rf", 1, "replication `factor` if the keyspace is created")
	fs.StringVar(&cfg.Consistency, "consistency", "LOCAL_QUORUM", "consistency `level` of every query, as the API's default")
	fs.IntVar(&cfg.NumConns, "conns", 2, "connections per `host`, as the engine's default")
	fs.StringVar(&cfg.Username, "username", os.Getenv("CASSANDRA_USERNAME"), "`user` for password authentication (env CASSANDRA_USERNAME)")
	fs.StringVar(&cfg.Password, "password", os.Getenv("CASSANDRA_PASSWORD"), "`password` (env CASSANDRA_PASSWORD)")
	fs.IntVar(&cfg.Threads, "t", 0, "`N` OS threads (GOMAXPROCS); default all cores")
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
	return run.run(fs, &cfg.Load, stdout, stderr, func() (*load.Result, error) { return load.RunRaw(ctx, cfg) })
}
