package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
)

// Writes, the caller's side: creates and deletes go through the write
// lines (lines.go), which batch writes of one replica set as they queue up;
// updates run as one read-merge-write task. The statements run on a worker
// (exec.go).

// newID returns a random (version 4) UUID.
func newID() UUID {
	var u UUID
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

// updateLines runs the updates of one id one after another in this
// process, so that each reads the row the one before it wrote (stamp.go).
// An update that reaches a worker while another of its id runs waits in
// that id's line, off the worker; the worker that completes the update ahead
// runs it next (Engine.run).
type updateLines struct {
	mu sync.Mutex
	m  map[UUID]line
}

type line struct{ head, tail *task } // head runs; the rest hang off next

// enter reports whether t may run now: it heads its id's line. Otherwise t
// is queued at the tail.
func (l *updateLines) enter(t *task) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	ln, busy := l.m[t.id]
	switch {
	case !busy:
		l.m[t.id] = line{head: t, tail: t}
		return true
	case ln.head == t:
		return true
	}
	ln.tail.next = t
	ln.tail = t
	l.m[t.id] = ln
	return false
}

// leave takes t, the head, off its line and returns the new head, or nil
// when the line ends (or t never headed one).
func (l *updateLines) leave(t *task) *task {
	l.mu.Lock()
	defer l.mu.Unlock()
	ln, ok := l.m[t.id]
	if !ok || ln.head != t {
		return nil
	}
	next := t.next
	t.next = nil
	if next == nil {
		delete(l.m, t.id)
		return nil
	}
	ln.head = next
	l.m[t.id] = ln
	return next
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

// DeleteUser deletes a user; deleting a missing user succeeds.
func (e *Engine) DeleteUser(ctx context.Context, id UUID, opt Options) error {
	t := acquireTask(ctx, kindWrite, e.consistency(opt))
	defer t.release()
	t.op, t.id = opDelete, id
	return e.doInLine(e.writes, t)
}
