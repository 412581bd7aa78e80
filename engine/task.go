package engine

// A task is the one request object that flows from a caller to a worker and
// back: decode -> line (lines.go) -> admit (admit.go) -> execute (exec.go)
// -> complete (here) -> answer.
//
// Lifecycle, the only rules there are:
//
//   - acquireTask gives a task two holds: the caller's and the executor's.
//     The caller gives its hold back with `defer t.release()` right after
//     acquiring, whatever happens next, and nothing else.
//   - The executor's hold is given back exactly once, by the call that
//     completes the task: finish (a worker's result) or Engine.fail
//     (admission refused, dispatch failed, deadline passed in the queue, a
//     panic). Engine.admit fails a task it cannot admit itself, so a caller
//     never releases twice.
//   - Completing a task also completes the tasks riding on it (a read
//     leader's followers, a batch's entries): each rider is taken off its
//     list before it is finished, so a panic halfway never finishes one twice.
//   - finish or fail is the last thing an executor does with a task: once
//     completed, the caller may release it and the pool may hand it out again.
//   - A unit of several tasks (a batch, a read group) has no caller: it has
//     the executor's hold only (lines.unit).
//   - A task that waits for another (a read's next query, a read or write in
//     a full line, an update behind one of the same id in its update queue)
//     is held by that line or queue until a worker takes it: the worker that
//     completes the task ahead runs it next (Engine.run).
//
// A hold given back more often than it was taken panics with "BUG:", like
// fasthttp does, instead of recycling a task someone still uses.

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gocql/gocql"
)

// taskKind says what a worker does with a task.
type taskKind uint8

const (
	kindGet       taskKind = iota // read one user (leader of a coalesced flight)
	kindWrite                     // one insert or delete, run alone or inside a batch
	kindBatch                     // an UNLOGGED batch of kindWrite tasks (a write line's unit)
	kindUpdate                    // read, merge, write
	kindPage                      // fetch one page of the table
	kindProbe                     // SELECT ... LIMIT 1
	kindReadGroup                 // one IN query for several kindGet leaders (readgroup.go)
)

// checksDeadline reports whether the task's executor handles a passed
// deadline itself (others may depend on it running), instead of the worker
// dropping the task unrun.
func (t *task) checksDeadline() bool {
	switch t.kind {
	case kindBatch, kindGet, kindUpdate, kindReadGroup:
		return true
	}
	return false
}

// writeOp is which prepared write a kindWrite task binds.
type writeOp uint8

const (
	opInsert writeOp = iota
	opDelete
)

// task is taken from a sync.Pool, completed exactly once, and returned to the
// pool only when both holds are given back (see the lifecycle above).
type task struct {
	kind   taskKind
	ctx    context.Context
	cancel context.CancelFunc // a unit's own context (lines.take), ended on release
	cl     gocql.Consistency

	// inputs and results; which fields matter depends on kind
	id    UUID
	op    writeOp
	token int64
	stamp int64 // write timestamp (us) of an insert or update, see stamp.go
	user  User
	patch UserPatch
	limit int
	state []byte // page state in (kindPage); next state out

	users []User // page rows out (kindPage), reused between pages

	batch     []*task // kindBatch: its entries; kindReadGroup: its reads
	followers []*task // kindGet: coalesced readers waiting on this query
	next      *task   // kindUpdate: the update of the same id queued behind this one

	// reads and writes in lines (lines.go)
	line            int  // the line: replica set and consistency
	runningUnit     bool // counted as one of its line's running units (lineState.running)
	holdsQueuePlace bool // waiting in the line, holding a place in the pool's queue
	found           bool // kindGet in a group: its row was returned
	sent            bool // a write: an attempt ended so that it may have been applied (ObserveQuery)

	err      error
	done     chan struct{} // buffered(1): signalled once on completion
	finished atomic.Bool   // completion happened
	refs     atomic.Int32  // holds not yet given back
}

var taskPool = sync.Pool{New: func() any { return &task{done: make(chan struct{}, 1)} }}

// liveTasks counts tasks acquired and not yet recycled: tests use it to
// prove that every path gives every hold back.
var liveTasks atomic.Int64

// acquireTask returns a clean task held by the caller and one executor.
func acquireTask(ctx context.Context, kind taskKind, cl gocql.Consistency) *task {
	t := taskPool.Get().(*task)
	t.kind, t.ctx, t.cl = kind, ctx, cl
	t.refs.Store(2)
	liveTasks.Add(1)
	return t
}

// release gives one hold back; the last one recycles the task.
func (t *task) release() {
	switch n := t.refs.Add(-1); {
	case n > 0:
		return
	case n < 0:
		panic("BUG: engine task released more often than it was held")
	}
	if t.cancel != nil {
		t.cancel()
	}
	select { // a completion nobody waited for leaves a signal behind
	case <-t.done:
	default:
	}
	users := t.users[:0]
	clear(t.users)
	*t = task{done: t.done, users: users}
	liveTasks.Add(-1)
	taskPool.Put(t)
}

// complete records the outcome once and reports whether this call did; later
// calls are ignored. It never blocks: done has room for the one signal.
func (t *task) complete(err error) bool {
	if !t.finished.CompareAndSwap(false, true) {
		return false
	}
	t.err = err
	t.done <- struct{}{}
	return true
}

// finish completes the task and, if this call completed it, gives the
// executor's hold back.
func (t *task) finish(err error) {
	if t.complete(err) {
		t.release()
	}
}

// finishAll finishes every task of *list with err (and a copy of *u, when
// given), taking each off the list before finishing it.
func finishAll(list *[]*task, u *User, err error) {
	for len(*list) > 0 {
		l := *list
		w := l[len(l)-1]
		l[len(l)-1] = nil
		*list = l[:len(l)-1]
		if u != nil {
			w.user = *u
		}
		w.finish(err)
	}
}

// wait blocks until the task completes or the caller's context ends. On
// ErrTimeout the executor may still hold the task; release stays safe.
func (t *task) wait() error {
	select {
	case <-t.done:
		return t.err
	case <-t.ctx.Done():
		select { // a result that raced the deadline still counts
		case <-t.done:
			return t.err
		default:
			return classify("wait", t.ctx.Err())
		}
	}
}

// expired reports whether the task's deadline passed before it ran.
func (t *task) expired(now time.Time) bool {
	if t.ctx.Err() != nil {
		return true
	}
	d, ok := t.ctx.Deadline()
	return ok && !now.Before(d)
}

// ObserveQuery notes, for a write, an attempt that may have been applied
// (mayHaveApplied), so that an error of a later attempt the driver retried
// still reports the outcome unknown. The driver calls it on the goroutine
// running the query.
func (t *task) ObserveQuery(_ context.Context, q gocql.ObservedQuery) { t.observeAttempt(q.Err) }

func (t *task) observeAttempt(err error) {
	if mayHaveApplied(err) {
		t.sent = true
	}
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
