package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/gocql/gocql"
)

// Execution: everything here runs on a pool worker. run is the pool's
// worker function; runOne holds the engine's one panic guard; each run*
// method executes one kind of task and ends by completing it (finish or fail
// is its last use of the task, see task.go).

// run executes t, then every task that was waiting in line behind it (the
// next query of a hot id, the next update of an id): the worker that
// completes a task runs its successor, so a waiting task never holds a worker.
func (e *Engine) run(t *task) {
	e.inflight.Add(1)
	defer e.inflight.Add(-1)
	for t != nil {
		t = e.runOne(t)
	}
}

// runOne executes one task and returns the task to run next, if any. A panic
// completes the task, and everything riding on it or waiting behind it, with
// an internal error instead of killing the process or leaving callers waiting.
func (e *Engine) runOne(t *task) (next *task) {
	defer func() {
		if r := recover(); r != nil {
			e.log.Error("engine task panicked", "kind", t.kind, "panic", r)
			e.fail(t, &Error{Kind: errInternal, Op: "run", Cause: fmt.Errorf("panic: %v", r)})
			next = nil
		}
	}()
	// Reads, updates and batches check deadlines themselves: other callers
	// may depend on them running.
	if !t.checksDeadline() && t.expired(time.Now()) {
		e.expire(t)
		return nil
	}
	return e.exec(t)
}

var errExpired = &Error{Kind: ErrTimeout, Op: "queue", Cause: errors.New("deadline passed while queued")}

// expire fails a task whose deadline passed before it ran.
func (e *Engine) expire(t *task) {
	e.metrics.expired.Inc()
	e.fail(t, errExpired)
}

// execute is what a worker does with each kind of task (e.exec, which unit
// tests replace with a query-free stand-in). It returns the task that waited
// in line behind t, for the worker to run next.
func (e *Engine) execute(t *task) *task {
	switch t.kind {
	case kindGet:
		return e.runGet(t)
	case kindReadGroup:
		return e.runReadGroup(t)
	case kindWrite:
		return e.runLoneWrite(t)
	case kindBatch:
		return e.runBatch(t)
	case kindUpdate:
		return e.runUpdates(t)
	case kindPage:
		t.finish(e.runPage(t))
	case kindProbe:
		t.finish(e.runProbe(t))
	default:
		e.fail(t, &Error{Kind: errInternal, Op: "run", Cause: fmt.Errorf("unknown task kind %d", t.kind)})
	}
	return nil
}

// onSessions runs f on the connections sessions picks and, when the driver
// could not send f's query there (unsent), once more on the other set. f
// must not keep s. f is only called, never stored, so a func literal passed
// here stays on its caller's stack: the fallback costs no allocation per
// query (TestOnSessionsAllocatesNothing).
func (e *Engine) onSessions(f func(s *gocql.Session) error) error {
	s, other := e.sessions()
	err := f(s)
	if unsent(err, other) {
		err = f(other)
	}
	return err
}

// unpaged turns paging off for queries whose rows are bounded by their ids
// (one partition, one row each): with gocql's default page size (5000)
// Cassandra runs even these through its query pager. Groups of 16 ids at 4
// queries in flight straight to the dev node, alternating (3 rounds):
// 53-75K ids/s at 21-31 us of Cassandra CPU per id unpaged against 47-54K at
// 30-35 us paged.
const unpaged = 0

// readRow reads the row of t.id into t.user under ctx.
func (e *Engine) readRow(ctx context.Context, t *task) error {
	start := time.Now()
	var id gocql.UUID
	u := &t.user
	err := e.onSessions(func(s *gocql.Session) error {
		q := s.Query(e.stmts.get, gocql.UUID(t.id)).WithContext(ctx).Consistency(t.cl).Idempotent(true).
			PageSize(unpaged)
		defer q.Release() // back to gocql's pool: one allocation less per query
		return q.Scan(&id, &u.Name, &u.Email, &u.Age, &u.CreatedAt, &u.UpdatedAt)
	})
	e.metrics.observe("get", start, err)
	u.ID = UUID(id)
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return err
}

// runGet sends one query for a read and the readers that joined it
// (reads.go), under the latest of their deadlines, and returns what runs
// next: the next query of the same id, which readers that arrived meanwhile
// joined, or, when t ran in a read line (readgroup.go), the line's next
// query (that next query of the id waits in the line).
func (e *Engine) runGet(t *task) *task {
	now := time.Now()
	dropExpired(&t.followers, now)
	var err error
	if len(t.followers) == 0 && t.expired(now) {
		e.metrics.expired.Inc()
		err = errExpired
	} else {
		ctx, cancel := groupContext(t)
		err = classify("get", e.readRow(ctx, t))
		if cancel != nil {
			cancel()
		}
	}
	inLine, key := t.inLine, t.line
	next := e.land(t)
	if inLine && next != nil {
		e.reads.wait(key, next)
		next = nil
	}
	finishAll(&t.followers, &t.user, err)
	t.finish(err)
	if inLine {
		return e.reads.next(key, 0)
	}
	return next
}

// groupContext is the context of a query for several callers: reads (one
// leader, or a read group's, readgroup.go) and their followers, or the
// writes of a batch (lines.take): a lone leader's own;
// otherwise one that ends at the latest deadline among them and ignores
// any one caller giving up, so that no reader inherits an earlier deadline
// than its own. cancel is nil when there is nothing to cancel.
func groupContext(reads ...*task) (ctx context.Context, cancel context.CancelFunc) {
	if len(reads) == 1 && len(reads[0].followers) == 0 {
		return reads[0].ctx, nil
	}
	var latest time.Time
	bounded := true
	later := func(t *task) {
		d, ok := t.ctx.Deadline()
		bounded = bounded && ok
		if d.After(latest) {
			latest = d
		}
	}
	for _, t := range reads {
		later(t)
		for _, f := range t.followers {
			later(f)
		}
	}
	detached := context.WithoutCancel(reads[0].ctx)
	if !bounded {
		return detached, nil
	}
	return context.WithDeadline(detached, latest)
}

// bindWrite returns the statement and values of a write task.
func (e *Engine) bindWrite(t *task) (string, []any) {
	id := gocql.UUID(t.id)
	if t.op == opDelete {
		return e.stmts.del, []any{tombstoneTimestamp, id}
	}
	u := &t.user
	return e.stmts.insert, []any{id, u.Name, u.Email, u.Age, u.CreatedAt, u.UpdatedAt, t.stamp}
}

// runLoneWrite runs a write that is a unit of its own and returns its
// line's next unit (nil outside lines: batching off).
func (e *Engine) runLoneWrite(t *task) *task {
	inLine, key := t.inLine, t.line
	err := e.runWrite(t)
	if !inLine {
		t.finish(err)
		return nil
	}
	e.metrics.batchSize.Update(1)
	t.finish(err)
	return e.writes.next(key, acked(1, err))
}

func (e *Engine) runWrite(t *task) error {
	stmt, args := e.bindWrite(t)
	start := time.Now()
	// Inserts carry their id, values and timestamp from the first attempt,
	// and deletes a fixed timestamp: repeating either cannot change the outcome.
	err := e.onSessions(func(s *gocql.Session) error {
		q := s.Query(stmt, args...).WithContext(t.ctx).Consistency(t.cl).Idempotent(true).Observer(t)
		defer q.Release()
		return q.Exec()
	})
	e.metrics.observe(statementName(t.op), start, err)
	return classifyWrite("write", err, t.sent)
}

func statementName(op writeOp) string {
	if op == opDelete {
		return "delete"
	}
	return "insert"
}

// runBatch executes the entries of a batch, a unit of a write line
// (lines.go), as one UNLOGGED batch routed by its first entry's key (every
// entry shares that entry's replicas), and returns the line's next unit.
func (e *Engine) runBatch(t *task) *task {
	key := t.line
	// t.batch keeps the live entries until they are finished, so that a
	// panic (recovered in run) still completes every caller and the guard's
	// fail hands the line on.
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

// dropExpired finishes the entries of *list whose caller's deadline passed
// with ErrTimeout (they are never written), taking each off the list first.
func dropExpired(list *[]*task, now time.Time) {
	for i := 0; i < len(*list); {
		l := *list
		w := l[i]
		if !w.expired(now) {
			i++
			continue
		}
		l[i] = l[len(l)-1]
		l[len(l)-1] = nil
		*list = l[:len(l)-1]
		w.finish(&Error{Kind: ErrTimeout, Op: "batch", Cause: errors.New("deadline passed while batched")})
	}
}

// runUpdates runs an update once no other update of its id runs in this
// process, and returns the one queued behind it. An update that arrives
// while another of its id runs waits in that id's line, off the worker.
func (e *Engine) runUpdates(t *task) *task {
	if !e.updates.enter(t) {
		return nil // the worker of the update ahead runs it
	}
	var err error
	if t.expired(time.Now()) {
		e.metrics.expired.Inc()
		err = errExpired
	} else {
		err = e.runUpdate(t)
	}
	next := e.updates.leave(t)
	t.finish(err)
	return next
}

// runUpdate reads the user, merges the patch and writes only the patched
// columns and updated_at, all at one write timestamp above every timestamp
// the row holds (stamp.go). A missing user is ErrNotFound and nothing is
// written; a delete racing the write shadows it (see tombstoneTimestamp).
func (e *Engine) runUpdate(t *task) error {
	if err := e.readRow(t.ctx, t); err != nil {
		return classify("update read", err)
	}
	u := &t.user
	id := gocql.UUID(t.id)
	ts, err := e.stamps.update(u.UpdatedAt)
	if err != nil {
		return err
	}
	u.UpdatedAt = stampTime(ts)
	mask := 0
	args := make([]any, 1, 6)
	args[0] = ts
	if p := t.patch.Name; p != nil {
		mask |= 1
		u.Name = *p
		args = append(args, *p)
	}
	if p := t.patch.Email; p != nil {
		mask |= 2
		u.Email = *p
		args = append(args, *p)
	}
	if p := t.patch.Age; p != nil {
		mask |= 4
		u.Age = *p
		args = append(args, *p)
	}
	// A retried attempt writes exactly what the first did, timestamp included.
	args = append(args, u.UpdatedAt, id)
	start := time.Now()
	err = e.onSessions(func(s *gocql.Session) error {
		q := s.Query(e.stmts.update[mask], args...).WithContext(t.ctx).Consistency(t.cl).Idempotent(true).Observer(t)
		defer q.Release()
		return q.Exec()
	})
	e.metrics.observe("update", start, err)
	return classifyWrite("update write", err, t.sent)
}

func (e *Engine) runProbe(t *task) error {
	start := time.Now()
	err := e.onSessions(func(s *gocql.Session) error {
		iter := s.Query(e.stmts.probe).WithContext(t.ctx).Consistency(t.cl).Idempotent(true).Iter()
		var id gocql.UUID
		iter.Scan(&id)
		return iter.Close()
	})
	e.metrics.observe("probe", start, err)
	return classify("probe", err)
}

// runPage fetches one page of at most t.limit rows after the token in
// t.state (none: from the start) and sets t.state to where the next page
// starts, or empty when no row follows.
//
// Pages walk the ring by token instead of using Cassandra's paging state:
// each partition is one row, so "token(id) > last" resumes exactly, and
// asking for one row more than the page tells whether a next page exists;
// a walk never ends with an empty page.
func (e *Engine) runPage(t *task) error {
	start := time.Now()
	var more bool
	err := e.onSessions(func(s *gocql.Session) (err error) {
		more, err = e.readPage(s, t)
		return err
	})
	t.state = t.state[:0]
	if more {
		last := t.users[len(t.users)-1].ID
		t.state = binary.BigEndian.AppendUint64(t.state, uint64(murmur3Token(last[:])))
	}
	e.metrics.observe("list", start, err)
	return classify("list", err)
}

// readPage reads, on session s, the rows of t's page into t.users and
// reports whether a row follows them.
func (e *Engine) readPage(s *gocql.Session, t *task) (more bool, err error) {
	var q *gocql.Query
	if len(t.state) == 8 {
		after := int64(binary.BigEndian.Uint64(t.state))
		q = s.Query(e.stmts.listFrom, after, t.limit+1)
	} else {
		q = s.Query(e.stmts.list, t.limit+1)
	}
	iter := q.WithContext(t.ctx).Consistency(t.cl).Idempotent(true).PageSize(t.limit + 1).Iter()
	t.users = t.users[:0]
	var (
		id gocql.UUID
		u  User
	)
	for iter.Scan(&id, &u.Name, &u.Email, &u.Age, &u.CreatedAt, &u.UpdatedAt) {
		if len(t.users) == t.limit {
			more = true
			break
		}
		u.ID = UUID(id)
		u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
		t.users = append(t.users, u)
		u = User{}
	}
	return more, iter.Close()
}
