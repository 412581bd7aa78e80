package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/gocql/gocql"
)

// Execution: everything here runs on a pool worker. run is the pool's
// worker function; runOne holds the engine's one panic guard; execute hands
// each kind of task to its run* method, which lives beside the caller's side
// of that kind (reads.go, readgroup.go, writes.go, batch.go, updates.go,
// pages.go, health.go) and ends by completing the task (finish or fail is its
// last use of it, see task.go). Every query goes through onSessions.

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
	return e.executeFn(t)
}

var errExpired = &Error{Kind: ErrTimeout, Op: "queue", Cause: errors.New("deadline passed while queued")}

// expire fails a task whose deadline passed before it ran.
func (e *Engine) expire(t *task) {
	e.metrics.expired.Inc()
	e.fail(t, errExpired)
}

// execute is what a worker does with each kind of task (e.executeFn, which
// unit tests replace with a query-free stand-in). It returns the task that
// waited in line behind t, for the worker to run next.
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
// query (TestOnSessionsFallsBackOnlyWhenUnsent).
func (e *Engine) onSessions(f func(s *gocql.Session) error) error {
	s, other := e.sessions()
	err := f(s)
	if unsent(err, other) {
		err = f(other)
	}
	return err
}
