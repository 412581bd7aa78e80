package httpapi

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// Request deadlines without a timer each.
//
// Every request bounds its engine work with a deadline. context.WithTimeout
// costs a runtime timer (added to and removed from the timer heap), a
// cancel context, a Done channel and five allocations per request: a few
// percent of a GET's CPU here. A requestCtx costs one small allocation: its
// Done channel is shared by every request whose deadline falls in the same
// millisecond, and one timer closes those channels as their millisecond
// ends. Done therefore closes at most a millisecond after the deadline;
// Deadline reports the exact time (the engine drops queued work by it).
//
// A requestCtx cannot be cancelled early: nothing needs that for a single
// request (the handler waits for the engine's answer or the deadline).
// Streams, which stop when the client goes away, keep context.WithTimeout.

const deadlineStep = time.Millisecond

// clockStart anchors the deadline clock: buckets are counted in steps from
// it on the monotonic clock, so a wall-clock jump moves no deadline.
var clockStart = time.Now()

var closedDone = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// requestCtx is a context.Context that ends at its deadline.
type requestCtx struct {
	deadline time.Time
	done     <-chan struct{}
}

func (c *requestCtx) Deadline() (time.Time, bool) { return c.deadline, true }
func (c *requestCtx) Done() <-chan struct{}       { return c.done }
func (c *requestCtx) Value(any) any               { return nil }

// Err is nil until Done is closed, then context.DeadlineExceeded.
func (c *requestCtx) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// deadlineClock owns the shared Done channels: one per step that some
// request's deadline falls in, closed by one timer in step order.
type deadlineClock struct {
	mu      sync.Mutex
	buckets map[int64]chan struct{} // step index -> Done of deadlines within it
	order   stepHeap                // the steps of buckets, earliest first
	timer   *time.Timer             // fires at order[0]'s end; nil until first use
	armed   int64                   // the step the timer fires for; -1 when idle
}

// deadlines is the clock of every request's deadline.
var deadlines = newDeadlineClock()

func newDeadlineClock() *deadlineClock {
	return &deadlineClock{buckets: make(map[int64]chan struct{}), armed: -1}
}

// after returns a context that ends timeout from now.
func (d *deadlineClock) after(timeout time.Duration) context.Context {
	now := time.Since(clockStart)
	c := &requestCtx{deadline: clockStart.Add(now + timeout)}
	if timeout <= 0 {
		c.done = closedDone
		return c
	}
	step := int64((now + timeout + deadlineStep - 1) / deadlineStep) // the step whose end is at or after the deadline
	d.mu.Lock()
	ch, ok := d.buckets[step]
	if !ok {
		ch = make(chan struct{})
		d.buckets[step] = ch
		heap.Push(&d.order, step)
		if d.armed < 0 || step < d.armed {
			d.arm(step, now)
		}
	}
	d.mu.Unlock()
	c.done = ch
	return c
}

// arm sets the timer for the end of step. Under mu.
func (d *deadlineClock) arm(step int64, now time.Duration) {
	d.armed = step
	wait := time.Duration(step)*deadlineStep - now
	if d.timer == nil {
		d.timer = time.AfterFunc(wait, d.fire)
		return
	}
	d.timer.Reset(wait)
}

// fire closes the Done channel of every step that has ended and arms the
// timer for the next one.
func (d *deadlineClock) fire() {
	now := time.Since(clockStart)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.armed = -1
	for len(d.order) > 0 {
		step := d.order[0]
		if time.Duration(step)*deadlineStep > now {
			d.arm(step, now)
			return
		}
		heap.Pop(&d.order)
		close(d.buckets[step])
		delete(d.buckets, step)
	}
}

// stepHeap is a min-heap of step indexes (container/heap).
type stepHeap []int64

func (h stepHeap) Len() int           { return len(h) }
func (h stepHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h stepHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *stepHeap) Push(x any)        { *h = append(*h, x.(int64)) }
func (h *stepHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
