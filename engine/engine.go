package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
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
	// direct, when on, is a second set of connections that writes each frame
	// at once; queries use it while few run (sessions), so an idle
	// service answers without the coalescing wait of session's.
	direct    *gocql.Session
	inflight  atomic.Int64 // tasks executing on workers
	stmts     statements
	pool      *pool
	writes    *lines // batching: nil when BatchMax == 1
	reads     *lines // read grouping: nil when ReadGroupMax == 1
	flights   flights
	updates   updateQueues
	stamps    *stamper
	walks     chan struct{} // a slot per table walk allowed at once (pages.go)
	ring      atomic.Pointer[ring]
	metrics   *engineMetrics
	executeFn func(*task) *task // what a worker does with a task: execute, or a unit test's stand-in

	connected atomic.Bool
	closing   atomic.Bool
	admitting atomic.Int64 // admitWrites hand-overs under way; Close waits for them
	closeOnce sync.Once
	closeErr  error
	stop      chan struct{} // ends the background loops
	loops     sync.WaitGroup
}

// New connects to Cassandra, creates the keyspace and table when missing
// (unless cfg.SkipSchema), and starts the pool.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("engine config: %w", err)
	}
	e := &Engine{cfg: cfg, log: cfg.Logger, stop: make(chan struct{})}
	e.stmts = newStatements(cfg.Keyspace)
	e.flights.m = make(map[flightKey]flight)
	e.updates.m = make(map[UUID]updateQueue)
	e.walks = make(chan struct{}, walkLimit(cfg.PoolSize))
	e.stamps = newStamper()

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
	if cfg.DirectBelow > 0 && cfg.WriteCoalesceWait > 0 {
		if err := e.connectDirect(); err != nil {
			e.closeSessions()
			return nil, &Error{Kind: ErrUnavailable, Op: "connect to " + strings.Join(c.Hosts, ","), Cause: err}
		}
	}
	if !cfg.SkipSchema {
		if err := e.ensureSchema(ctx); err != nil {
			e.closeSessions()
			return nil, err
		}
	}
	if err := e.refreshRing(); err != nil {
		e.closeSessions()
		return nil, fmt.Errorf("engine: token ring: %w", err)
	}
	if err := e.claimSlot(ctx); err != nil {
		e.closeSessions()
		return nil, fmt.Errorf("engine: write timestamp slot (table %s.stamp_slots): %w", cfg.Keyspace, err)
	}
	e.executeFn = e.execute
	e.metrics = newEngineMetrics(e)
	e.pool, err = newPool(cfg.PoolSize, cfg.QueueDepth, e.run, e.fail)
	if err != nil {
		e.closeSessions()
		return nil, err
	}
	if cfg.ReadGroupMax > 1 {
		e.reads = e.newLines(kindReadGroup, cfg.ReadGroupMax, 0, cfg.ReadGroupInflight, 0)
		e.reads.tuner = newReadTuner(cfg.ReadGroupMax, cfg.ReadGroupInflight, cfg.PoolSize, cfg.ReadGroupFixed, time.Now)
	}
	if cfg.BatchMax > 1 {
		e.writes = e.newLines(kindBatch, cfg.BatchMax, cfg.BatchMaxBytes, cfg.BatchInflight, cfg.BatchLinger)
		e.writes.tuner = newBatchTuner(cfg.BatchMax, cfg.BatchInflight, cfg.PoolSize, cfg.BatchFixed, time.Now)
	}
	e.connected.Store(true)
	e.loops.Add(3)
	go e.healthLoop()
	go e.ringLoop()
	go e.slotLoop()
	return e, nil
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

// Close refuses new work with ErrClosed, sends every lingering batch, lets
// queued and in-flight queries finish, and closes the session. Nothing
// accepted is dropped unless ctx ends first.
func (e *Engine) Close(ctx context.Context) error {
	e.closeOnce.Do(func() {
		e.closing.Store(true)
		var errs []error
		for e.admitting.Load() > 0 && ctx.Err() == nil { // a batch create's hand-over, all or none
			time.Sleep(50 * time.Microsecond)
		}
		if e.writes != nil {
			e.writes.flush()
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
		rctx, cancel := context.WithTimeout(context.Background(), time.Second)
		e.releaseSlot(rctx) // best effort: the lease lapses anyway
		cancel()
		e.closeSessions()
		e.connected.Store(false)
		e.closeErr = errors.Join(errs...)
	})
	return e.closeErr
}

// WriteMetrics writes the engine's metrics in Prometheus text format.
func (e *Engine) WriteMetrics(w io.Writer) { e.metrics.set.WritePrometheus(w) }

// batchReplicaSet is the lines' grouping of a token: its replica set by
// the current ring, or 0 (one group) before the ring is loaded or when
// BatchIgnoreReplicas asks for plain multi-partition batches.
func (e *Engine) batchReplicaSet(token int64) int {
	if r := e.ring.Load(); r != nil && !e.cfg.BatchIgnoreReplicas {
		return r.replicaSet(token)
	}
	return 0
}

// consistency is opt's level, or the configured default.
func (e *Engine) consistency(opt Options) gocql.Consistency {
	if c, ok := consistencyToGocql(opt.Consistency); ok {
		return c
	}
	c, _ := consistencyToGocql(e.cfg.Consistency)
	return c
}

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
