package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Admission: where a task enters the engine. Engine.admit is the one place
// that hands a task to its executor and, when it cannot, fails the task
// itself (completing it and everything riding on it, and giving the
// executor's hold back), so a caller only ever releases its own hold.

// gate is the admission of the pool's queue: a bound on the tasks held
// (queued, waiting in a line, or reserved by a caller about to queue them),
// a closed flag, and a send that never blocks a caller.
type gate struct {
	ch    chan *task
	limit int64

	mu     sync.RWMutex // sends hold it shared; close exclusively, so no send races close(ch)
	closed bool
	// held counts tasks admitted and not yet taken by the consumer, and
	// reservations. It never exceeds limit = cap(ch), so a send of an
	// admitted task cannot find the channel full.
	held atomic.Int64
}

func newGate(limit int) *gate {
	return &gate{ch: make(chan *task, limit), limit: int64(limit)}
}

// reserve admits n tasks at once, or none: callers that need all of a group
// to run (a batch create) reserve before sending any. It checks before it
// adds, so a refused large reservation never makes a small one fail.
func (g *gate) reserve(n int) bool {
	for {
		held := g.held.Load()
		if held+int64(n) > g.limit {
			return false
		}
		if g.held.CompareAndSwap(held, held+int64(n)) {
			return true
		}
	}
}

// unreserve returns n reservations, or n tasks taken off by the consumer.
func (g *gate) unreserve(n int) { g.held.Add(int64(-n)) }

// send admits and queues t, or fails at once with ErrOverloaded or ErrClosed.
func (g *gate) send(t *task) error {
	if !g.reserve(1) {
		return ErrOverloaded
	}
	return g.sendReserved(t)
}

// sendReserved queues a task admitted by reserve; on error the reservation
// is returned.
func (g *gate) sendReserved(t *task) error {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.closed {
		g.unreserve(1)
		return ErrClosed
	}
	select {
	case g.ch <- t:
		return nil
	default: // unreachable while held <= cap(ch); never block a caller
		g.unreserve(1)
		return ErrOverloaded
	}
}

// close refuses further sends and closes the channel, so the consumer sees
// the end once it has taken every queued task. It reports whether this call
// closed it.
func (g *gate) close() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.closed = true
	close(g.ch)
	return true
}

// admit hands t to the pool. It never blocks. On error t has been failed
// with that error (see task.go): the caller only releases its own hold.
// Reads and writes enter through their lines first (lines.go), which admit
// a task here when it may run alone.
func (e *Engine) admit(t *task) error {
	var err error
	switch {
	case e.closing.Load():
		err = ErrClosed
	case t.ctx.Err() != nil: // no queue slot for work nobody waits for
		err = t.ctx.Err()
	default:
		err = e.pool.submit(t)
	}
	return e.refuse(t, err)
}

// admitWrites admits writes all at once, or fails every one of them without
// admitting any (ErrOverloaded, ErrClosed, or the context's error): a place
// in the pool's queue is reserved for each before any is handed over, and
// Close waits for a hand-over under way (admitting), so none is refused
// halfway. A write that may run alone gives its place back as it starts.
//
// More writes than half the queue holds are admitted in chunks of that size
// (admitChunks): the first is admitted at once or refused, nothing written;
// each later one waits for room as the writes before it start.
func (e *Engine) admitWrites(ctx context.Context, ts []*task) error {
	e.admitting.Add(1)
	defer e.admitting.Add(-1)
	chunk := len(ts)
	if limit := int(e.pool.gate.limit); chunk > limit {
		chunk = max(1, limit/2)
	}
	var err error
	switch {
	case e.closing.Load():
		err = &Error{Kind: ErrClosed, Op: "submit"}
	case ctx.Err() != nil:
		err = classify("submit", ctx.Err())
	case !e.pool.gate.reserve(chunk):
		err = &Error{Kind: ErrOverloaded, Op: "submit"}
	}
	if err != nil {
		e.metrics.rejected(err)
		for _, t := range ts {
			e.fail(t, err)
		}
		return err
	}
	e.handOver(ts[:chunk])
	e.admitChunks(ctx, ts[chunk:], chunk)
	return nil
}

// admitChunks admits the rest of a batch create, chunk writes at a time,
// each waiting for room in the queue; if the context ends or the engine
// closes first, the writes not admitted fail with that error (never
// written), and CreateUsers reports the ones that were.
func (e *Engine) admitChunks(ctx context.Context, ts []*task, chunk int) {
	for len(ts) > 0 {
		n := min(chunk, len(ts))
		var err error
		for wait := 50 * time.Microsecond; !e.pool.gate.reserve(n); wait = min(2*wait, 5*time.Millisecond) {
			if e.closing.Load() {
				err = &Error{Kind: ErrClosed, Op: "submit"}
			} else if ctx.Err() != nil {
				err = classify("submit", ctx.Err())
			}
			if err != nil {
				for _, t := range ts {
					e.fail(t, err)
				}
				return
			}
			time.Sleep(wait)
		}
		e.handOver(ts[:n])
		ts = ts[n:]
	}
}

// handOver hands writes with reserved places to their lines or the pool.
func (e *Engine) handOver(ts []*task) {
	if e.writes != nil {
		e.enterAll(e.writes, ts)
		return
	}
	for _, t := range ts {
		_ = e.refuse(t, e.pool.submitReserved(t))
	}
}

// refuse fails t with a refused admission's error, if there is one.
func (e *Engine) refuse(t *task, err error) error {
	if err == nil {
		return nil
	}
	if KindOf(err) == nil {
		err = classify("submit", err)
	} else {
		err = &Error{Kind: KindOf(err), Op: "submit"}
	}
	e.metrics.rejected(err)
	e.fail(t, err)
	return err
}

// do admits t and waits for it; the caller keeps (and releases) its hold.
func (e *Engine) do(t *task) error {
	if err := e.admit(t); err != nil {
		return err
	}
	return t.wait()
}

// doInLine admits t through its line of ls (lines.go), or straight to the
// pool when ls is nil (grouping or batching off), and waits for it.
func (e *Engine) doInLine(ls *lines, t *task) error {
	if ls == nil {
		return e.do(t)
	}
	if err := e.enter(ls, t); err != nil {
		return err
	}
	return t.wait()
}

// fail completes t, and everything riding on it or waiting in line behind
// it, with err and gives the executor's hold back. A read leader leaves the
// flight table first, so no reader joins a query that will never run.
func (e *Engine) fail(t *task, err error) {
	var behind *task // a task waiting in line behind t
	switch t.kind {
	case kindGet:
		behind = e.flights.advance(t)
	case kindUpdate:
		behind = e.updates.leave(t)
	case kindReadGroup:
		for len(t.batch) > 0 { // each read advances its flight
			r := t.batch[len(t.batch)-1]
			t.batch = t.batch[:len(t.batch)-1]
			e.fail(r, err)
		}
	}
	runningUnit := t.runningUnit
	finishAll(&t.followers, nil, err)
	finishAll(&t.batch, nil, err)
	if runningUnit {
		e.leaveLine(t) // before finish: t is the caller's again after it
	}
	t.finish(err)
	if behind != nil {
		e.fail(behind, err) // and, through it, every task behind it
	}
}
