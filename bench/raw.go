package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gocql/gocql"
)

// RawConfig describes a run straight against Cassandra: the reads and
// writes the API makes, with no HTTP in between. Its throughput at a given
// concurrency is the limit the API is measured against.
type RawConfig struct {
	Hosts             []string // default 127.0.0.1
	Port              int      // default 9042
	Keyspace          string   // default loadgen_raw; created if missing
	ReplicationFactor int      // for a keyspace it creates; default 1
	Consistency       string   // default LOCAL_QUORUM, as the API uses
	NumConns          int      // connections per host; default 2, as the engine
	Username          string
	Password          string

	Requests    int64
	Duration    time.Duration
	TimeLimit   time.Duration
	Concurrency int // callers with a query in flight; default 1
	Rate        float64
	Timeout     time.Duration // per query; default 10s

	Scenario Scenario // get, create or mix (of get and create); default get
	Mix      Mix
	Warmup   int // rows inserted before a get or mix run; default 1000

	Threads     int
	WatchPID    int
	Progress    io.Writer
	Labels      map[string]string
	Seed        uint64
	AllowRemote bool
}

var keyspaceName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,47}$`)

func (cfg RawConfig) withDefaults() (RawConfig, error) {
	if len(cfg.Hosts) == 0 {
		cfg.Hosts = []string{"127.0.0.1"}
	}
	if cfg.Port == 0 {
		cfg.Port = 9042
	}
	if cfg.Keyspace == "" {
		cfg.Keyspace = "loadgen_raw"
	}
	if !keyspaceName.MatchString(cfg.Keyspace) {
		return cfg, fieldErr("Keyspace", "%q is not a keyspace name (lowercase letter, then up to 47 of a-z, 0-9, _)", cfg.Keyspace)
	}
	if cfg.ReplicationFactor == 0 {
		cfg.ReplicationFactor = 1
	}
	if cfg.Consistency == "" {
		cfg.Consistency = "LOCAL_QUORUM"
	}
	if _, err := gocql.ParseConsistencyWrapper(cfg.Consistency); err != nil {
		return cfg, fieldErr("Consistency", "%q is not a consistency level", cfg.Consistency)
	}
	if cfg.NumConns == 0 {
		cfg.NumConns = 2
	}
	if cfg.NumConns < 0 {
		return cfg, fieldErr("NumConns", "must be positive")
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 1
	}
	if cfg.Concurrency < 0 || cfg.Concurrency > maxConcurrency {
		return cfg, fieldErr("Concurrency", "must be between 1 and %d, not %d", maxConcurrency, cfg.Concurrency)
	}
	if cfg.Requests < 0 || cfg.Duration < 0 || cfg.TimeLimit < 0 || cfg.Rate < 0 || cfg.Warmup < 0 || cfg.Threads < 0 {
		return cfg, fieldErr("Requests", "counts, durations and rates must not be negative")
	}
	if cfg.Requests == 0 && cfg.Duration == 0 && cfg.TimeLimit == 0 {
		return cfg, fieldErr("Requests", "set a request count, a duration or a time limit")
	}
	if cfg.Rate > 0 && cfg.Requests == 0 && cfg.Duration == 0 {
		return cfg, fieldErr("Rate", "needs a request count or a duration to fix the schedule")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = defaultTimeout
	}
	switch cfg.Scenario {
	case Plain:
		cfg.Scenario = Get
	case Get, Create:
	case Mixed:
		if len(cfg.Mix) == 0 {
			cfg.Mix = DefaultMix()
		}
		if err := cfg.Mix.validate(); err != nil {
			return cfg, err
		}
		for _, e := range cfg.Mix {
			if e.Op != Get && e.Op != Create && e.Weight > 0 {
				return cfg, fieldErr("Mix", "raw mode mixes get and create only, not %s", e.Op)
			}
		}
	default:
		return cfg, fieldErr("Scenario", "raw mode runs get, create or mix, not %q", cfg.Scenario)
	}
	if cfg.Warmup == 0 {
		cfg.Warmup = defaultWarmupIDs
	}
	return cfg, nil
}

// rawRun is what a raw run's workers share.
type rawRun struct {
	cfg         RawConfig
	session     *gocql.Session
	consistency gocql.Consistency
	selectCQL   string
	insertCQL   string
	ids         []gocql.UUID
	ops         []Scenario
	cum         []int
	total       int
	seed        uint64
}

// RunRaw creates the keyspace and table if needed, inserts the warm-up
// rows, and drives cfg's load with gocql: prepared statements, token-aware
// routing, the configured consistency, no retries (a failure is counted).
func RunRaw(ctx context.Context, cfg RawConfig) (*Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if !cfg.AllowRemote {
		for _, h := range cfg.Hosts {
			host := h
			if hh, _, err := net.SplitHostPort(h); err == nil {
				host = hh
			}
			if err := CheckLoopback(ctx, host); err != nil {
				return nil, err
			}
		}
	}
	ctx, undo := applyLimits(ctx, cfg.Threads, cfg.TimeLimit)
	defer undo()
	consistency, _ := gocql.ParseConsistencyWrapper(cfg.Consistency)
	cluster := gocql.NewCluster(cfg.Hosts...)
	cluster.Port = cfg.Port
	cluster.Consistency = consistency
	cluster.NumConns = cfg.NumConns
	cluster.Timeout = cfg.Timeout
	cluster.ConnectTimeout = 10 * time.Second
	cluster.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(gocql.RoundRobinHostPolicy())
	cluster.RetryPolicy = nil
	if cfg.Username != "" {
		cluster.Authenticator = gocql.PasswordAuthenticator{Username: cfg.Username, Password: cfg.Password}
	}
	session, err := cluster.CreateSession()
	if err != nil {
		return nil, fmt.Errorf("connect to cassandra at %v: %w", cfg.Hosts, err)
	}
	defer session.Close()

	rr := &rawRun{
		cfg:         cfg,
		session:     session,
		consistency: consistency,
		selectCQL:   "SELECT id, name, email, age, created_at, updated_at FROM " + cfg.Keyspace + ".users WHERE id = ?",
		insertCQL:   "INSERT INTO " + cfg.Keyspace + ".users (id, name, email, age, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
		seed:        cfg.Seed,
	}
	if rr.seed == 0 {
		rr.seed = rand.Uint64()
	}
	if cfg.Scenario == Mixed {
		for _, e := range cfg.Mix {
			if e.Weight > 0 {
				rr.total += e.Weight
				rr.ops = append(rr.ops, e.Op)
				rr.cum = append(rr.cum, rr.total)
			}
		}
	} else {
		rr.ops, rr.cum, rr.total = []Scenario{cfg.Scenario}, []int{1}, 1
	}
	if err := rr.createSchema(ctx); err != nil {
		return nil, err
	}
	var setup int64
	for _, op := range rr.ops {
		if op == Get {
			if setup, err = rr.warm(ctx); err != nil {
				return nil, err
			}
			break
		}
	}

	watch, err := watchProc(cfg.WatchPID)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(rr.ops))
	for i, op := range rr.ops {
		names[i] = string(op)
	}
	p := plan{
		concurrency: cfg.Concurrency,
		requests:    cfg.Requests,
		duration:    cfg.Duration,
		rate:        cfg.Rate,
		grace:       cfg.Timeout,
		ops:         names,
		progress:    cfg.Progress,
	}
	res, err := p.run(ctx, func(i int) (worker, error) {
		return &rawWorker{run: rr, r: rand.New(rand.NewPCG(rr.seed, uint64(i)+1))}, nil
	})
	if err != nil {
		return nil, err
	}
	if res.Server, err = watch.usage(res.Responses); err != nil {
		return nil, err
	}
	res.Mode = "raw"
	res.Target = "cql://" + net.JoinHostPort(cfg.Hosts[0], strconv.Itoa(cfg.Port)) + "/" + cfg.Keyspace
	res.Scenario = string(cfg.Scenario)
	if cfg.Scenario == Mixed {
		res.Mix = cfg.Mix.String()
	}
	res.Concurrency = cfg.Concurrency
	res.Threads = runtime.GOMAXPROCS(0) // as set for the run
	res.Rate = cfg.Rate
	res.KeepAlive = true
	res.Labels = cfg.Labels
	res.Setup = setup
	return res, nil
}

func (rr *rawRun) createSchema(ctx context.Context) error {
	ks := rr.cfg.Keyspace
	stmts := []string{
		fmt.Sprintf("CREATE KEYSPACE IF NOT EXISTS %s WITH replication = {'class': 'SimpleStrategy', 'replication_factor': %d}", ks, rr.cfg.ReplicationFactor),
		"CREATE TABLE IF NOT EXISTS " + ks + ".users (id uuid PRIMARY KEY, name text, email text, age int, created_at timestamp, updated_at timestamp)",
	}
	for _, s := range stmts {
		if err := rr.session.Query(s).WithContext(ctx).Consistency(gocql.One).Exec(); err != nil {
			return fmt.Errorf("create schema in %s: %w", ks, err)
		}
	}
	return nil
}

// warm inserts cfg.Warmup rows whose ids the get workers then read.
func (rr *rawRun) warm(ctx context.Context) (int64, error) {
	n := rr.cfg.Warmup
	rr.ids = make([]gocql.UUID, n)
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for g := range min(32, rr.cfg.Concurrency, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(rr.seed, 1<<32+uint64(g)))
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				id, err := gocql.RandomUUID()
				if err == nil {
					err = rr.insert(ctx, id, r)
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				rr.ids[i] = id
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return 0, fmt.Errorf("warm-up insert: %w", firstErr)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("warm-up: %w", err)
	}
	return int64(n), nil
}

func (rr *rawRun) insert(ctx context.Context, id gocql.UUID, r *rand.Rand) error {
	p := newPerson(r)
	now := time.Now().UTC().Truncate(time.Millisecond)
	q := rr.session.Query(rr.insertCQL, id, string(p.appendName(nil)), string(p.appendEmail(nil)), p.age, now, now).
		WithContext(ctx).Consistency(rr.consistency).Idempotent(true)
	err := q.Exec()
	q.Release()
	return err
}

// rawWorker issues one caller's queries.
type rawWorker struct {
	run *rawRun
	r   *rand.Rand
	op  Scenario
	id  gocql.UUID

	// Scan targets, reused.
	gotID            gocql.UUID
	name, email      string
	age              int
	created, updated time.Time
}

func (w *rawWorker) next() (int, error) {
	i := 0
	if len(w.run.ops) > 1 {
		n := w.r.IntN(w.run.total)
		for i < len(w.run.cum)-1 && n >= w.run.cum[i] {
			i++
		}
	}
	w.op = w.run.ops[i]
	if w.op == Get {
		w.id = w.run.ids[w.r.IntN(len(w.run.ids))]
		return i, nil
	}
	id, err := gocql.RandomUUID()
	if err != nil {
		return i, fmt.Errorf("%w: %v", errSetup, err)
	}
	w.id = id
	return i, nil
}

func (w *rawWorker) do() (int, int, error) {
	if w.op == Get {
		q := w.run.session.Query(w.run.selectCQL, w.id).Consistency(w.run.consistency).Idempotent(true)
		err := q.Scan(&w.gotID, &w.name, &w.email, &w.age, &w.created, &w.updated)
		q.Release()
		switch {
		case errors.Is(err, gocql.ErrNotFound):
			return 404, 0, nil
		case err != nil:
			return 0, 0, err
		}
		return 200, 0, nil
	}
	if err := w.run.insert(context.Background(), w.id, w.r); err != nil {
		return 0, 0, err
	}
	return 201, 0, nil
}

// rawErrorKind sorts gocql's errors into the engine's taxonomy; "" when
// err is not one of them.
func rawErrorKind(err error) string {
	var rt *gocql.RequestErrReadTimeout
	var wt *gocql.RequestErrWriteTimeout
	var un *gocql.RequestErrUnavailable
	var re gocql.RequestError
	switch {
	case errors.Is(err, gocql.ErrTimeoutNoResponse), errors.As(err, &rt), errors.As(err, &wt):
		return ErrKindTimeout
	case errors.As(err, &un), errors.Is(err, gocql.ErrNoConnections), errors.Is(err, gocql.ErrUnavailable):
		return ErrKindUnavailable
	case errors.As(err, &re) && re.Code() == gocql.ErrCodeOverloaded:
		return ErrKindOverloaded
	case errors.Is(err, gocql.ErrConnectionClosed):
		return ErrKindRead
	}
	return ""
}

// HostsList splits a comma list of contact points.
func HostsList(s string) []string {
	var hosts []string
	for _, h := range strings.Split(s, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hosts = append(hosts, h)
		}
	}
	return hosts
}
