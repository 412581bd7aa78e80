package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gocql/gocql"
	"github.com/valyala/fasthttp"
)

// PreloadConfig fills the API's table through POST /users/batch.
type PreloadConfig struct {
	URL       string // the API's base URL
	Users     int    // default 1,000,000
	BatchSize int    // users per request; default 500 (the API takes up to 1000)
	Conns     int    // requests in flight; default 8
	// Sample is how many of the created ids Preload returns, chosen
	// uniformly over the whole table; default 100,000.
	Sample   int
	Progress io.Writer // a line every 2 s; nil: none
	Seed     uint64
}

// Preload creates cfg.Users users and returns a uniform sample of their ids.
func Preload(ctx context.Context, cfg PreloadConfig) ([]string, error) {
	if cfg.Users == 0 {
		cfg.Users = 1_000_000
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 500
	}
	if cfg.BatchSize < 1 || cfg.BatchSize > maxBatchSize {
		return nil, fieldErr("BatchSize", "must be between 1 and %d, not %d", maxBatchSize, cfg.BatchSize)
	}
	if cfg.Conns == 0 {
		cfg.Conns = 8
	}
	if cfg.Sample == 0 {
		cfg.Sample = 100_000
	}
	if cfg.Users < 1 || cfg.Conns < 1 || cfg.Sample < 1 {
		return nil, fieldErr("Users", "users, connections and sample must be positive")
	}
	hc, err := Config{URL: cfg.URL, Load: Load{Concurrency: cfg.Conns, Requests: 1}}.withDefaults()
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(hc.URL)
	if err := CheckLoopback(ctx, u.Hostname()); err != nil {
		return nil, err
	}
	c := newClient(hc, u)
	defer c.close()
	s := &apiScenario{cfg: hc, c: c, base: strings.TrimRight(hc.URL, "/"), seed: cfg.Seed}
	if s.seed == 0 {
		s.seed = rand.Uint64()
	}
	rs := newIDReservoir(cfg.Sample)
	chunks := (cfg.Users + cfg.BatchSize - 1) / cfg.BatchSize
	var (
		next, created atomic.Int64
		wg            sync.WaitGroup
		errOnce       sync.Once
		firstErr      error
	)
	start := time.Now()
	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		if cfg.Progress == nil {
			return
		}
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stopProgress:
				return
			case <-t.C:
				n := created.Load()
				el := time.Since(start)
				rate := float64(n) / el.Seconds()
				eta := "—"
				if rate > 0 {
					eta = (time.Duration(float64(int64(cfg.Users)-n)/rate) * time.Second).Round(time.Second).String()
				}
				fmt.Fprintf(cfg.Progress, "preload: %d/%d users (%.0f%%), %.0f users/s, %s left\n", n, cfg.Users,
					100*float64(n)/float64(cfg.Users), rate, eta)
			}
		}
	}()
	for g := range min(cfg.Conns, chunks) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(s.seed, 1<<40+uint64(g)))
			req, resp := &fasthttp.Request{}, &fasthttp.Response{}
			var ids []string
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= chunks {
					return
				}
				k := min(cfg.BatchSize, cfg.Users-i*cfg.BatchSize)
				var err error
				if ids, err = s.createBatch(req, resp, r, k, ids[:0]); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				created.Add(int64(len(ids)))
				rs.add(ids)
			}
		}()
	}
	wg.Wait()
	close(stopProgress)
	<-progressDone
	if firstErr != nil {
		return nil, fmt.Errorf("preload after %d users: %w", created.Load(), firstErr)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("preload after %d users: %w", created.Load(), err)
	}
	if cfg.Progress != nil {
		fmt.Fprintf(cfg.Progress, "preload: %d users in %s\n", created.Load(), time.Since(start).Round(time.Second))
	}
	return rs.ids, nil
}

// idReservoir keeps a uniform sample of ids.
type idReservoir struct {
	mu    sync.Mutex
	n     int
	count int64
	ids   []string
	r     *rand.Rand
}

func newIDReservoir(n int) *idReservoir {
	return &idReservoir{n: n, r: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
}

func (rs *idReservoir) add(ids []string) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, id := range ids {
		rs.count++
		if len(rs.ids) < rs.n {
			rs.ids = append(rs.ids, id)
		} else if j := rs.r.Int64N(rs.count); j < int64(rs.n) {
			rs.ids[j] = id
		}
	}
}

// WriteIDs writes one id a line; ReadIDs reads such a file.
func WriteIDs(path string, ids []string) error {
	return os.WriteFile(path, []byte(strings.Join(ids, "\n")+"\n"), 0o644)
}

// ReadIDs reads one id a line, skipping blank lines.
func ReadIDs(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ids []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			ids = append(ids, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%s holds no ids", path)
	}
	return ids, nil
}

// LargeConfig is the large-table run (`loadgen large`, `make
// bench-large`): the same GET-by-id and list loads on a table of Users
// users and on a small one, each preloaded through POST /users/batch into
// a keyspace of its own that is dropped first, so each table holds exactly
// its count.
type LargeConfig struct {
	Out     string // default bench/results/large-<UTC timestamp>
	UserAPI string // default bin/userapi
	Loadgen string // default this executable
	Hosts   string // default 127.0.0.1

	Users      int           // the large table; default 1,000,000
	SmallUsers int           // the small table; default 1000 (the suite's warm-up)
	Sample     int           // ids read by get, uniform over each table; default 100,000
	Duration   time.Duration // each run; default 6s
	Conns      int           // default 64; every scenario runs on 1 connection too
	ListLimit  int           // rows per page; default 20

	Port                         int
	LargeKeyspace, SmallKeyspace string // default bench_large, bench_small
	UserAPIFlags                 []string
	Log                          io.Writer
}

// LargeRow is one load on one table.
type LargeRow struct {
	Table    string  `json:"table"` // small or large
	Users    int     `json:"users"`
	Scenario string  `json:"scenario"`
	Conns    int     `json:"connections"`
	Summary  Summary `json:"summary"`
}

// Large is a finished large-table run.
type Large struct {
	Dir       string            `json:"-"`
	Generated time.Time         `json:"generated"`
	Meta      map[string]string `json:"meta"`
	Rows      []LargeRow        `json:"rows"`
}

func (cfg LargeConfig) withDefaults() (LargeConfig, error) {
	if cfg.Out == "" {
		cfg.Out = filepath.Join("bench", "results", "large-"+time.Now().UTC().Format("20060102T150405Z"))
	}
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	def(&cfg.Users, 1_000_000)
	def(&cfg.SmallUsers, 1000)
	def(&cfg.Sample, 100_000)
	def(&cfg.Conns, 64)
	def(&cfg.ListLimit, defaultListLimit)
	if cfg.Users < 1 || cfg.SmallUsers < 1 || cfg.Sample < 1 || cfg.Conns < 1 {
		return cfg, fieldErr("Users", "users, small users, sample and connections must be positive")
	}
	if cfg.Duration == 0 {
		cfg.Duration = 6 * time.Second
	}
	if cfg.LargeKeyspace == "" {
		cfg.LargeKeyspace = "bench_large"
	}
	if cfg.SmallKeyspace == "" {
		cfg.SmallKeyspace = "bench_small"
	}
	return cfg, nil
}

// RunLarge runs the large-table comparison and writes report.md and
// results.json into cfg.Out.
func RunLarge(ctx context.Context, cfg LargeConfig) (*Large, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	h, sc, err := harness(ctx, SuiteConfig{Out: cfg.Out, UserAPI: cfg.UserAPI, Loadgen: cfg.Loadgen, Hosts: cfg.Hosts,
		Duration: cfg.Duration, Modes: []string{ModeAPI}, Port: cfg.Port, UserAPIFlags: cfg.UserAPIFlags, Log: cfg.Log,
		APIKeyspace: cfg.LargeKeyspace, RawKeyspace: cfg.SmallKeyspace})
	if err != nil {
		return nil, err
	}
	h.cfg.Log = logPrefix{h.cfg.Log, "large: "}
	l := &Large{Dir: cfg.Out, Meta: map[string]string{
		"started": time.Now().UTC().Format(time.RFC3339), "git": gitVersion(), "machine": machine(),
		"tables": fmt.Sprintf("small: %d users (keyspace %s); large: %d users (keyspace %s); preloaded through POST /users/batch", cfg.SmallUsers, cfg.SmallKeyspace, cfg.Users, cfg.LargeKeyspace),
		"loads":  fmt.Sprintf("%s each; get-by-id over a uniform sample of up to %d ids of the table; list pages of %d rows following X-Next-Page-State; on %d connections and on 1", cfg.Duration, cfg.Sample, cfg.ListLimit, cfg.Conns),
	}}
	for _, t := range []struct {
		name, ks string
		users    int
	}{{"small", cfg.SmallKeyspace, cfg.SmallUsers}, {"large", cfg.LargeKeyspace, cfg.Users}} {
		if err := dropKeyspaces(ctx, HostsList(sc.Hosts), t.ks); err != nil {
			return nil, err
		}
		h.cfg.APIKeyspace = t.ks
		srv, err := h.startServer(ModeAPI, "api-"+t.name)
		if err != nil {
			return nil, err
		}
		rows, err := h.largeTable(cfg, srv, t.name, t.users)
		h.stop(srv)
		if err != nil {
			return nil, err
		}
		l.Rows = append(l.Rows, rows...)
	}
	l.Generated = time.Now().UTC()
	if err := writeJSON(filepath.Join(cfg.Out, "results.json"), l); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(cfg.Out, "report.md"), []byte(l.markdown()), 0o644); err != nil {
		return nil, err
	}
	h.logf("report: %s", filepath.Join(cfg.Out, "report.md"))
	return l, nil
}

// largeTable preloads one table and runs its loads.
func (r *suiteRun) largeTable(cfg LargeConfig, srv *server, table string, users int) ([]LargeRow, error) {
	r.logf("preloading %d users into the %s table", users, table)
	ids, err := Preload(r.ctx, PreloadConfig{URL: srv.url, Users: users, Sample: cfg.Sample, Progress: r.cfg.Log})
	if err != nil {
		return nil, err
	}
	idFile := filepath.Join(r.cfg.Out, "ids-"+table+".txt")
	if err := WriteIDs(idFile, ids); err != nil {
		return nil, err
	}
	var rows []LargeRow
	for _, scen := range []string{"get", "list"} {
		for _, c := range []int{cfg.Conns, 1} {
			name := fmt.Sprintf("%s-%s-c%d", table, scen, c)
			out := filepath.Join(r.runs, name+".json")
			args := []string{"-scenario", scen, "-c", strconv.Itoa(c), "-d", cfg.Duration.String(), "-ids", idFile,
				"-list-limit", strconv.Itoa(cfg.ListLimit), "-q", "-format", "wrk", "-label", "table=" + table,
				"-out", out, "-pid", strconv.Itoa(srv.p.PID()), srv.url}
			if err := r.runLoadgen(name, nil, args, out); err != nil {
				return nil, err
			}
			sum, err := readSummary(out)
			if err != nil {
				return nil, err
			}
			rows = append(rows, LargeRow{Table: table, Users: users, Scenario: scen, Conns: c, Summary: sum})
		}
	}
	return rows, nil
}

// dropKeyspaces removes each of names, if it exists, so that its table
// starts empty.
func dropKeyspaces(ctx context.Context, hosts []string, names ...string) error {
	for _, ks := range names {
		if !keyspaceName.MatchString(ks) {
			return fieldErr("Keyspace", "%q is not a keyspace name", ks)
		}
	}
	cluster := gocql.NewCluster(hosts...)
	cluster.Timeout = 60 * time.Second
	s, err := cluster.CreateSession()
	if err != nil {
		return fmt.Errorf("connect to cassandra at %v: %w", hosts, err)
	}
	defer s.Close()
	for _, ks := range names {
		if err := s.Query("DROP KEYSPACE IF EXISTS " + ks).WithContext(ctx).Consistency(gocql.All).Exec(); err != nil {
			return fmt.Errorf("drop keyspace %s: %w", ks, err)
		}
	}
	return nil
}

func (l *Large) markdown() string {
	b := &strings.Builder{}
	fmt.Fprintf(b, "# GET-by-id and list on a large table\n\nGenerated %s from `%s`.\n\n", l.Generated.Format(time.RFC3339), l.Dir)
	writeMeta(b, l.Meta)
	fmt.Fprintf(b, "| scenario | connections | table | users | req/s | p50 ms | p99 ms | p99.9 ms | errors | non-2xx | server µs/req |\n")
	fmt.Fprintf(b, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, scen := range []string{"get", "list"} {
		for _, c := range []int{0, 1} {
			for _, row := range l.Rows {
				if row.Scenario != scen || (c == 1) != (row.Conns == 1) {
					continue
				}
				s := row.Summary
				cpu := "—"
				if s.Server != nil {
					cpu = fmt.Sprintf("%.1f", s.Server.CPUPerRequestMicros)
				}
				fmt.Fprintf(b, "| %s | %d | %s | %d | %.0f | %s | %s | %s | %d | %d | %s |\n", scen, row.Conns, row.Table, row.Users,
					s.RequestsPerSec, ms(s.Latency.At(50)), ms(s.Latency.At(99)), ms(s.Latency.At(99.9)), s.Errors, s.Non2xx, cpu)
			}
		}
	}
	fmt.Fprintf(b, "\nLarge / small, same scenario and connections:\n\n| scenario | connections | throughput | p50 | p99 |\n| --- | --- | --- | --- | --- |\n")
	for _, big := range l.Rows {
		if big.Table != "large" {
			continue
		}
		for _, small := range l.Rows {
			if small.Table == "small" && small.Scenario == big.Scenario && small.Conns == big.Conns {
				ratio := func(a, b float64) string {
					if b <= 0 {
						return "—"
					}
					return fmt.Sprintf("%.2f", a/b)
				}
				fmt.Fprintf(b, "| %s | %d | %s | %s | %s |\n", big.Scenario, big.Conns,
					ratio(big.Summary.RequestsPerSec, small.Summary.RequestsPerSec),
					ratio(big.Summary.Latency.At(50), small.Summary.Latency.At(50)), ratio(big.Summary.Latency.At(99), small.Summary.Latency.At(99)))
			}
		}
	}
	return b.String()
}
