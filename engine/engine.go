package engine

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gocql/gocql"
)

// Engine runs every Cassandra query of the service on its bounded pool.
type Engine struct {
	cfg     Config
	log     *slog.Logger
	session *gocql.Session
	stmts   statements
	pool    *pool
	batch   *batcher // nil when BatchMax == 1
	flights flights
	ring    atomic.Pointer[ring]
	metrics *engineMetrics

	connected atomic.Bool
	closing   atomic.Bool
	closeOnce sync.Once
	closeErr  error
	stop      chan struct{} // ends the background loops
	loops     sync.WaitGroup
}

// New connects to Cassandra, creates the keyspace and table when missing
// (unless cfg.SkipSchema), and starts the pool and batcher.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("engine config: %w", err)
	}
	e := &Engine{cfg: cfg, log: cfg.Logger, stop: make(chan struct{})}
	e.stmts = newStatements(cfg.Keyspace)
	e.flights.m = make(map[UUID]*task)

	c := cfg
	cluster, err := e.clusterConfig()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	e.session, err = cluster.CreateSession()
	if err != nil {
		// gocql flattens the cause into text; failing to connect is, by
		// definition, Cassandra being unavailable to us.
		return nil, &Error{Kind: ErrUnavailable, Op: "connect to " + strings.Join(c.Hosts, ","), Cause: err}
	}
	e.log.Info("connected to cassandra", "hosts", cfg.Hosts, "took", time.Since(start).Round(time.Millisecond))
	if !cfg.SkipSchema {
		if err := e.ensureSchema(ctx); err != nil {
			e.session.Close()
			return nil, err
		}
	}
	if err := e.refreshRing(); err != nil {
		e.session.Close()
		return nil, fmt.Errorf("engine: token ring: %w", err)
	}
	e.pool, err = newPool(cfg.PoolSize, cfg.QueueDepth, e.run)
	if err != nil {
		e.session.Close()
		return nil, err
	}
	if cfg.BatchMax > 1 {
		e.batch = newBatcher(e, cfg.BatchMax, cfg.BatchInflight, cfg.BatchLinger, cfg.QueueDepth)
	}
	e.metrics = newEngineMetrics(e)
	e.connected.Store(true)
	e.loops.Add(2)
	go e.healthLoop()
	go e.ringLoop()
	return e, nil
}

func (e *Engine) clusterConfig() (*gocql.ClusterConfig, error) {
	c := e.cfg
	cluster := gocql.NewCluster(c.Hosts...)
	cluster.Port = c.Port
	cluster.ProtoVersion = 4
	cluster.Consistency, _ = consistencyToGocql(c.Consistency)
	cluster.Timeout = c.QueryTimeout
	cluster.WriteTimeout = c.QueryTimeout
	cluster.ConnectTimeout = c.ConnectTimeout
	cluster.NumConns = c.NumConns
	cluster.ReconnectInterval = c.ReconnectInterval
	cluster.ReconnectionPolicy = &gocql.ConstantReconnectionPolicy{MaxRetries: 1 << 30, Interval: c.ReconnectInterval}
	// gocql retries only statements marked idempotent; we mark exactly those
	// whose repetition cannot change the outcome.
	cluster.RetryPolicy = &gocql.SimpleRetryPolicy{NumRetries: c.Retries}
	cluster.DefaultIdempotence = false
	cluster.Logger = slogLogger{e.log}
	var inner gocql.HostSelectionPolicy
	if c.Datacenter != "" {
		inner = gocql.DCAwareRoundRobinPolicy(c.Datacenter)
	} else {
		inner = gocql.RoundRobinHostPolicy()
	}
	cluster.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(inner, gocql.ShuffleReplicas())
	if c.Username != "" {
		cluster.Authenticator = gocql.PasswordAuthenticator{Username: c.Username, Password: c.Password}
	}
	if c.TLS.Enabled {
		tc, err := tlsConfig(c.TLS)
		if err != nil {
			return nil, err
		}
		cluster.SslOpts = &gocql.SslOptions{Config: tc, EnableHostVerification: c.TLS.VerifyHost}
	}
	return cluster, nil
}

func tlsConfig(t TLSConfig) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: !t.VerifyHost} //nolint:gosec // host verification is the operator's choice
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("engine: TLS CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("engine: TLS CA %s holds no PEM certificate", t.CAFile)
		}
		tc.RootCAs = pool
		if !t.VerifyHost {
			// Still check the chain against the CA; only the name is not checked.
			tc.InsecureSkipVerify = true
			tc.VerifyPeerCertificate = verifyChainOnly(pool)
		}
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("engine: TLS client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

func verifyChainOnly(roots *x509.CertPool) func([][]byte, [][]*x509.Certificate) error {
	return func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return errors.New("no server certificate")
		}
		certs := make([]*x509.Certificate, len(raw))
		for i, r := range raw {
			c, err := x509.ParseCertificate(r)
			if err != nil {
				return err
			}
			certs[i] = c
		}
		inter := x509.NewCertPool()
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
		_, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
		return err
	}
}

// run is the pool's worker function: it executes one task.
func (e *Engine) run(t *task) {
	defer func() {
		if r := recover(); r != nil {
			e.log.Error("engine task panicked", "kind", t.kind, "panic", r)
			e.fail(t, &Error{Kind: errInternal, Op: "run", Cause: fmt.Errorf("panic: %v", r)})
		}
	}()
	// A batch checks each entry's deadline itself and must always report back.
	if t.kind != kindBatch && t.expired(time.Now()) {
		e.metrics.expired.Inc()
		e.fail(t, &Error{Kind: ErrTimeout, Op: "queue", Cause: errors.New("deadline passed while queued")})
		return
	}
	switch t.kind {
	case kindGet:
		e.runGet(t)
	case kindWrite:
		t.finish(e.runWrite(t))
	case kindBatch:
		e.runBatch(t)
	case kindUpdate:
		t.finish(e.runUpdate(t))
	case kindPage:
		t.finish(e.runPage(t))
	case kindProbe:
		t.finish(e.runProbe(t))
	default:
		e.fail(t, &Error{Kind: errInternal, Op: "run", Cause: fmt.Errorf("unknown task kind %d", t.kind)})
	}
}

// fail completes t and everything riding on it with err.
func (e *Engine) fail(t *task, err error) {
	if t.kind == kindGet {
		e.land(t) // no reader may attach to a flight that will never land
	}
	failAll(t, err)
}

// submit admits t to the engine: refused after Close, and at once when the
// pool is full. On error the caller still owns t and must release it twice.
func (e *Engine) submit(t *task) error {
	if e.closing.Load() {
		return &Error{Kind: ErrClosed, Op: "submit"}
	}
	if err := t.ctx.Err(); err != nil {
		return classify("submit", err) // no queue slot for work nobody waits for
	}
	if err := e.pool.submit(t); err != nil {
		e.metrics.rejected(err)
		return &Error{Kind: Kind(err), Op: "submit"}
	}
	return nil
}

// do submits t and waits for it; the caller keeps its hold on t.
func (e *Engine) do(t *task) error {
	if err := e.submit(t); err != nil {
		t.release() // the executor's hold: no executor will run it
		return err
	}
	return t.wait()
}

// healthLoop probes Cassandra every second, off the pool so that overload
// never looks like an outage.
func (e *Engine) healthLoop() {
	defer e.loops.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		var v string
		err := e.session.Query(e.stmts.ping).WithContext(ctx).Consistency(gocql.One).Idempotent(true).Scan(&v)
		cancel()
		was := e.connected.Swap(err == nil)
		if was != (err == nil) {
			if err != nil {
				e.log.Warn("cassandra unreachable", "err", err)
			} else {
				e.log.Info("cassandra reachable again")
			}
		}
	}
}

// ringLoop refreshes the token ring so batches follow topology changes.
func (e *Engine) ringLoop() {
	defer e.loops.Done()
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-tick.C:
			if err := e.refreshRing(); err != nil && e.connected.Load() {
				e.log.Warn("token ring refresh failed; keeping the previous ring", "err", err)
			}
		}
	}
}

func (e *Engine) refreshRing() error {
	r, err := loadRing(e.session, e.cfg.Keyspace)
	if err != nil {
		return err
	}
	old := e.ring.Swap(r)
	if old == nil || old.String() != r.String() {
		e.log.Info("token ring loaded", "ring", r.String())
	}
	return nil
}

// Close refuses new work with ErrClosed, flushes every pending batch, lets
// in-flight queries finish, and closes the session. Nothing accepted is
// dropped unless ctx ends first.
func (e *Engine) Close(ctx context.Context) error {
	e.closeOnce.Do(func() {
		e.closing.Store(true)
		var errs []error
		if e.batch != nil {
			errs = append(errs, e.batch.close(ctx))
		}
		errs = append(errs, e.pool.close(ctx))
		close(e.stop)
		loopsDone := make(chan struct{})
		go func() { e.loops.Wait(); close(loopsDone) }()
		select { // a ring refresh stuck on a hung node must not hold shutdown
		case <-loopsDone:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("engine: background loops still running: %w", ctx.Err()))
		}
		e.session.Close()
		e.connected.Store(false)
		e.closeErr = errors.Join(errs...)
	})
	return e.closeErr
}

// WriteMetrics writes the engine's metrics in Prometheus text format.
func (e *Engine) WriteMetrics(w io.Writer) { e.metrics.set.WritePrometheus(w) }

// Stats is a point-in-time view of the pool, for tests and logs.
type Stats struct {
	Running, Waiting, Capacity int
}

// Stats returns the pool's current occupancy.
func (e *Engine) Stats() Stats {
	return Stats{Running: e.pool.running(), Waiting: e.pool.waiting(), Capacity: e.pool.capacity()}
}

type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Print(v ...any) { s.l.Debug(fmt.Sprint(v...), "component", "gocql") }
func (s slogLogger) Printf(format string, v ...any) {
	s.l.Debug(fmt.Sprintf(format, v...), "component", "gocql")
}
func (s slogLogger) Println(v ...any) { s.l.Debug(fmt.Sprint(v...), "component", "gocql") }

// BatchRouting reports how many batch attempts went to a replica of their
// entries, how many to another node, and how many batches mixed replica
// sets (a test hook for multi-node runs; also in /metrics).
func (e *Engine) BatchRouting() (toReplica, toOther, mixed uint64) {
	return e.metrics.batchToReplica.Get(), e.metrics.batchToOther.Get(), e.metrics.batchMixed.Get()
}

// Replicas returns the addresses of the nodes that hold id's row, by the
// engine's own token ring (nil before the ring is loaded).
func (e *Engine) Replicas(id UUID) []string {
	r := e.ring.Load()
	if r == nil {
		return nil
	}
	return append([]string(nil), r.replicas(r.replicaSet(murmur3Token(id[:])))...)
}

// Token returns the partition token Cassandra's Murmur3Partitioner gives id.
func Token(id UUID) int64 { return murmur3Token(id[:]) }
