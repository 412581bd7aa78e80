package engine

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGateReserveChecksBeforeAdding: a large reservation that does not fit
// never makes a small one that does fit fail.
func TestGateReserveChecksBeforeAdding(t *testing.T) {
	g := newGate(10)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				assert.False(t, g.reserve(11), "11 never fit in 10")
			}
		}
	}()
	failed := 0
	for i := 0; i < 200000; i++ {
		if !g.reserve(1) {
			failed++
			continue
		}
		g.unreserve(1)
	}
	close(stop)
	wg.Wait()
	assert.Zero(t, failed, "reserve(1) refused while the gate was empty")
}

// TestFailCompletesTheWholeFlight: a read leader that fails (refused,
// dispatch failed, panicked) completes the readers queued behind it and
// ends the flight, so none waits for its deadline and none joins later.
func TestFailCompletesTheWholeFlight(t *testing.T) {
	e := testEngine(t, 1, 1, func(_ *Engine, tk *task) *task { tk.finish(nil); return nil })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	leader := acquireTask(ctx, kindGet, gocql.One)
	next := acquireTask(ctx, kindGet, gocql.One)
	f1 := acquireTask(ctx, kindGet, gocql.One)
	f2 := acquireTask(ctx, kindGet, gocql.One)
	next.followers = []*task{f1, f2}
	key := flightKey{leader.id, gocql.One}
	e.flights.m[key] = flight{running: leader, next: next}
	boom := errors.New("dispatch failed")
	e.fail(leader, boom)
	for i, tk := range []*task{leader, next, f1, f2} {
		assert.Same(t, boom, tk.wait(), "reader %d completed with the failure", i)
		tk.release()
	}
	assert.Empty(t, e.flights.m, "flight ended")
}

// TestFailCompletesTheUpdateLine: the updates queued behind a failed one
// are completed too, and the id's line ends.
func TestFailCompletesTheUpdateLine(t *testing.T) {
	e := testEngine(t, 1, 1, func(_ *Engine, tk *task) *task { tk.finish(nil); return nil })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ups := []*task{acquireTask(ctx, kindUpdate, 0), acquireTask(ctx, kindUpdate, 0), acquireTask(ctx, kindUpdate, 0)}
	require.True(t, e.updates.enter(ups[0]), "first heads the line")
	assert.False(t, e.updates.enter(ups[1]), "second waits")
	assert.False(t, e.updates.enter(ups[2]), "third waits")
	boom := errors.New("panic")
	e.fail(ups[0], boom)
	for i, tk := range ups {
		assert.Same(t, boom, tk.wait(), "update %d completed", i)
		tk.release()
	}
	assert.Empty(t, e.updates.m, "line ended")
}

// TestUpdatesOfOneIDRunInOrder: updates of one id never run at once; each
// runs after the one before it completed, on the same worker, in order.
func TestUpdatesOfOneIDRunInOrder(t *testing.T) {
	var running, overlap atomic.Int32
	var mu sync.Mutex
	var order []int
	e := testEngine(t, 8, 64, func(e *Engine, tk *task) *task {
		if !e.updates.enter(tk) {
			return nil
		}
		if running.Add(1) > 1 {
			overlap.Add(1)
		}
		time.Sleep(time.Millisecond)
		mu.Lock()
		order = append(order, tk.limit)
		mu.Unlock()
		running.Add(-1)
		next := e.updates.leave(tk)
		tk.finish(nil)
		return next
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			tk := acquireTask(ctx, kindUpdate, 0)
			defer tk.release()
			tk.limit = i
			assert.NoError(t, e.do(tk), "update %d", i)
		}(i)
	}
	wg.Wait()
	assert.Zero(t, overlap.Load(), "two updates of one id ran at once")
	assert.Len(t, order, 20)
	assert.Empty(t, e.updates.m, "line ended")
}

// TestPanicMidFollowersFinishesEachOnce: a read that panics after it
// completed some followers completes the rest once, and none twice (a
// second release would panic with BUG or corrupt a recycled task).
func TestPanicMidFollowersFinishesEachOnce(t *testing.T) {
	before := liveTasks.Load()
	e := testEngine(t, 1, 4, func(e *Engine, tk *task) *task {
		e.flights.advance(tk)
		f := tk.followers[len(tk.followers)-1]
		tk.followers = tk.followers[:len(tk.followers)-1]
		f.finish(nil)
		panic("boom")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	leader := acquireTask(ctx, kindGet, 0)
	fs := []*task{acquireTask(ctx, kindGet, 0), acquireTask(ctx, kindGet, 0), acquireTask(ctx, kindGet, 0)}
	leader.followers = append([]*task(nil), fs...)
	require.NoError(t, e.admit(leader))
	assert.Error(t, leader.wait(), "the leader gets the panic")
	leader.release()
	oks := 0
	for _, f := range fs {
		if f.wait() == nil {
			oks++
		}
		f.release()
	}
	assert.Equal(t, 1, oks, "the follower completed before the panic keeps its answer")
	// The worker gives its last hold back just after the callers woke up.
	assert.Eventually(t, func() bool { return liveTasks.Load() == before }, 5*time.Second, time.Millisecond,
		"every task recycled exactly once")
}

// TestWriteLineCloseRespectsInflight: the flush on close sends lingering
// writes at once but never more batches of a line at once than allowed.
func TestWriteLineCloseRespectsInflight(t *testing.T) {
	var running, most atomic.Int32
	e := testEngine(t, 16, 1024, func(e *Engine, tk *task) *task {
		n := running.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(5 * time.Millisecond)
		running.Add(-1)
		return finishWriteUnit(e, tk)
	})
	e.writes = e.newLines(kindBatch, 2, 0, 1, time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var tasks []*task
	for i := 0; i < 9; i++ {
		tk := acquireTask(ctx, kindWrite, gocql.One)
		tk.id = newID()
		require.NoError(t, e.enter(e.writes, tk))
		tasks = append(tasks, tk)
	}
	e.closing.Store(true)
	e.writes.flush()
	for i, tk := range tasks {
		assert.NoError(t, tk.wait(), "write %d flushed on close", i)
		tk.release()
	}
	assert.Equal(t, int32(1), most.Load(), "batches of one group at once during close")
}

// TestConcurrentWalksAreBounded: table walks beyond the limit are refused
// at once, not queued, and the slot comes back when a walk ends.
func TestConcurrentWalksAreBounded(t *testing.T) {
	gate := make(chan struct{})
	var started atomic.Int32
	e := testEngine(t, 16, 64, func(_ *Engine, tk *task) *task {
		started.Add(1)
		<-gate
		tk.users, tk.state = tk.users[:0], tk.state[:0] // an empty table
		tk.finish(nil)
		return nil
	})
	limit := walkLimit(e.cfg.PoolSize)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < limit; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.StreamUsers(ctx, 10, 0, Options{}, func([]User) error { return nil })
			assert.NoError(t, err)
		}()
	}
	require.Eventually(t, func() bool { return int(started.Load()) == limit }, 5*time.Second, time.Millisecond)
	_, err := e.StreamUsers(ctx, 10, 0, Options{}, func([]User) error { return nil })
	assert.ErrorIs(t, err, ErrOverloaded, "walk %d of %d allowed", limit+1, limit)
	close(gate)
	wg.Wait()
	_, err = e.StreamUsers(ctx, 10, 0, Options{}, func([]User) error { return nil })
	assert.NoError(t, err, "slots come back when walks end")
}

func TestStamperOrdersAfterTheRow(t *testing.T) {
	s := newStamper()
	s.slot.Store(37)
	now := time.Now().UTC().Truncate(time.Millisecond)
	tests := []struct {
		name string
		prev time.Time // the updated_at the update read
	}{
		{"row in the past", now.Add(-time.Hour)},
		{"row this millisecond", now},
		{"row ahead of this clock", now.Add(time.Hour)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts, err := s.update(tc.prev)
			require.NoError(t, err)
			assert.Greater(t, ts, tc.prev.UnixMicro()+999, "above every timestamp of the row's millisecond")
			assert.True(t, stampTime(ts).After(tc.prev), "updated_at grows")
			assert.Equal(t, stampTime(ts).UnixMilli(), ts/1000, "the timestamp lies in updated_at's millisecond")
			assert.Equal(t, int64(37), ts%stampSlots, "in the instance's slot")
		})
	}
	for name, issue := range map[string]func() int64{
		"inserts": s.next,
		"updates": func() int64 { ts, _ := s.update(now); return ts },
	} {
		var wg sync.WaitGroup
		seen := make([][]int64, 4)
		for g := range seen {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := 0; i < 10000; i++ {
					seen[g] = append(seen[g], issue())
				}
			}(g)
		}
		wg.Wait()
		uniq := map[int64]bool{}
		for _, l := range seen {
			for i, ts := range l {
				require.False(t, uniq[ts], "%s: timestamp %d issued twice", name, ts)
				uniq[ts] = true
				if i > 0 {
					require.Greater(t, ts, l[i-1], "%s: timestamps grow", name)
				}
			}
		}
	}
}

// Two instances never stamp an update alike, whatever their clocks: the
// microseconds of every update stamp, modulo stampSlots, are the instance's
// slot; and a lapsed lease refuses updates (issue 21, item 10).
func TestUpdateStampsOfTwoSlotsNeverTie(t *testing.T) {
	a, b := newStamper(), newStamper()
	a.slot.Store(0)
	b.slot.Store(stampSlots - 1)
	ahead := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond) // both clocks behind the row
	seen := map[int64]bool{}
	for i := 0; i < 5000; i++ {
		for _, s := range []*stamper{a, b} {
			ts, err := s.update(ahead)
			require.NoError(t, err)
			require.False(t, seen[ts], "timestamp %d issued twice", ts)
			seen[ts] = true
			require.Equal(t, s.slot.Load(), ts%stampSlots)
			require.Equal(t, stampTime(ts).UnixMilli(), ts/1000)
		}
	}
	for ts := int64(1_000_000_000); ts < 1_000_003_000; ts += 7 {
		for _, slot := range []int64{0, 1, 50, 99} {
			got := inSlot(ts, slot)
			require.GreaterOrEqual(t, got, ts)
			require.Less(t, got-ts, int64(stampSlots+1000), "the next such stamp")
			require.Equal(t, slot, got%stampSlots)
		}
	}
	a.until.Store(a.at(time.Now().Add(-time.Second)))
	_, err := a.update(ahead)
	require.ErrorIs(t, err, ErrUnavailable, "a lapsed lease writes nothing")
}

// TestClosingRefusesReadersOfAFlight: once Close began, a reader of an id
// whose query is in flight is refused too, so a hot id cannot keep a worker
// (and Close) busy with readers that were never admitted.
func TestClosingRefusesReadersOfAFlight(t *testing.T) {
	gate := make(chan struct{})
	e := testEngine(t, 2, 4, func(e *Engine, tk *task) *task { <-gate; return fakeGet(e, tk) })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	id := newID()
	first := make(chan error, 1)
	go func() { _, err := e.GetUser(ctx, id, Options{}); first <- err }()
	require.Eventually(t, func() bool { e.flights.mu.Lock(); defer e.flights.mu.Unlock(); return len(e.flights.m) == 1 },
		5*time.Second, time.Millisecond)
	e.closing.Store(true)
	_, err := e.GetUser(ctx, id, Options{})
	assert.ErrorIs(t, err, ErrClosed, "a reader arriving during Close")
	close(gate)
	assert.NoError(t, <-first, "the read admitted before Close is served")
}
