package engine

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gocql/gocql"
)

// batcher groups pending writes by the replica set that owns their token
// (and by consistency level) and sends each group as one UNLOGGED batch.
//
// Flush rules, per group:
//   - a group that reaches max statements is flushed at once;
//   - when no more writes are queued, every non-empty group is flushed, so a
//     lone write at low load waits for nothing (unless linger > 0, which
//     holds a partial batch up to linger for company);
//   - at most inflight batches per group execute at a time: writes arriving
//     meanwhile gather into the next batch. This is what makes batches form
//     under load without a fixed sleep.
//
// gocql routes a batch by its first entry's key; since every entry of a
// batch has the same replica set, the batch goes to a replica of all of them.
type batcher struct {
	e        *Engine
	max      int
	inflight int
	linger   time.Duration
	limit    int // most writes held (queued + pending) before add refuses

	in   chan *task
	kick chan struct{} // a batch finished

	mu     sync.RWMutex // add holds it shared; close exclusively
	closed bool
	// held counts writes admitted and not yet flushed (queued or pending),
	// reservations included; it never exceeds limit.
	held atomic.Int64

	doneMu   sync.Mutex
	doneKeys []int

	// owned by the loop goroutine
	groups  map[int]*group
	pending int
	running sync.WaitGroup
	exited  chan struct{}
}

type group struct {
	key     int
	cl      gocql.Consistency
	pending []*task
	oldest  time.Time
	running int
}

func newBatcher(e *Engine, max, inflight int, linger time.Duration, depth int) *batcher {
	if depth < max {
		depth = max
	}
	b := &batcher{
		e: e, max: max, inflight: inflight, linger: linger, limit: depth,
		in:     make(chan *task, depth),
		kick:   make(chan struct{}, 1),
		groups: make(map[int]*group),
		exited: make(chan struct{}),
	}
	go b.loop()
	return b
}

// add queues a write; it fails at once with ErrOverloaded when full. On
// error the caller still owns t entirely.
func (b *batcher) add(t *task) error {
	if !b.reserve(1) {
		return &Error{Kind: ErrOverloaded, Op: "batch"}
	}
	return b.addReserved(t)
}

// reserve admits n writes at once, or none (a batch create is all or
// nothing: it must not be refused halfway, with part of it written).
func (b *batcher) reserve(n int) bool {
	if b.held.Add(int64(n)) > int64(b.limit) {
		b.held.Add(int64(-n))
		b.e.metrics.rejectedOverload.Inc()
		return false
	}
	return true
}

func (b *batcher) unreserve(n int) { b.held.Add(int64(-n)) }

// addReserved queues a write admitted by reserve; on error the reservation
// is returned and the caller still owns t entirely.
func (b *batcher) addReserved(t *task) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		b.unreserve(1)
		return &Error{Kind: ErrClosed, Op: "batch"}
	}
	select {
	case b.in <- t:
		return nil
	default: // unreachable while held <= limit = cap(in)
		b.unreserve(1)
		return &Error{Kind: ErrOverloaded, Op: "batch"}
	}
}

// done is called by the executor of a batch when it has completed.
func (b *batcher) done(key int) {
	b.doneMu.Lock()
	b.doneKeys = append(b.doneKeys, key)
	b.doneMu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
	b.running.Done()
}

func (b *batcher) loop() {
	defer close(b.exited)
	var (
		timer  *time.Timer
		timerC <-chan time.Time
	)
	for {
		// Stop taking writes while the held ones reach the limit: the channel
		// then fills and add answers ErrOverloaded instead of memory growing.
		in := b.in
		if b.pending >= b.limit {
			in = nil
		}
		select {
		case t, ok := <-in:
			if !ok {
				b.drain()
				return
			}
			b.add1(t)
			for more := true; more && b.pending < b.limit; {
				select {
				case t, ok := <-b.in:
					if !ok {
						b.drain()
						return
					}
					b.add1(t)
				default:
					more = false
				}
			}
		case <-b.kick:
			b.collectDone()
		case <-timerC:
			timerC = nil
		}
		if wait := b.flushReady(time.Now(), false); wait > 0 {
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			timerC = timer.C
		}
	}
}

func groupKey(set int, cl gocql.Consistency) int { return set<<4 | int(cl)&0xf }

func (b *batcher) add1(t *task) {
	set := 0
	if r := b.e.ring.Load(); r != nil && !b.e.cfg.BatchIgnoreReplicas {
		set = r.replicaSet(t.token)
	}
	key := groupKey(set, t.cl)
	g := b.groups[key]
	if g == nil {
		g = &group{key: key, cl: t.cl}
		b.groups[key] = g
	}
	if len(g.pending) == 0 {
		g.oldest = time.Now()
	}
	g.pending = append(g.pending, t)
	b.pending++
	for len(g.pending) >= b.max && g.running < b.inflight {
		b.flush(g)
	}
}

func (b *batcher) collectDone() {
	b.doneMu.Lock()
	keys := b.doneKeys
	b.doneKeys = nil
	b.doneMu.Unlock()
	for _, k := range keys {
		if g := b.groups[k]; g != nil {
			g.running--
		}
	}
}

// flushReady flushes every group allowed to go now and returns how long
// until the next lingering group is due (0: none).
func (b *batcher) flushReady(now time.Time, force bool) time.Duration {
	var next time.Duration
	for key, g := range b.groups {
		for len(g.pending) > 0 && (force || g.running < b.inflight) {
			if !force && b.linger > 0 && len(g.pending) < b.max {
				if due := g.oldest.Add(b.linger).Sub(now); due > 0 {
					if next == 0 || due < next {
						next = due
					}
					break
				}
			}
			b.flush(g)
		}
		if len(g.pending) == 0 && g.running == 0 {
			delete(b.groups, key) // rings change; keep the map small
		}
	}
	return next
}

// flush sends up to max pending writes of g as one batch task.
func (b *batcher) flush(g *group) {
	n := min(len(g.pending), b.max)
	entries := make([]*task, n)
	copy(entries, g.pending[:n])
	rest := copy(g.pending, g.pending[n:])
	clear(g.pending[rest:])
	g.pending = g.pending[:rest]
	if rest > 0 {
		g.oldest = time.Now()
	}
	b.pending -= n
	b.held.Add(int64(-n))

	// The batch lives as long as its most patient entry; entries whose
	// deadline passed are dropped, unwritten, when the batch runs.
	ctx := entries[0].ctx
	latest, _ := ctx.Deadline()
	for _, t := range entries[1:] {
		if d, ok := t.ctx.Deadline(); ok && d.After(latest) {
			ctx, latest = t.ctx, d
		}
	}
	bt := acquireTask(ctx, kindBatch, g.cl)
	bt.refs.Store(1) // no caller waits on a batch task, only its entries' callers
	bt.batch, bt.groupKey = entries, g.key
	g.running++
	b.running.Add(1)
	if err := b.e.pool.submit(bt); err != nil {
		g.running--
		b.running.Done()
		b.e.metrics.rejected(err)
		werr := &Error{Kind: Kind(err), Op: "batch", Cause: err}
		for _, t := range entries {
			t.finish(werr)
		}
		bt.batch = nil
		bt.release()
	}
}

// drain flushes everything still pending, regardless of the in-flight cap,
// and waits for every batch to finish. Only the loop calls it, on close.
func (b *batcher) drain() {
	b.collectDone()
	b.flushReady(time.Now(), true)
	b.running.Wait()
}

// close refuses new writes, flushes every pending one and waits until their
// batches completed, or ctx ends.
func (b *batcher) close(ctx context.Context) error {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.in)
	}
	b.mu.Unlock()
	select {
	case <-b.exited:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("engine batcher: pending writes not flushed: %w", ctx.Err())
	}
}
