package engine

import (
	"context"
	"crypto/rand"
	"time"
)

// Writes, the caller's side: creates and deletes go through the batcher
// (batcher.go), updates run as one read-merge-write task. The statements
// run on a worker (exec.go).

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

// CreateUser writes one user through the token-aware batcher and returns it
// with its new id and timestamps once its batch has succeeded.
func (e *Engine) CreateUser(ctx context.Context, in NewUser, opt Options) (User, error) {
	now := nowMillis()
	u := User{ID: newID(), Name: in.Name, Email: in.Email, Age: in.Age, CreatedAt: now, UpdatedAt: now}
	t := acquireTask(ctx, kindWrite, e.consistency(opt))
	defer t.release()
	t.op, t.id, t.user = opInsert, u.ID, u
	if err := e.do(t); err != nil {
		return User{}, err
	}
	return u, nil
}

// CreateUsers writes all users through the batcher; the result is in input
// order. It is admitted whole or refused whole; on a later error some users
// may have been written, and none is reported written.
func (e *Engine) CreateUsers(ctx context.Context, in []NewUser, opt Options) ([]User, error) {
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
	for i, nu := range in {
		out[i] = User{ID: newID(), Name: nu.Name, Email: nu.Email, Age: nu.Age, CreatedAt: now, UpdatedAt: now}
		t := acquireTask(ctx, kindWrite, cl)
		t.op, t.id, t.user = opInsert, out[i].ID, out[i]
		tasks = append(tasks, t)
		if err := e.admitReserved(t); err != nil { // only when closing; t is failed
			e.unreserveWrites(len(in) - i - 1)
			break
		}
	}
	// Every admitted write is awaited, even after a failure, so that no
	// caller hold is given back while the batcher still has the task.
	var firstErr error
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
	return e.do(t)
}
