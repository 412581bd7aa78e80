package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gocql/gocql"
)

// taskKind says what a worker does with a task.
type taskKind uint8

const (
	kindGet    taskKind = iota // read one user (leader of a coalesced flight)
	kindWrite                  // one insert or delete, run alone (BatchMax=1) or inside a batch
	kindBatch                  // an UNLOGGED batch of kindWrite tasks
	kindUpdate                 // read, merge, write
	kindPage                   // fetch one page of the table
	kindProbe                  // SELECT ... LIMIT 1
)

// writeOp is which prepared write a kindWrite task binds.
type writeOp uint8

const (
	opInsert writeOp = iota
	opDelete
)

// task is the one request object that flows from the caller to a worker and
// back. It is taken from a sync.Pool, completed exactly once, and returned to
// the pool only when both sides are done with it: the caller (which may give
// up at its deadline) and the executor (which may still be running).
type task struct {
	kind taskKind
	ctx  context.Context
	cl   gocql.Consistency

	// inputs and results; which fields matter depends on kind
	id    UUID
	op    writeOp
	token int64
	user  User
	patch UserPatch
	limit int
	state []byte // page state in (kindPage); next state out

	users []User // page rows out (kindPage), reused between pages

	batch     []*task // kindBatch: its entries
	groupKey  int     // kindBatch: the batcher group to credit on completion
	followers []*task // kindGet: coalesced readers waiting on this query

	err      error
	done     chan struct{} // buffered(1): signalled once on completion
	finished atomic.Bool   // completion happened
	refs     atomic.Int32  // owners still holding the task
}

var taskPool = sync.Pool{New: func() any { return &task{done: make(chan struct{}, 1)} }}

// acquireTask returns a clean task owned by the caller and one executor.
func acquireTask(ctx context.Context, kind taskKind, cl gocql.Consistency) *task {
	t := taskPool.Get().(*task)
	t.kind, t.ctx, t.cl = kind, ctx, cl
	t.refs.Store(2)
	return t
}

// release drops one owner's hold; the last one recycles the task.
func (t *task) release() {
	if t.refs.Add(-1) != 0 {
		return
	}
	select { // a completion nobody waited for leaves a signal behind
	case <-t.done:
	default:
	}
	users := t.users[:0]
	clear(t.users)
	*t = task{done: t.done, users: users}
	taskPool.Put(t)
}

// complete records the outcome once; later calls are ignored. It never
// blocks: done has room for the one signal.
func (t *task) complete(err error) {
	if !t.finished.CompareAndSwap(false, true) {
		return
	}
	t.err = err
	t.done <- struct{}{}
}

// finish completes the task and drops the executor's hold on it.
func (t *task) finish(err error) {
	t.complete(err)
	t.release()
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
