package large

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/userapi/userapi/bench/harness"
	"github.com/userapi/userapi/bench/load"
	"github.com/userapi/userapi/bench/report"
)

// Config is the large-table run (`loadgen large`, `make bench-large`): the
// same GET-by-id and list loads on a table of Users users and on a small
// one, each preloaded through POST /users/batch into a keyspace of its own
// that is dropped first, so each table holds exactly its count.
type Config struct {
	harness.Config

	Users      int           // the large table; default 1,000,000
	SmallUsers int           // the small table; default 1000 (the suite's warm-up)
	Sample     int           // ids read by get, uniform over each table; default 100,000
	Duration   time.Duration // each run; default 6s
	Conns      int           // default 64; every scenario runs on 1 connection too
	ListLimit  int           // rows per page; default 20

	LargeKeyspace, SmallKeyspace string // default bench_large, bench_small
}

// Row is one load on one table.
type Row struct {
	Table    string       `json:"table"` // small or large
	Users    int          `json:"users"`
	Scenario string       `json:"scenario"`
	Conns    int          `json:"connections"`
	Summary  load.Summary `json:"summary"`
}

// Report is a finished large-table run.
type Report struct {
	report.Header
	Rows []Row `json:"rows"`
}

// Defaults returns c with every zero field set to its default.
func (c Config) Defaults() Config {
	c.Config = c.Config.Defaults("large-", 18485)
	load.Default(&c.Users, 1_000_000)
	load.Default(&c.SmallUsers, 1000)
	load.Default(&c.Sample, 100_000)
	load.Default(&c.Conns, 64)
	load.Default(&c.ListLimit, 20)
	load.Default(&c.Duration, 6*time.Second)
	load.Default(&c.LargeKeyspace, "bench_large")
	load.Default(&c.SmallKeyspace, "bench_small")
	return c
}

func (c Config) check() error {
	for _, n := range []struct {
		v    int
		name string
	}{{c.Users, "Users"}, {c.SmallUsers, "SmallUsers"}, {c.Sample, "Sample"}, {c.Conns, "Conns"}, {c.ListLimit, "ListLimit"}} {
		if n.v < 1 {
			return load.FieldError(n.name, "must be a positive integer, not %d", n.v)
		}
	}
	return nil
}

// Run runs the large-table comparison and writes report.md, results.json
// and meta.json into cfg.Out.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.Defaults()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	r, err := harness.Start(ctx, cfg.Config, "large", harness.Needs{API: true, Loadgen: true, Cassandra: true})
	if err != nil {
		return nil, err
	}
	meta, err := report.WriteMeta(cfg.Out, map[string]string{
		"tables": fmt.Sprintf("small: %d users (keyspace %s); large: %d users (keyspace %s); preloaded through POST /users/batch", cfg.SmallUsers, cfg.SmallKeyspace, cfg.Users, cfg.LargeKeyspace),
		"loads":  fmt.Sprintf("%s each; get-by-id over a uniform sample of up to %d ids of the table; list pages of %d rows following X-Next-Page-State; on %d connections and on 1", cfg.Duration, cfg.Sample, cfg.ListLimit, cfg.Conns),
	})
	if err != nil {
		return nil, err
	}
	l := &Report{Header: report.Header{Dir: cfg.Out, Meta: meta}}
	for _, t := range []struct {
		name, ks string
		users    int
	}{{"small", cfg.SmallKeyspace, cfg.SmallUsers}, {"large", cfg.LargeKeyspace, cfg.Users}} {
		if err := r.DropKeyspaces(t.ks); err != nil {
			return nil, err
		}
		srv, err := r.StartAPI("api-"+t.name, t.ks)
		if err != nil {
			return nil, err
		}
		rows, err := table(r, cfg, srv, t.name, t.users)
		r.Stop(srv)
		if err != nil {
			return nil, err
		}
		l.Rows = append(l.Rows, rows...)
	}
	l.Generated = time.Now().UTC()
	if err := report.Write(cfg.Out, l, nil, l.document); err != nil {
		return nil, err
	}
	r.Logf("report: %s", l.Path())
	return l, nil
}

// table preloads one table and runs its loads.
func table(r *harness.Run, cfg Config, srv *harness.Server, table string, users int) ([]Row, error) {
	r.Logf("preloading %d users into the %s table", users, table)
	ids, err := load.Preload(r.Ctx, load.PreloadConfig{URL: srv.URL, Users: users, Sample: cfg.Sample, Progress: r.Log})
	if err != nil {
		return nil, err
	}
	idFile := filepath.Join(cfg.Out, "ids-"+table+".txt")
	if err := load.WriteIDs(idFile, ids); err != nil {
		return nil, err
	}
	var rows []Row
	for _, scen := range []load.Scenario{load.Get, load.List} {
		for _, c := range []int{cfg.Conns, 1} {
			sum, err := r.RunLoad(harness.Load{Name: fmt.Sprintf("%s-%s-c%d", table, scen, c), Scenario: scen, Conns: c,
				Duration: cfg.Duration, IDs: idFile, ListLimit: cfg.ListLimit, Labels: []string{"table=" + table}, Server: srv})
			if err != nil {
				return nil, err
			}
			rows = append(rows, Row{Table: table, Users: users, Scenario: string(scen), Conns: c, Summary: sum})
		}
	}
	return rows, nil
}

func (l *Report) document([]string) *report.Document {
	d := report.NewDocument("GET-by-id and list on a large table", l.Header, "")
	d.Table("scenario", "connections", "table", "users", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "errors", "non-2xx", "server µs/req")
	for _, scen := range []string{"get", "list"} {
		for _, one := range []bool{false, true} {
			for _, row := range l.Rows {
				if row.Scenario != scen || one != (row.Conns == 1) {
					continue
				}
				s := row.Summary
				cpu := "—"
				if s.Server != nil {
					cpu = fmt.Sprintf("%.1f", s.Server.CPUPerRequestMicros)
				}
				d.Row(scen, strconv.Itoa(row.Conns), row.Table, strconv.Itoa(row.Users), fmt.Sprintf("%.0f", s.RequestsPerSec),
					report.Ms(s.Latency.At(50)), report.Ms(s.Latency.At(99)), report.Ms(s.Latency.At(99.9)),
					strconv.FormatInt(s.Errors, 10), strconv.FormatInt(s.Non2xx, 10), cpu)
			}
		}
	}
	d.Printf("\nLarge / small, same scenario and connections:\n\n")
	d.Table("scenario", "connections", "throughput", "p50", "p99")
	ratio := func(a, b float64) string { return report.F("%.2f", a/b, b > 0) }
	for _, big := range l.Rows {
		for _, small := range l.Rows {
			if big.Table == "large" && small.Table == "small" && small.Scenario == big.Scenario && small.Conns == big.Conns {
				d.Row(big.Scenario, strconv.Itoa(big.Conns), ratio(big.Summary.RequestsPerSec, small.Summary.RequestsPerSec),
					ratio(big.Summary.Latency.At(50), small.Summary.Latency.At(50)), ratio(big.Summary.Latency.At(99), small.Summary.Latency.At(99)))
			}
		}
	}
	return d
}
