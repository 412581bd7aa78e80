package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/panjf2000/ants/v2"
)

// pool is the bounded executor every query runs on: PoolSize ants workers
// and a queue of QueueDepth waiting tasks behind a gate (admit.go), so a
// full queue refuses at once with ErrOverloaded.
//
// A single dispatcher goroutine moves tasks from the queue to ants, blocking
// only itself while all workers are busy. That keeps the caller's path to a
// non-blocking channel send and makes the capacity exactly
// PoolSize + QueueDepth (+1 task in the dispatcher's hand).
type pool struct {
	workers *ants.PoolWithFuncGeneric[*task]
	gate    *gate
	fail    func(*task, error) // for a task the workers can no longer take

	dispatched chan struct{} // closed when the dispatcher has exited
}

// newPool starts size workers running run, behind a queue of depth.
func newPool(size, depth int, run func(*task), fail func(*task, error)) (*pool, error) {
	p := &pool{gate: newGate(depth), fail: fail, dispatched: make(chan struct{})}
	w, err := ants.NewPoolWithFuncGeneric(size, run,
		ants.WithPreAlloc(false),
		ants.WithExpiryDuration(10*time.Second),
		ants.WithLogger(nopAntsLogger{}))
	if err != nil {
		return nil, fmt.Errorf("ants pool: %w", err)
	}
	p.workers = w
	go p.dispatch()
	return p, nil
}

func (p *pool) dispatch() {
	defer close(p.dispatched)
	for t := range p.gate.ch {
		p.gate.unreserve(1)
		if err := p.workers.Invoke(t); err != nil {
			// Only after Release; close() drains the queue before that.
			p.fail(t, &Error{Kind: ErrClosed, Op: "dispatch", Cause: err})
		}
	}
}

func (p *pool) running() int { return p.workers.Running() }
func (p *pool) waiting() int { return len(p.gate.ch) }
func (p *pool) capacity() int {
	return p.workers.Cap() + cap(p.gate.ch)
}

// close refuses new tasks, lets queued and running ones finish, and returns
// when the workers are gone or ctx ends.
func (p *pool) close(ctx context.Context) error {
	if !p.gate.close() {
		return nil
	}
	select {
	case <-p.dispatched:
	case <-ctx.Done():
		return fmt.Errorf("engine pool: queue not drained: %w", ctx.Err())
	}
	if err := p.workers.ReleaseContext(ctx); err != nil && !errors.Is(err, ants.ErrPoolClosed) {
		return fmt.Errorf("engine pool: workers still running: %w", err)
	}
	return nil
}

type nopAntsLogger struct{}

func (nopAntsLogger) Printf(string, ...any) {}
