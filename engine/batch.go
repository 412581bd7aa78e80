package engine

import (
	"context"
	"time"

	"github.com/gocql/gocql"
)

// Batches: the unit of a write line (lines.go) that holds several writes
// runs as one UNLOGGED batch, and its observer proves the routing.

// runBatch executes the entries of a batch, a unit of a write line
// (lines.go), as one UNLOGGED batch routed by its first entry's key (every
// entry shares that entry's replicas), and returns the line's next unit.
func (e *Engine) runBatch(t *task) *task {
	key := t.line
	// t.batch keeps the live entries until they are finished, so that a
	// panic (recovered in run) still completes every caller and the guard's
	// fail starts the line's next unit (leaveLine).
	dropExpired(&t.batch, time.Now())
	live := t.batch
	if len(live) == 0 {
		t.finish(nil)
		return e.writes.next(key, 0)
	}
	var err error
	start := time.Now()
	if len(live) == 1 {
		err = e.runWrite(live[0])
	} else {
		err = e.onSessions(func(s *gocql.Session) error { return s.ExecuteBatch(e.newBatch(s, t, live)) })
		err = classifyWrite("batch", err, t.sent)
		e.metrics.observe("batch", start, err)
	}
	rows := acked(len(live), err)
	e.metrics.batchSize.Update(float64(len(live)))
	finishAll(&t.batch, nil, err)
	t.finish(err)
	return e.writes.next(key, rows)
}

// acked is how many of a unit's n writes were acknowledged: all or none.
func acked(n int, err error) int {
	if err != nil {
		return 0
	}
	return n
}

// newBatch builds, on session s, the UNLOGGED batch of the live entries of
// batch task t.
func (e *Engine) newBatch(s *gocql.Session, t *task, live []*task) *gocql.Batch {
	b := s.NewBatch(gocql.UnloggedBatch).WithContext(t.ctx)
	b.SetConsistency(t.cl)
	o := routingObserver{t: t}
	if r := e.ring.Load(); r != nil {
		o = e.routing(r, t, live)
	}
	b.Observer(o)
	b.Entries = make([]gocql.BatchEntry, 0, len(live))
	for _, w := range live {
		stmt, args := e.bindWrite(w)
		// Idempotent entries make the batch retryable (see runWrite).
		b.Entries = append(b.Entries, gocql.BatchEntry{Stmt: stmt, Args: args, Idempotent: true})
	}
	return b
}

// routingObserver records, for each batch attempt, which node coordinated
// it, whether that node is a replica of the batch's entries, and whether the
// entries really shared one replica set: the proof that token-aware grouping
// and the driver's routing agree.
type routingObserver struct {
	t        *task // the batch: notes an attempt whose outcome is unknown
	m        *engineMetrics
	replicas []string
	mixed    bool
}

// routing builds the observer of a batch of live entries under ring r.
func (e *Engine) routing(r *ring, t *task, live []*task) routingObserver {
	set := r.replicaSet(live[0].token)
	o := routingObserver{t: t, m: e.metrics, replicas: r.replicas(set)}
	for _, w := range live[1:] {
		if r.replicaSet(w.token) != set {
			o.mixed = true
		}
	}
	return o
}

func (o routingObserver) ObserveBatch(_ context.Context, b gocql.ObservedBatch) {
	o.t.observeAttempt(b.Err)
	if o.m == nil {
		return
	}
	if o.mixed {
		o.m.batchMixed.Inc()
	}
	if b.Host == nil {
		return
	}
	addr := b.Host.ConnectAddress().String()
	o.m.set.GetOrCreateCounter(`userapi_engine_batch_coordinator_host_total{host="` + addr + `"}`).Inc()
	for _, r := range o.replicas {
		if r == addr {
			o.m.batchToReplica.Inc()
			return
		}
	}
	o.m.batchToOther.Inc()
}
