package engine

import (
	"context"
	"fmt"
	"sync"
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
	// The batcher's only view of the engine: which replica set a token
	// belongs to (0 when unknown or ignored), and how a batch is admitted to
	// the pool, given how many of its entries prepaid a pool slot (on error
	// it has failed the batch and every entry).
	replicaSet func(token int64) int
	submit     func(batch *task, prepaid int) error

	max      int
	inflight int
	linger   time.Duration

	gate *gate         // writes admitted and not yet flushed (queued or pending)
	kick chan struct{} // a batch finished

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

// newBatcher starts a batcher that holds up to depth writes (at least max).
func newBatcher(replicaSet func(int64) int, submit func(*task, int) error, max, inflight int, linger time.Duration, depth int) *batcher {
	if depth < max {
		depth = max
	}
	b := &batcher{
		replicaSet: replicaSet, submit: submit,
		max: max, inflight: inflight, linger: linger,
		gate:   newGate(depth),
		kick:   make(chan struct{}, 1),
		groups: make(map[int]*group),
		exited: make(chan struct{}),
	}
	go b.loop()
	return b
}

// done is called when a batch task of group key has completed (task.finish).
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
		in := b.gate.ch
		if b.pending >= int(b.gate.limit) {
			in = nil
		}
		select {
		case t, ok := <-in:
			if !ok {
				b.drain()
				return
			}
			b.add1(t)
			for more := true; more && b.pending < int(b.gate.limit); {
				select {
				case t, ok := <-b.gate.ch:
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
	key := groupKey(b.replicaSet(t.token), t.cl)
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
// until the next lingering group is due (0: none). noLinger (on close)
// flushes partial batches at once; the in-flight cap always holds.
func (b *batcher) flushReady(now time.Time, noLinger bool) time.Duration {
	var next time.Duration
	for key, g := range b.groups {
		for len(g.pending) > 0 && g.running < b.inflight {
			if !noLinger && b.linger > 0 && len(g.pending) < b.max {
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
	b.gate.unreserve(n)

	// The batch lives as long as its most patient entry; entries whose
	// deadline passed are dropped, unwritten, when the batch runs.
	ctx := entries[0].ctx
	latest, _ := ctx.Deadline()
	for _, t := range entries[1:] {
		if d, ok := t.ctx.Deadline(); ok && d.After(latest) {
			ctx, latest = t.ctx, d
		}
	}
	prepaid := 0
	for _, t := range entries {
		if t.prepaid {
			prepaid++
		}
	}
	g.running++
	b.running.Add(1)
	// A refused batch is failed by submit: its entries complete with the
	// error, and its completion calls done like any other batch's.
	_ = b.submit(newBatchTask(ctx, g.cl, entries, b, g.key), prepaid)
}

// drain flushes everything still pending without lingering, within the
// in-flight cap like any flush, and waits for every batch to finish. Only
// the loop calls it, on close.
func (b *batcher) drain() {
	for {
		b.collectDone()
		b.flushReady(time.Now(), true)
		if b.pending == 0 {
			break
		}
		<-b.kick // a batch finished: its group may send the next
	}
	b.running.Wait()
}

// close refuses new writes, flushes every pending one and waits until their
// batches completed, or ctx ends.
func (b *batcher) close(ctx context.Context) error {
	b.gate.close()
	select {
	case <-b.exited:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("engine batcher: pending writes not flushed: %w", ctx.Err())
	}
}
