package main

import (
	"context"
	"io"

	"github.com/userapi/userapi/bench/large"
)

const largeUsage = `Usage: loadgen large [flags]

Get-by-id and list on a large table beside a small one (make bench-large):
for each, drop the keyspace, start bin/userapi on it, preload the users
through POST /users/batch, then get (over a uniform sample of its ids) and
list (following X-Next-Page-State) on -c connections and on one. Results go
to -out: report.md with large / small ratios, results.json, the id samples.

Every flag falls back to the environment variable in brackets; docs/load-testing.md
explains the run and its report.

Flags:
`

func runLarge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("loadgen large", largeUsage, stderr)
	def := large.Config{}.Defaults()
	var cfg large.Config
	harnessFlags(fs, &cfg.Config, def.Config, "LARGE", "large-", true)
	fs.IntVar(&cfg.Users, "users", env.int("LARGE_USERS", def.Users), "`users` in the large table [LARGE_USERS]")
	fs.IntVar(&cfg.SmallUsers, "small-users", env.int("LARGE_SMALL_USERS", def.SmallUsers), "`users` in the small table [LARGE_SMALL_USERS]")
	fs.IntVar(&cfg.Sample, "sample", env.int("LARGE_SAMPLE", def.Sample), "`ids` of each table that get reads, chosen uniformly [LARGE_SAMPLE]")
	fs.DurationVar(&cfg.Duration, "d", env.dur("LARGE_DURATION", def.Duration), "each run's `duration` [LARGE_DURATION]")
	fs.IntVar(&cfg.Conns, "c", env.int("LARGE_CONNS", def.Conns), "`connections`; every scenario also runs on 1 [LARGE_CONNS]")
	fs.IntVar(&cfg.ListLimit, "list-limit", env.int("LARGE_LIST_LIMIT", def.ListLimit), "`rows` per list page [LARGE_LIST_LIMIT]")
	fs.StringVar(&cfg.LargeKeyspace, "large-keyspace", env.str("LARGE_KEYSPACE", def.LargeKeyspace), "the large table's `keyspace`, dropped first [LARGE_KEYSPACE]")
	fs.StringVar(&cfg.SmallKeyspace, "small-keyspace", env.str("LARGE_SMALL_KEYSPACE", def.SmallKeyspace), "the small table's `keyspace`, dropped first [LARGE_SMALL_KEYSPACE]")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if err := positive(fs, "users", "small-users", "sample", "c", "list-limit"); err != nil {
		return err
	}
	cfg.Log = stderr
	l, err := large.Run(ctx, cfg)
	return wrote(stdout, l, err)
}
