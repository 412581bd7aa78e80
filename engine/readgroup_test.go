package engine

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// Read lines (readgroup.go) without Cassandra: testEngine with e.reads set
// and every id in one replica set, so all reads of a test share one line.

func rowOf(id UUID) User { return User{ID: id, Name: "row " + id.String()} }

// lineRead is the query-free stand-in of runGet (kindGet) and runReadGroup
// (kindReadGroup), with their bookkeeping: each read, taken off the group
// first, gets errExpired if its caller's deadline passed and no follower is
// left, else rowOf(id); it advances its flight (a unit counted in a line puts
// the flight's next query into the line at once, e.reads.enqueue), answers its
// followers and finishes; a group finishes last. Then a unit counted in a
// line returns e.reads.next(line); one outside lines returns its flight's
// next query, as runGet does.
func lineRead(e *Engine, tk *task) *task {
	runningUnit, key := tk.runningUnit, tk.line
	var next *task
	answer := func(r *task) {
		now := time.Now()
		dropExpired(&r.followers, now)
		var err error
		if len(r.followers) == 0 && r.expired(now) {
			err = errExpired
		} else {
			r.user = rowOf(r.id)
		}
		if n := e.flights.advance(r); n != nil {
			if runningUnit {
				e.reads.enqueue(key, n)
			} else {
				next = n
			}
		}
		finishAll(&r.followers, &r.user, err)
		r.finish(err)
	}
	if tk.kind == kindReadGroup {
		for len(tk.batch) > 0 {
			r := tk.batch[len(tk.batch)-1]
			tk.batch = tk.batch[:len(tk.batch)-1]
			answer(r)
		}
		tk.finish(nil)
	} else {
		answer(tk) // tk is its caller's again: not used after this
	}
	if runningUnit {
		return e.reads.next(key, 0)
	}
	return next
}

type readResult struct {
	u    User
	err  error
	took time.Duration
}

func goRead(e *Engine, ctx context.Context, id UUID) <-chan readResult {
	ch := make(chan readResult, 1)
	go func() {
		start := time.Now()
		u, err := e.GetUser(ctx, id, Options{})
		ch <- readResult{u, err, time.Since(start)}
	}()
	return ch
}

// goGiveUp starts a read of id whose caller gives up after 30ms.
func goGiveUp(e *Engine, id UUID) <-chan readResult {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	context.AfterFunc(ctx, cancel)
	return goRead(e, ctx, id)
}

// blockedLine returns an engine of size workers and a queue of depth whose
// lines group up to 4 reads and let 1 query run, its workers running fn,
// and a first read (under ctx) whose query blocks until release is closed.
func blockedLine(t *testing.T, ctx context.Context, size, depth int, fn func(e *Engine, tk *task) *task) (e *Engine, first <-chan readResult, release chan struct{}) {
	t.Helper()
	var started atomic.Int32
	release = make(chan struct{})
	e = testEngine(t, size, depth, func(e *Engine, tk *task) *task {
		if started.Add(1) == 1 {
			<-release
		}
		return fn(e, tk)
	})
	e.reads = e.newLines(kindReadGroup, 4, 0, 1, 0)
	first = goRead(e, ctx, newID())
	require.Eventually(t, func() bool { return started.Load() == 1 }, 5*time.Second, time.Millisecond)
	return e, first, release
}

// linesCount is how many tasks wait in ls and how many units they count.
func linesCount(ls *lines) (waiting, running int) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for _, l := range ls.m {
		waiting, running = waiting+len(l.waiting), running+l.running
	}
	return waiting, running
}

func waitInLine(t *testing.T, e *Engine, n int) {
	t.Helper()
	require.Eventually(t, func() bool { w, _ := linesCount(e.reads); return w == n }, 5*time.Second, time.Millisecond,
		"%d reads waiting in the line", n)
}

// flightWaits reports whether a reader of id waits for its flight's next query.
func flightWaits(e *Engine, id UUID) func() bool {
	return func() bool {
		e.flights.mu.Lock()
		defer e.flights.mu.Unlock()
		return e.flights.m[flightKey{id, e.consistency(Options{})}].next != nil
	}
}

func flightsEnded(e *Engine) bool {
	e.flights.mu.Lock()
	defer e.flights.mu.Unlock()
	return len(e.flights.m) == 0
}

// settle closes the pool and checks that every task acquired since before
// was recycled, every flight and line ended and the gate holds no reservation.
func settle(t *testing.T, e *Engine, before int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, e.pool.close(ctx))
	assert.Eventually(t, func() bool { return liveTasks.Load() == before }, 2*time.Second, time.Millisecond,
		"every task recycled (%d live, want %d)", liveTasks.Load(), before)
	assert.True(t, flightsEnded(e), "every flight ended")
	if e.reads != nil {
		w, r := linesCount(e.reads)
		assert.Equal(t, [2]int{0, 0}, [2]int{w, r}, "no read waits or runs in a line")
	}
	assert.Zero(t, e.pool.gate.held.Load(), "every place in the pool's queue given back")
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestReadLineGroupsWaitingReads(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	before, ctx := liveTasks.Load(), testCtx(t)
	var mu sync.Mutex
	var sizes []int
	e, first, release := blockedLine(t, ctx, 4, 64, func(e *Engine, tk *task) *task {
		mu.Lock()
		sizes = append(sizes, max(1, len(tk.batch)))
		mu.Unlock()
		return lineRead(e, tk)
	})
	ids := make([]UUID, 18)
	res := make([]<-chan readResult, len(ids))
	for i := range ids { // all at once: they race into the line
		ids[i] = newID()
		res[i] = goRead(e, ctx, ids[i])
	}
	waitInLine(t, e, len(ids))
	assert.Equal(t, int64(len(ids)), e.pool.gate.held.Load(), "each waiting read holds a place in the pool's queue")
	close(release)
	require.NoError(t, (<-first).err)
	for i, ch := range res {
		r := <-ch
		require.NoError(t, r.err, "reader %d", i)
		assert.Equal(t, rowOf(ids[i]), r.u, "reader %d gets its own row", i)
	}
	mu.Lock()
	assert.Equal(t, []int{1, 4, 4, 4, 4, 2}, sizes, "the query in flight, then the 18 waiting reads in groups of at most 4")
	mu.Unlock()
	settle(t, e, before)
}

func TestReadGroupPanicFailsMembers(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	before, ctx := liveTasks.Load(), testCtx(t)
	var groups atomic.Int32
	e, first, release := blockedLine(t, ctx, 2, 16, func(e *Engine, tk *task) *task {
		if tk.kind == kindReadGroup && groups.Add(1) == 1 {
			panic("boom")
		}
		return lineRead(e, tk)
	})
	ids := make([]UUID, 6)
	res := make([]<-chan readResult, len(ids))
	for i := range ids { // one by one: the first four form the group that panics
		ids[i] = newID()
		res[i] = goRead(e, ctx, ids[i])
		waitInLine(t, e, i+1)
	}
	// A reader of ids[0] that arrives meanwhile waits for its flight's next query.
	res = append(res, goRead(e, ctx, ids[0]))
	require.Eventually(t, flightWaits(e, ids[0]), 5*time.Second, time.Millisecond)
	close(release)
	require.NoError(t, (<-first).err)
	for i, ch := range res {
		r := <-ch
		if i == 4 || i == 5 {
			assert.NoError(t, r.err, "reader %d queued behind the group that panicked", i)
			assert.Equal(t, rowOf(ids[i]), r.u)
			continue
		}
		assert.ErrorIs(t, r.err, errInternal, "reader %d gets the panic as an internal error", i)
		assert.Less(t, r.took, 5*time.Second, "reader %d completed at once, not at its deadline", i)
	}
	settle(t, e, before)
}

func TestReadLineCloseAnswersWaitingReads(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	before, ctx := liveTasks.Load(), testCtx(t)
	e, first, release := blockedLine(t, ctx, 2, 16, lineRead)
	ids := make([]UUID, 10)
	res := make([]<-chan readResult, len(ids))
	for i := range ids {
		ids[i] = newID()
		res[i] = goRead(e, ctx, ids[i])
	}
	waitInLine(t, e, len(ids))
	// What Engine.Close does to the pool (its session is nil here).
	e.closing.Store(true)
	closed := make(chan error, 1)
	go func() { closed <- e.pool.close(ctx) }()
	live := liveTasks.Load()
	_, err := e.GetUser(ctx, newID(), Options{})
	assert.ErrorIs(t, err, ErrClosed, "a read arriving during Close")
	assert.Equal(t, live, liveTasks.Load(), "a read refused during Close gives both holds back")
	before += liveTasks.Load() - live // counted once, above
	close(release)
	require.NoError(t, <-closed, "Close drained the line")
	require.NoError(t, (<-first).err)
	for i, ch := range res {
		r := <-ch
		if assert.NoError(t, r.err, "reader %d was admitted before Close", i) {
			assert.Equal(t, rowOf(ids[i]), r.u)
		}
	}
	settle(t, e, before)
}

func TestReadLineOverloadIsImmediate(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	before, ctx := liveTasks.Load(), testCtx(t)
	e, first, release := blockedLine(t, ctx, 1, 2, lineRead) // two waiting reads fill a queue of 2
	res := []<-chan readResult{first, goRead(e, ctx, newID())}
	waitInLine(t, e, 1)
	res = append(res, goRead(e, ctx, newID()))
	waitInLine(t, e, 2)
	start := time.Now()
	_, err := e.GetUser(ctx, newID(), Options{})
	assert.ErrorIs(t, err, ErrOverloaded, "the line is full and the pool's queue has no room")
	assert.Less(t, time.Since(start), 100*time.Millisecond, "refused at once, not after waiting")
	w, _ := linesCount(e.reads)
	assert.Equal(t, 2, w, "the refused read did not join the line")
	close(release)
	for i, ch := range res {
		assert.NoError(t, (<-ch).err, "reader %d", i)
	}
	settle(t, e, before)
}

func TestReadLineWaiterTimesOut(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	before, ctx := liveTasks.Load(), testCtx(t)
	e, first, release := blockedLine(t, ctx, 2, 16, lineRead)
	gaveUp := goGiveUp(e, newID())
	waitInLine(t, e, 1)
	other := newID()
	patient := goRead(e, ctx, other)
	waitInLine(t, e, 2)
	select {
	case r := <-gaveUp: // the query ahead still runs
		assert.ErrorIs(t, r.err, ErrTimeout)
	case <-time.After(time.Second):
		t.Fatal("a reader waiting in the line outlived its deadline")
	}
	close(release)
	require.NoError(t, (<-first).err)
	r := <-patient
	require.NoError(t, r.err)
	assert.Equal(t, rowOf(other), r.u, "the read grouped with the one that gave up")
	settle(t, e, before) // the task that gave up is recycled once its group ran
}

func TestReadGroupingOffReadsAlone(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	before, ctx := liveTasks.Load(), testCtx(t)
	var lineTasks atomic.Int32
	e := testEngine(t, 2, 256, func(e *Engine, tk *task) *task {
		if tk.kind != kindGet || tk.runningUnit || tk.holdsQueuePlace {
			lineTasks.Add(1)
		}
		time.Sleep(100 * time.Microsecond)
		return lineRead(e, tk)
	})
	require.Nil(t, e.reads, "ReadGroupMax 1: no read lines")
	ids := []UUID{newID(), newID(), newID(), newID(), newID()}
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				id := ids[(g+i)%len(ids)] // shared ids: coalesced flights too
				u, err := e.GetUser(ctx, id, Options{})
				if assert.NoError(t, err) {
					assert.Equal(t, rowOf(id), u)
				}
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, lineTasks.Load(), "a task ran in a read line")
	settle(t, e, before)
}

// The tests below run the real runReadGroup (and runGet). e.session is nil
// in unit tests, so the query panics at its first call into gocql: that
// stands for any panic in a grouped read, which runOne's guard must turn
// into an error for every read concerned.

func realGroups(e *Engine, tk *task) *task {
	if tk.kind == kindReadGroup {
		return e.runReadGroup(tk)
	}
	return lineRead(e, tk)
}

// realGroupsPanicOnce is realGroups whose second plain read (the first after
// the blocked one) panics, as a panic in runGet would.
func realGroupsPanicOnce() func(e *Engine, tk *task) *task {
	var gets atomic.Int32
	return func(e *Engine, tk *task) *task {
		if tk.kind == kindGet && gets.Add(1) == 2 {
			panic("boom")
		}
		return realGroups(e, tk)
	}
}

// expiredGroup queues, behind the blocked query, a read whose caller gives
// up (with sameID, a reader of its id too: the flight's next query) and live
// more reads, then lets the query go: the waiting reads form one group whose
// first read has expired.
func expiredGroup(t *testing.T, live int, sameID bool, exec func(e *Engine, tk *task) *task) (e *Engine, next <-chan readResult, res []<-chan readResult) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	t.Cleanup(cancel)
	e, first, release := blockedLine(t, ctx, 2, 16, exec)
	id := newID()
	gaveUp := goGiveUp(e, id)
	waitInLine(t, e, 1)
	if sameID {
		next = goRead(e, ctx, id)
		require.Eventually(t, flightWaits(e, id), 5*time.Second, time.Millisecond)
	}
	for i := range live {
		res = append(res, goRead(e, ctx, newID()))
		waitInLine(t, e, i+2)
	}
	require.ErrorIs(t, (<-gaveUp).err, ErrTimeout)
	close(release)
	require.NoError(t, (<-first).err)
	return e, next, res
}

// TestReadGroupPanicAloneAfterExpiry: a group of two whose first read gave
// up hands the other, alone, back to the worker loop as a plain read; a
// panic there must complete that read at once and end its query of the line.
func TestReadGroupPanicAloneAfterExpiry(t *testing.T) {
	t.Cleanup(func() { runtime.GC(); runtime.GC() }) // drop a task the panic path may have corrupted in taskPool
	e, _, res := expiredGroup(t, 1, false, realGroupsPanicOnce())
	r := <-res[0]
	assert.ErrorIs(t, r.err, errInternal, "the read that panicked gets an internal error")
	assert.Less(t, r.took, 500*time.Millisecond, "at once, not at its deadline")
	_, running := linesCount(e.reads)
	assert.Zero(t, running, "the line's query ended")
	later, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := e.GetUser(later, newID(), Options{})
	assert.NoError(t, err, "a later read of the line is served")
}

// TestReadGroupPanicKeepsNextQueryOfExpiredRead: a grouped read that gave up
// has its flight's next query (a reader of its id that arrived meanwhile); a
// panic in the group's query must not lose that query.
func TestReadGroupPanicKeepsNextQueryOfExpiredRead(t *testing.T) {
	e, next, res := expiredGroup(t, 2, true, realGroups)
	for i, ch := range res {
		assert.ErrorIs(t, (<-ch).err, errInternal, "grouped read %d", i)
	}
	r := <-next
	assert.Less(t, r.took, 500*time.Millisecond, "the next read of the id completed at once (err %v), not at its deadline", r.err)
	assert.True(t, flightsEnded(e), "every flight ended")
}
