package engine

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/panjf2000/ants/v2"
)

// pool is the bounded executor every query runs on: PoolSize ants workers
// and a queue of QueueDepth waiting tasks behind a gate (admit.go), so a
// full queue refuses at once with ErrOverloaded. No caller ever blocks in it.
//
// A task reaches a worker one of two ways:
//   - straight (invoke): while the queue is empty and a worker is idle, the
//     caller's goroutine hands the task to that worker itself. One goroutine
//     hand-off, where the queue costs two; this is the path of every request
//     while the pool keeps up.
//   - queued: otherwise the task waits in the gate's channel, and the
//     dispatcher goroutine hands it to the next worker that frees up. Tasks
//     queue in order, and none goes straight while any waits.
//
// The capacity is PoolSize + QueueDepth (+1 task in the dispatcher's hand).
type pool struct {
	workers *ants.PoolWithFuncGeneric[*task]
	gate    *gate
	fail    func(*task, error) // for a task the workers can no longer take

	// freed wakes the dispatcher when a worker finishes a task.
	freed      chan struct{}
	dispatched chan struct{} // closed when the dispatcher has exited
	straight   atomic.Int64  // callers inside invoke past the closed check
}

// errBusy is invoke's answer when the task must take the queue instead.
var errBusy = errors.New("engine: no idle worker")

// newPool starts up to size workers running run, behind a queue of depth.
func newPool(size, depth int, run func(*task), fail func(*task, error)) (*pool, error) {
	p := &pool{
		gate:       newGate(depth),
		fail:       fail,
		freed:      make(chan struct{}, 1),
		dispatched: make(chan struct{}),
	}
	w, err := ants.NewPoolWithFuncGeneric(size, func(t *task) {
		run(t)
		select {
		case p.freed <- struct{}{}:
		default:
		}
	},
		ants.WithNonblocking(true), // a full pool answers at once; the gate queues
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

// invoke hands t straight to an idle worker. It answers errBusy when the
// task must queue instead (a task already waits, or no worker is idle) and
// ErrClosed once close began; on any error the caller still owns t.
func (p *pool) invoke(t *task) error {
	if len(p.gate.ch) > 0 {
		return errBusy
	}
	p.gate.mu.RLock()
	closed := p.gate.closed
	if !closed {
		p.straight.Add(1)
	}
	p.gate.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	defer p.straight.Add(-1)
	switch err := p.workers.Invoke(t); {
	case err == nil:
		return nil
	case errors.Is(err, ants.ErrPoolOverload):
		return errBusy
	default: // only after Release, which close() defers until straight is 0
		return ErrClosed
	}
}

// submit runs t on a worker: straight when one is idle, else through the
// queue. It never blocks.
func (p *pool) submit(t *task) error {
	if err := p.invoke(t); err != errBusy {
		return err
	}
	return p.gate.send(t)
}

// submitReserved runs t, for which reserve took a place in the queue:
// straight on an idle worker (the place goes back) or queued in that place.
func (p *pool) submitReserved(t *task) error {
	switch err := p.invoke(t); err {
	case nil:
		p.gate.unreserve(1)
		return nil
	case errBusy:
		return p.gate.sendReserved(t)
	default:
		p.gate.unreserve(1)
		return err
	}
}

// dispatch hands queued tasks, in order, to workers as they free up.
func (p *pool) dispatch() {
	defer close(p.dispatched)
	for t := range p.gate.ch {
		p.gate.unreserve(1)
		for {
			err := p.workers.Invoke(t)
			if err == nil {
				break
			}
			if !errors.Is(err, ants.ErrPoolOverload) {
				// Only after Release; close() drains the queue before that.
				p.fail(t, &Error{Kind: ErrClosed, Op: "dispatch", Cause: err})
				break
			}
			// A worker signals as its task ends, a moment before ants takes
			// it back as idle: the timer covers that gap.
			select {
			case <-p.freed:
			case <-time.After(100 * time.Microsecond):
			}
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
	// A caller past invoke's closed check was admitted before close: let
	// its hand-off finish before the workers go.
	for p.straight.Load() > 0 {
		select {
		case <-time.After(time.Millisecond):
		case <-ctx.Done():
			return fmt.Errorf("engine pool: hand-offs still running: %w", ctx.Err())
		}
	}
	if err := p.workers.ReleaseContext(ctx); err != nil && !errors.Is(err, ants.ErrPoolClosed) {
		return fmt.Errorf("engine pool: workers still running: %w", err)
	}
	return nil
}

type nopAntsLogger struct{}

func (nopAntsLogger) Printf(string, ...any) {}
