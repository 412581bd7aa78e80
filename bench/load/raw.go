package load

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/gocql/gocql"
)

// RawConfig describes a run straight against Cassandra: the reads and
// writes the API makes, with no HTTP in between. Its throughput at a given
// concurrency is the limit the API is measured against, and its client CPU
// per query (Result.Client) the driver's own cost.
type RawConfig struct {
	Hosts             []string // default 127.0.0.1
	Port              int      // default 9042
	Keyspace          string   // default loadgen_raw; created if missing
	ReplicationFactor int      // for a keyspace it creates; default 1
	Consistency       string   // default LOCAL_QUORUM, as the API uses
	NumConns          int      // connections per host; default 2, as the engine
	Username          string
	Password          string

	// Load's Scenario is get, create or mix (of get and create); default
	// get. Warmup is the rows inserted before a get or mix run.
	Load
}

func (cfg RawConfig) withDefaults() (RawConfig, error) {
	if len(cfg.Hosts) == 0 {
		cfg.Hosts = []string{"127.0.0.1"}
	}
	Default(&cfg.Port, 9042)
	Default(&cfg.Keyspace, "loadgen_raw")
	Default(&cfg.ReplicationFactor, 1)
	Default(&cfg.Consistency, "LOCAL_QUORUM")
	Default(&cfg.NumConns, 2)
	Default(&cfg.Scenario, Get)
	_, cerr := gocql.ParseConsistencyWrapper(cfg.Consistency)
	switch {
	case !ValidKeyspace(cfg.Keyspace):
		return cfg, FieldError("Keyspace", "%q is not a keyspace name (lowercase letter, then up to 47 of a-z, 0-9, _)", cfg.Keyspace)
	case cerr != nil:
		return cfg, FieldError("Consistency", "%q is not a consistency level", cfg.Consistency)
	case cfg.NumConns < 0:
		return cfg, FieldError("NumConns", "must be positive")
	case cfg.Scenario != Get && cfg.Scenario != Create && cfg.Scenario != Mixed:
		return cfg, FieldError("Scenario", "raw mode runs get, create or mixed, not %q", cfg.Scenario)
	}
	var err error
	if cfg.Load, err = cfg.Load.withDefaults(); err != nil {
		return cfg, err
	}
	for _, e := range cfg.Mix {
		if e.Op != Get && e.Op != Create && e.Weight > 0 {
			return cfg, FieldError("Mix", "raw mode mixes get and create only, not %s", e.Op)
		}
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
	ops         picker
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
		seed:        cmp.Or(cfg.Seed, rand.Uint64()),
	}
	rr.ops = newPicker(cfg.Scenario, cfg.Mix)
	if err := rr.createSchema(ctx); err != nil {
		return nil, err
	}
	var setup int64
	if rr.ops.has(Get) {
		if setup, err = rr.warm(ctx); err != nil {
			return nil, err
		}
	}

	res, err := cfg.measured(ctx, rr.ops.names(), func(i int) (worker, error) {
		return &rawWorker{run: rr, r: rand.New(rand.NewPCG(rr.seed, uint64(i)+1))}, nil
	})
	if err != nil {
		return nil, err
	}
	res.Mode = "raw"
	res.Target = "cql://" + net.JoinHostPort(cfg.Hosts[0], strconv.Itoa(cfg.Port)) + "/" + cfg.Keyspace
	res.KeepAlive = true
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
	err := fanOut(ctx, n, min(32, rr.cfg.Concurrency), rr.seed, 1<<32, func(i int, r *rand.Rand) error {
		id, err := gocql.RandomUUID()
		if err == nil {
			err = rr.insert(ctx, id, r)
		}
		rr.ids[i] = id
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("warm-up insert: %w", err)
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
	i := w.run.ops.pick(w.r)
	w.op = w.run.ops.ops[i]
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
