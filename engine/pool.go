package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/ants/v2"
)

// pool is the bounded executor every query runs on: PoolSize ants workers
// and a queue of QueueDepth waiting tasks. submit never blocks: when the
// queue is full it fails at once with ErrOverloaded.
//
// A single dispatcher goroutine moves tasks from the queue to ants, blocking
// only itself while all workers are busy. That keeps the caller's path to a
// non-blocking channel send and makes the capacity exactly
// PoolSize + QueueDepth (+1 task in the dispatcher's hand).
type pool struct {
	workers *ants.PoolWithFuncGeneric[*task]
	queue   chan *task
	run     func(*task)

	mu     sync.RWMutex // submit holds it shared; close exclusively
	closed bool
	// held counts tasks admitted and not yet taken by the dispatcher:
	// queued ones plus reservations. It never exceeds cap(queue), so a send
	// of an admitted task cannot find the queue full.
	held atomic.Int64

	dispatched chan struct{} // closed when the dispatcher has exited
}

func newPool(size, depth int, run func(*task)) (*pool, error) {
	p := &pool{queue: make(chan *task, depth), run: run, dispatched: make(chan struct{})}
	w, err := ants.NewPoolWithFuncGeneric(size, p.execute,
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

// submit hands t to the pool; on error the caller still owns t entirely.
func (p *pool) submit(t *task) error {
	if !p.reserve(1) {
		return ErrOverloaded
	}
	return p.submitReserved(t)
}

// reserve admits n tasks at once, or none: callers that need all of a
// group to run (a batch create) reserve before submitting any.
func (p *pool) reserve(n int) bool {
	if p.held.Add(int64(n)) > int64(cap(p.queue)) {
		p.held.Add(int64(-n))
		return false
	}
	return true
}

func (p *pool) unreserve(n int) { p.held.Add(int64(-n)) }

// submitReserved hands over a task admitted by reserve; on error the
// reservation is returned and the caller still owns t entirely.
func (p *pool) submitReserved(t *task) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		p.unreserve(1)
		return ErrClosed
	}
	select {
	case p.queue <- t:
		return nil
	default: // unreachable while held <= cap(queue); never block a caller
		p.unreserve(1)
		return ErrOverloaded
	}
}

func (p *pool) dispatch() {
	defer close(p.dispatched)
	for t := range p.queue {
		p.held.Add(-1)
		if err := p.workers.Invoke(t); err != nil {
			// Only after Release; close() drains the queue before that.
			t.finish(&Error{Kind: ErrClosed, Op: "dispatch", Cause: err})
		}
	}
}

// execute runs on an ants worker. A panic in a task completes it with an
// error instead of killing the process or leaving its caller waiting.
func (p *pool) execute(t *task) {
	defer func() {
		if r := recover(); r != nil {
			err := fmt.Errorf("engine: task panicked: %v", r)
			failAll(t, &Error{Kind: errInternal, Op: "execute", Cause: err})
		}
	}()
	p.run(t)
}

// failAll completes t, and the tasks riding on it, with err.
func failAll(t *task, err error) {
	for _, e := range t.batch {
		e.finish(err)
	}
	for _, f := range t.followers {
		f.finish(err)
	}
	t.batch, t.followers = nil, nil
	t.finish(err)
}

func (p *pool) running() int { return p.workers.Running() }
func (p *pool) waiting() int { return len(p.queue) }
func (p *pool) capacity() int {
	return p.workers.Cap() + cap(p.queue)
}

// close refuses new tasks, lets queued and running ones finish, and returns
// when the workers are gone or ctx ends.
func (p *pool) close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.queue)
	p.mu.Unlock()
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
