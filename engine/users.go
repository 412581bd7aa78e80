package engine

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"sync"
	"time"

	"github.com/gocql/gocql"
)

func consistencyToGocql(c Consistency) (gocql.Consistency, bool) {
	switch c {
	case One, Quorum, All, LocalQuorum, EachQuorum, LocalOne:
		return gocql.Consistency(c), true
	}
	return 0, false
}

func (e *Engine) consistency(opt Options) gocql.Consistency {
	if c, ok := consistencyToGocql(opt.Consistency); ok {
		return c
	}
	c, _ := consistencyToGocql(e.cfg.Consistency)
	return c
}

// newID returns a random (version 4) UUID.
func newID() UUID {
	var u UUID
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

// nowMillis is the current time at Cassandra's timestamp precision.
func nowMillis() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// --- writes -----------------------------------------------------------------

func (e *Engine) createUser(ctx context.Context, in NewUser, opt Options) (User, error) {
	now := nowMillis()
	u := User{ID: newID(), Name: in.Name, Email: in.Email, Age: in.Age, CreatedAt: now, UpdatedAt: now}
	t := acquireTask(ctx, kindWrite, e.consistency(opt))
	defer t.release()
	t.op, t.id, t.user = opInsert, u.ID, u
	if err := e.write(t); err != nil {
		return User{}, err
	}
	return u, nil
}

func (e *Engine) createUsers(ctx context.Context, in []NewUser, opt Options) ([]User, error) {
	if len(in) == 0 {
		return nil, nil
	}
	// All or nothing at admission: a batch refused for overload must not
	// have written part of itself first.
	if err := e.reserveWrites(ctx, len(in)); err != nil {
		return nil, err
	}
	now := nowMillis()
	out := make([]User, len(in))
	tasks := make([]*task, 0, len(in))
	cl := e.consistency(opt)
	var firstErr error
	for i, nu := range in {
		out[i] = User{ID: newID(), Name: nu.Name, Email: nu.Email, Age: nu.Age, CreatedAt: now, UpdatedAt: now}
		t := acquireTask(ctx, kindWrite, cl)
		t.op, t.id, t.user = opInsert, out[i].ID, out[i]
		if err := e.enqueueReserved(t); err != nil { // only when closing
			t.release()
			t.release()
			e.unreserveWrites(len(in) - i - 1)
			firstErr = err
			break
		}
		tasks = append(tasks, t)
	}
	// Every enqueued write is awaited, even after a failure, so that no
	// caller-owned task is abandoned while the batcher still holds it.
	for _, t := range tasks {
		if err := t.wait(); err != nil && firstErr == nil {
			firstErr = err
		}
		t.release()
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}

// reserveWrites admits n writes to the batcher (or, with batching off, the
// pool) at once, or fails without admitting any.
func (e *Engine) reserveWrites(ctx context.Context, n int) error {
	if e.closing.Load() {
		return &Error{Kind: ErrClosed, Op: "submit"}
	}
	if err := ctx.Err(); err != nil {
		return classify("submit", err)
	}
	ok := false
	if e.batch != nil {
		ok = e.batch.reserve(n)
	} else {
		ok = e.pool.reserve(n)
	}
	if !ok {
		if e.batch == nil {
			e.metrics.rejectedOverload.Inc()
		}
		return &Error{Kind: ErrOverloaded, Op: "submit"}
	}
	return nil
}

func (e *Engine) unreserveWrites(n int) {
	if e.batch != nil {
		e.batch.unreserve(n)
	} else {
		e.pool.unreserve(n)
	}
}

// enqueueReserved hands over a write admitted by reserveWrites; on error its
// reservation is returned and the caller still owns t entirely.
func (e *Engine) enqueueReserved(t *task) error {
	t.token = murmur3Token(t.id[:])
	if e.batch != nil {
		return e.batch.addReserved(t)
	}
	if err := e.pool.submitReserved(t); err != nil {
		return &Error{Kind: Kind(err), Op: "submit"}
	}
	return nil
}

func (e *Engine) deleteUser(ctx context.Context, id UUID, opt Options) error {
	t := acquireTask(ctx, kindWrite, e.consistency(opt))
	defer t.release()
	t.op, t.id = opDelete, id
	return e.write(t)
}

// write sends one insert or delete and waits until it is durable per the
// consistency level.
func (e *Engine) write(t *task) error {
	if err := e.enqueueWrite(t); err != nil {
		t.release()
		return err
	}
	return t.wait()
}

// enqueueWrite routes a write to the batcher, or straight to the pool when
// batching is off. On error the executor's hold is still the caller's.
func (e *Engine) enqueueWrite(t *task) error {
	t.token = murmur3Token(t.id[:])
	if e.batch == nil {
		return e.submit(t)
	}
	if e.closing.Load() {
		return &Error{Kind: ErrClosed, Op: "submit"}
	}
	return e.batch.add(t)
}

// bindWrite returns the statement and values of a write task.
func (e *Engine) bindWrite(t *task) (string, []any) {
	id := gocql.UUID(t.id)
	if t.op == opDelete {
		return e.stmts.del, []any{tombstoneTimestamp, id}
	}
	u := &t.user
	return e.stmts.insert, []any{id, u.Name, u.Email, u.Age, u.CreatedAt, u.UpdatedAt}
}

func (e *Engine) runWrite(t *task) error {
	stmt, args := e.bindWrite(t)
	start := time.Now()
	// Inserts carry their id and values from the first attempt, and deletes
	// a fixed timestamp: repeating either cannot change the outcome.
	err := e.session.Query(stmt, args...).WithContext(t.ctx).Consistency(t.cl).Idempotent(true).Exec()
	e.metrics.observe(statementName(t.op), start, err)
	return classify("write", err)
}

func statementName(op writeOp) string {
	if op == opDelete {
		return "delete"
	}
	return "insert"
}

// runBatch executes the entries of a batch as one UNLOGGED batch routed by
// its first entry's key; every entry shares that entry's replicas.
func (e *Engine) runBatch(t *task) {
	defer e.batch.done(t.groupKey)
	// t.batch keeps the live entries until they are finished, so that a
	// panic (recovered in run) still completes every caller.
	live := liveEntries(t.batch, time.Now())
	t.batch = live
	if len(live) == 0 {
		t.finish(nil)
		return
	}
	var err error
	start := time.Now()
	if len(live) == 1 {
		err = e.runWrite(live[0])
	} else {
		b := e.session.NewBatch(gocql.UnloggedBatch).WithContext(t.ctx)
		b.SetConsistency(t.cl)
		if r := e.ring.Load(); r != nil {
			b.Observer(e.routing(r, live))
		}
		b.Entries = make([]gocql.BatchEntry, 0, len(live))
		for _, w := range live {
			stmt, args := e.bindWrite(w)
			// Idempotent entries make the batch retryable (see runWrite).
			b.Entries = append(b.Entries, gocql.BatchEntry{Stmt: stmt, Args: args, Idempotent: true})
		}
		err = classify("batch", e.session.ExecuteBatch(b))
		e.metrics.observe("batch", start, err)
	}
	e.metrics.batchSize.Update(float64(len(live)))
	t.batch = nil
	for _, w := range live {
		w.finish(err)
	}
	t.finish(err)
}

// routingObserver records, for each batch attempt, which node coordinated
// it, whether that node is a replica of the batch's entries, and whether the
// entries really shared one replica set: the proof that token-aware grouping
// and the driver's routing agree.
type routingObserver struct {
	m        *engineMetrics
	replicas []string
	mixed    bool
}

// routing builds the observer of a batch of live entries under ring r.
func (e *Engine) routing(r *ring, live []*task) routingObserver {
	set := r.replicaSet(live[0].token)
	o := routingObserver{m: e.metrics, replicas: r.replicas(set)}
	for _, w := range live[1:] {
		if r.replicaSet(w.token) != set {
			o.mixed = true
		}
	}
	return o
}

func (o routingObserver) ObserveBatch(_ context.Context, b gocql.ObservedBatch) {
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

// liveEntries completes entries whose caller's deadline already passed
// with ErrTimeout (they are never written) and returns the rest, in place.
func liveEntries(entries []*task, now time.Time) []*task {
	live := entries[:0]
	for _, w := range entries {
		if w.expired(now) {
			w.finish(&Error{Kind: ErrTimeout, Op: "batch", Cause: errors.New("deadline passed while batched")})
			continue
		}
		live = append(live, w)
	}
	return live
}

// --- reads ------------------------------------------------------------------

// flights coalesces concurrent reads of one id onto one query.
type flights struct {
	mu sync.Mutex
	m  map[UUID]*task
}

func (e *Engine) getUser(ctx context.Context, id UUID, opt Options) (User, error) {
	t := acquireTask(ctx, kindGet, e.consistency(opt))
	defer t.release()
	t.id = id
	e.flights.mu.Lock()
	if leader, ok := e.flights.m[id]; ok && leader.cl == t.cl && outlives(leader.ctx, ctx) {
		leader.followers = append(leader.followers, t)
		e.flights.mu.Unlock()
		e.metrics.coalesced.Inc()
		if err := t.wait(); err != nil {
			return User{}, err
		}
		return t.user, nil
	}
	e.flights.m[id] = t
	e.flights.mu.Unlock()
	if err := e.submit(t); err != nil {
		e.fail(t, err) // also completes any follower that attached meanwhile
		return User{}, err
	}
	if err := t.wait(); err != nil {
		return User{}, err
	}
	return t.user, nil
}

// outlives reports whether a query running under leader can serve a reader
// with ctx: a follower must never inherit an earlier deadline (or a caller
// that already gave up) and time out before its own budget is spent.
func outlives(leader, ctx context.Context) bool {
	if leader.Err() != nil {
		return false
	}
	ld, lok := leader.Deadline()
	d, ok := ctx.Deadline()
	switch {
	case !lok:
		return true
	case !ok:
		return false
	}
	return !ld.Before(d)
}

// land removes a leader from the flight table; after it returns no reader
// can attach, so its followers list is final.
func (e *Engine) land(t *task) {
	e.flights.mu.Lock()
	if e.flights.m[t.id] == t {
		delete(e.flights.m, t.id)
	}
	e.flights.mu.Unlock()
}

func (e *Engine) runGet(t *task) {
	start := time.Now()
	var id gocql.UUID
	u := &t.user
	err := e.session.Query(e.stmts.get, gocql.UUID(t.id)).WithContext(t.ctx).Consistency(t.cl).Idempotent(true).
		Scan(&id, &u.Name, &u.Email, &u.Age, &u.CreatedAt, &u.UpdatedAt)
	e.metrics.observe("get", start, err)
	err = classify("get", err)
	u.ID = UUID(id)
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	e.land(t)
	for _, f := range t.followers {
		f.user = *u
		f.finish(err)
	}
	t.followers = nil
	t.finish(err)
}

func (e *Engine) updateUser(ctx context.Context, id UUID, patch UserPatch, opt Options) (User, error) {
	t := acquireTask(ctx, kindUpdate, e.consistency(opt))
	defer t.release()
	t.id, t.patch = id, patch
	if err := e.do(t); err != nil {
		return User{}, err
	}
	return t.user, nil
}

// runUpdate reads the user, merges the patch and writes only the patched
// columns and updated_at. A missing user is ErrNotFound and nothing is
// written; a delete racing the write shadows it (see tombstoneTimestamp).
func (e *Engine) runUpdate(t *task) error {
	start := time.Now()
	var id gocql.UUID
	u := &t.user
	err := e.session.Query(e.stmts.get, gocql.UUID(t.id)).WithContext(t.ctx).Consistency(t.cl).Idempotent(true).
		Scan(&id, &u.Name, &u.Email, &u.Age, &u.CreatedAt, &u.UpdatedAt)
	e.metrics.observe("get", start, err)
	if err != nil {
		return classify("update read", err)
	}
	u.ID = UUID(id)
	u.CreatedAt = u.CreatedAt.UTC()
	// updated_at must grow even for two updates within one millisecond.
	next := nowMillis()
	if prev := u.UpdatedAt.UTC(); !next.After(prev) {
		next = prev.Add(time.Millisecond)
	}
	u.UpdatedAt = next
	mask := 0
	args := make([]any, 0, 5)
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
	// The write's timestamp is updated_at itself: a retried attempt writes
	// exactly what the first did, and a later update always wins.
	args = append(args, next, id)
	args = append([]any{next.UnixMicro()}, args...)
	start = time.Now()
	err = e.session.Query(e.stmts.update[mask], args...).WithContext(t.ctx).Consistency(t.cl).Idempotent(true).Exec()
	e.metrics.observe("update", start, err)
	return classify("update write", err)
}

func (e *Engine) listUsers(ctx context.Context, limit int, pageState string, opt Options) (Page, error) {
	if limit < 1 {
		return Page{}, &Error{Kind: ErrInvalid, Op: "list", Cause: errors.New("limit must be positive")}
	}
	state, err := decodePageState(pageState)
	if err != nil {
		return Page{}, err
	}
	t := acquireTask(ctx, kindPage, e.consistency(opt))
	defer t.release()
	t.limit, t.state = limit, state
	if err := e.do(t); err != nil {
		return Page{}, err
	}
	users := make([]User, len(t.users))
	copy(users, t.users)
	return Page{Users: users, Next: encodePageState(t.state)}, nil
}

func (e *Engine) streamUsers(ctx context.Context, fetchSize, limit int, opt Options, fn func([]User) error) (int, error) {
	if fetchSize < 1 {
		return 0, &Error{Kind: ErrInvalid, Op: "stream", Cause: errors.New("fetch size must be positive")}
	}
	cl := e.consistency(opt)
	var state []byte
	pages, delivered := 0, 0
	for {
		t := acquireTask(ctx, kindPage, cl)
		t.limit, t.state = fetchSize, state
		if err := e.do(t); err != nil {
			t.release()
			return pages, err
		}
		pages++
		rows := t.users
		if limit > 0 && delivered+len(rows) > limit {
			rows = rows[:limit-delivered]
		}
		delivered += len(rows)
		var err error
		if len(rows) > 0 {
			err = fn(rows)
		}
		state = append(state[:0], t.state...)
		t.release()
		if err != nil {
			return pages, err
		}
		if len(state) == 0 || (limit > 0 && delivered >= limit) {
			return pages, nil
		}
	}
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
	var q *gocql.Query
	if len(t.state) == 8 {
		after := int64(binary.BigEndian.Uint64(t.state))
		q = e.session.Query(e.stmts.listFrom, after, t.limit+1)
	} else {
		q = e.session.Query(e.stmts.list, t.limit+1)
	}
	iter := q.WithContext(t.ctx).Consistency(t.cl).Idempotent(true).PageSize(t.limit + 1).Iter()
	t.users = t.users[:0]
	more := false
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
	t.state = t.state[:0]
	if more {
		last := t.users[len(t.users)-1].ID
		t.state = binary.BigEndian.AppendUint64(t.state, uint64(murmur3Token(last[:])))
	}
	err := iter.Close()
	e.metrics.observe("list", start, err)
	return classify("list", err)
}

func (e *Engine) probeRead(ctx context.Context) error {
	t := acquireTask(ctx, kindProbe, e.consistency(Options{}))
	defer t.release()
	return e.do(t)
}

func (e *Engine) runProbe(t *task) error {
	start := time.Now()
	iter := e.session.Query(e.stmts.probe).WithContext(t.ctx).Consistency(t.cl).Idempotent(true).Iter()
	var id gocql.UUID
	iter.Scan(&id)
	err := iter.Close()
	e.metrics.observe("probe", start, err)
	return classify("probe", err)
}
