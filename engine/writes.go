package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/gocql/gocql"
)

// Writes: creates and deletes go through the write lines (lines.go), which
// batch writes of one replica set as they queue up; a worker runs a write
// that is a unit of its own here, and a batch of several in batch.go.
// Updates are in updates.go.

// newID returns a random (version 4) UUID.
func newID() UUID {
	var u UUID
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

// CreateUser writes one user through its replica set's write line and
// returns it with its new id and timestamps once the write has succeeded.
func (e *Engine) CreateUser(ctx context.Context, in NewUser, opt Options) (User, error) {
	ts := e.stamps.next()
	now := stampTime(ts)
	u := User{ID: newID(), Name: in.Name, Email: in.Email, Age: in.Age, CreatedAt: now, UpdatedAt: now}
	t := acquireTask(ctx, kindWrite, e.consistency(opt))
	defer t.release()
	t.op, t.id, t.user, t.stamp = opInsert, u.ID, u, ts
	if err := e.doInLine(e.writes, t); err != nil {
		return User{}, err
	}
	return u, nil
}

// CreateUsers writes all users through the write lines; the result is in
// input order. It is admitted whole or refused whole: ErrOverloaded or
// ErrClosed with no users means nothing was written. On a later error it
// returns, with the error, the users whose writes succeeded (in input
// order), and the error is ErrUnknownOutcome whenever some were written or
// some may have been, so that no answer invites a blind retry of the whole.
func (e *Engine) CreateUsers(ctx context.Context, in []NewUser, opt Options) ([]User, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make([]User, len(in))
	tasks := make([]*task, len(in))
	cl := e.consistency(opt)
	for i, nu := range in {
		ts := e.stamps.next()
		now := stampTime(ts)
		out[i] = User{ID: newID(), Name: nu.Name, Email: nu.Email, Age: nu.Age, CreatedAt: now, UpdatedAt: now}
		t := acquireTask(ctx, kindWrite, cl)
		t.op, t.id, t.user, t.stamp = opInsert, out[i].ID, out[i], ts
		tasks[i] = t
	}
	defer func() {
		for _, t := range tasks {
			t.release()
		}
	}()
	if err := e.admitWrites(ctx, tasks); err != nil {
		return nil, err
	}
	// Every write is awaited, even after a failure, so that no caller hold
	// is given back while a line or a batch still has the task.
	var firstErr error
	written := out[:0:0]
	for i, t := range tasks {
		err := t.wait()
		switch {
		case err == nil:
			written = append(written, out[i])
		case firstErr == nil || errors.Is(err, ErrUnknownOutcome):
			firstErr = err
		}
	}
	switch {
	case firstErr == nil:
		return out, nil
	case len(written) > 0 && !errors.Is(firstErr, ErrTimeout) && !errors.Is(firstErr, ErrUnknownOutcome):
		firstErr = &Error{Kind: ErrUnknownOutcome, Op: "batch create", Cause: fmt.Errorf("%d of %d written: %v", len(written), len(out), firstErr)} // %v: one kind only
	}
	return written, firstErr
}

// DeleteUser deletes a user; deleting a missing user succeeds.
func (e *Engine) DeleteUser(ctx context.Context, id UUID, opt Options) error {
	t := acquireTask(ctx, kindWrite, e.consistency(opt))
	defer t.release()
	t.op, t.id = opDelete, id
	return e.doInLine(e.writes, t)
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
	runningUnit, key := t.runningUnit, t.line
	err := e.runWrite(t)
	if !runningUnit {
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
