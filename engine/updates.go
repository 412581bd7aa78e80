package engine

import (
	"context"
	"sync"
	"time"

	"github.com/gocql/gocql"
)

// Updates: UpdateUser, the queue that runs the updates of one id one after
// another, and the read-merge-write a worker runs for each.

// updateQueues runs the updates of one id one after another in this
// process, so that each reads the row the one before it wrote (stamp.go).
// An update that reaches a worker while another of its id runs waits in
// that id's queue, off the worker; the worker that completes the update ahead
// runs it next (Engine.run).
type updateQueues struct {
	mu sync.Mutex
	m  map[UUID]updateQueue
}

type updateQueue struct{ head, tail *task } // head runs; the rest hang off next

// enter reports whether t may run now: it heads its id's queue. Otherwise t
// is queued at the tail.
func (uq *updateQueues) enter(t *task) bool {
	uq.mu.Lock()
	defer uq.mu.Unlock()
	q, busy := uq.m[t.id]
	switch {
	case !busy:
		uq.m[t.id] = updateQueue{head: t, tail: t}
		return true
	case q.head == t:
		return true
	}
	q.tail.next = t
	q.tail = t
	uq.m[t.id] = q
	return false
}

// leave takes t, the head, off its queue and returns the new head, or nil
// when the queue ends (or t never headed one).
func (uq *updateQueues) leave(t *task) *task {
	uq.mu.Lock()
	defer uq.mu.Unlock()
	q, ok := uq.m[t.id]
	if !ok || q.head != t {
		return nil
	}
	next := t.next
	t.next = nil
	if next == nil {
		delete(uq.m, t.id)
		return nil
	}
	q.head = next
	uq.m[t.id] = q
	return next
}

// UpdateUser merges patch into the stored user. It returns ErrNotFound when
// the user does not exist, and never re-creates a deleted user.
func (e *Engine) UpdateUser(ctx context.Context, id UUID, patch UserPatch, opt Options) (User, error) {
	t := acquireTask(ctx, kindUpdate, e.consistency(opt))
	defer t.release()
	t.id, t.patch = id, patch
	if err := e.do(t); err != nil {
		return User{}, err
	}
	return t.user, nil
}

// runUpdates runs an update once no other update of its id runs in this
// process, and returns the one queued behind it. An update that arrives
// while another of its id runs waits in that id's queue, off the worker.
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
