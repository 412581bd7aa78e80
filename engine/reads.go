package engine

import (
	"context"
	"sync"
)

// Reads, the caller's side: GetUser with read coalescing, and ProbeRead.
// The queries themselves run on a worker (exec.go).

// flights coalesces concurrent reads of one id onto one query: the first
// reader becomes the leader and is admitted; readers arriving while it is in
// flight become its followers and are completed with its result.
type flights struct {
	mu sync.Mutex
	m  map[UUID]*task
}

// GetUser reads one user; concurrent reads of one id share a query.
func (e *Engine) GetUser(ctx context.Context, id UUID, opt Options) (User, error) {
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
	// A refused leader is failed by admit, which lands the flight and
	// completes any follower that joined meanwhile.
	if err := e.do(t); err != nil {
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
// can join, so its followers list is final.
func (e *Engine) land(t *task) {
	e.flights.mu.Lock()
	if e.flights.m[t.id] == t {
		delete(e.flights.m, t.id)
	}
	e.flights.mu.Unlock()
}

// ProbeRead runs one `SELECT ... LIMIT 1` through the pool: the unit of work
// of the /performance endpoints.
func (e *Engine) ProbeRead(ctx context.Context) error {
	t := acquireTask(ctx, kindProbe, e.consistency(Options{}))
	defer t.release()
	return e.do(t)
}
