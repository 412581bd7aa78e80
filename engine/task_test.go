package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestTaskCompletesExactlyOnce(t *testing.T) {
	tk := acquireTask(context.Background(), kindProbe, 0)
	first := errors.New("first")
	tk.complete(first)
	tk.complete(errors.New("second"))
	tk.complete(nil)
	assert.Same(t, first, tk.wait(), "only the first completion counts")
	select {
	case <-tk.done:
		t.Fatal("a second completion signal was sent")
	default:
	}
	tk.release()
	tk.release()
}

func TestTaskWaitHonoursCallerDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	tk := acquireTask(ctx, kindProbe, 0)
	err := tk.wait()
	assert.ErrorIs(t, err, ErrTimeout)
	// The executor finishes later; the task must still be recycled cleanly.
	tk.release()
	tk.finish(nil)
}

func TestTaskExpired(t *testing.T) {
	past, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	future, cancel2 := context.WithTimeout(context.Background(), time.Hour)
	defer cancel2()
	tests := []struct {
		name string
		ctx  context.Context
		want bool
	}{
		{"no deadline", context.Background(), false},
		{"future deadline", future, false},
		{"past deadline", past, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tk := &task{ctx: tc.ctx}
			assert.Equal(t, tc.want, tk.expired(time.Now()), tc.name)
		})
	}
}

// fakeGet completes a read as runGet does, with tk.user as the row.
func fakeGet(e *Engine, tk *task) *task {
	next := e.flights.advance(tk)
	finishAll(&tk.followers, &tk.user, nil)
	tk.finish(nil)
	return next
}

// testEngine is an Engine without Cassandra whose workers run fn behind the
// engine's own guard (run): expiry and panics are handled as in production.
func testEngine(t testing.TB, size, depth int, fn func(e *Engine, tk *task) *task) *Engine {
	t.Helper()
	e := &Engine{cfg: Config{BatchMax: 1}.Defaults(), log: slog.New(slog.NewTextHandler(io.Discard, nil)), stop: make(chan struct{})}
	e.flights.m = make(map[flightKey]flight)
	e.updates.m = make(map[UUID]updateQueue)
	e.walks = make(chan struct{}, walkLimit(e.cfg.PoolSize))
	e.stamps = newStamper()
	e.executeFn = func(tk *task) *task { return fn(e, tk) }
	e.metrics = newEngineMetrics(e)
	var err error
	e.pool, err = newPool(size, depth, e.run, e.fail)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = e.pool.close(ctx)
	})
	return e
}

func TestPoolOverloadIsImmediate(t *testing.T) {
	block := make(chan struct{})
	e := testEngine(t, 1, 2, func(_ *Engine, tk *task) *task { <-block; tk.finish(nil); return nil })
	ctx := context.Background()
	var tasks []*task
	// 1 running + 1 in the dispatcher's hand + 2 queued fit; then it is full.
	var rejected error
	for i := 0; i < 10 && rejected == nil; i++ {
		tk := acquireTask(ctx, kindProbe, 0)
		start := time.Now()
		if err := e.admit(tk); err != nil {
			rejected = err
			assert.Less(t, time.Since(start), 100*time.Millisecond, "rejection must not wait")
			tk.release()
			break
		}
		tasks = append(tasks, tk)
		time.Sleep(5 * time.Millisecond) // let the dispatcher pick it up
	}
	require.ErrorIs(t, rejected, ErrOverloaded)
	assert.LessOrEqual(t, len(tasks), 4, "capacity is PoolSize + QueueDepth + 1")
	close(block)
	for _, tk := range tasks {
		assert.NoError(t, tk.wait())
		tk.release()
	}
}

func TestWorkerDropsExpiredTask(t *testing.T) {
	ran := false
	e := testEngine(t, 1, 1, func(_ *Engine, tk *task) *task { ran = true; tk.finish(nil); return nil })
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Millisecond))
	defer cancel()
	tk := acquireTask(context.WithoutCancel(ctx), kindProbe, 0)
	tk.ctx = ctx
	err := e.do(tk)
	tk.release()
	assert.ErrorIs(t, err, ErrTimeout)
	assert.False(t, ran, "an expired task must not run")
}

func TestPanicCompletesWithError(t *testing.T) {
	e := testEngine(t, 2, 2, func(_ *Engine, tk *task) *task { panic("boom") })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tk := acquireTask(ctx, kindProbe, 0)
	err := e.do(tk)
	tk.release()
	require.Error(t, err)
	assert.Nil(t, KindOf(err), "a panic is an internal error, not a taxonomy kind: %v", err)
}

// TestGivingUpLeaksNothing: callers that time out while workers still hold
// their tasks leave no goroutine behind once the workers finish.
func TestGivingUpLeaksNothing(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	release := make(chan struct{})
	func() {
		e := testEngine(t, 4, 64, func(_ *Engine, tk *task) *task { <-release; tk.finish(nil); return nil })
		var wg sync.WaitGroup
		for i := 0; i < 32; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
				defer cancel()
				tk := acquireTask(ctx, kindProbe, 0)
				err := e.do(tk)
				tk.release()
				assert.ErrorIs(t, err, ErrTimeout)
			}()
		}
		wg.Wait()
		close(release)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, e.pool.close(ctx))
	}()
	runtime.GC()
}

// TestCoalescedReadsShareOneQuery: readers that arrive while a query of
// their id is in flight never join it (it was sent before they arrived);
// they share the one query sent when it completes.
func TestCoalescedReadsShareOneQuery(t *testing.T) {
	var mu sync.Mutex
	queries := 0
	gate := make(chan struct{})
	e := testEngine(t, 4, 16, func(e *Engine, tk *task) *task {
		mu.Lock()
		queries++
		q := queries
		mu.Unlock()
		if q == 1 {
			<-gate
		}
		tk.user = User{ID: tk.id, Name: fmt.Sprint("query ", q)}
		return fakeGet(e, tk)
	})
	id := newID()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	results := make([]User, 20)
	read := func(i int) {
		defer wg.Done()
		u, err := e.GetUser(ctx, id, Options{})
		assert.NoError(t, err, "reader %d", i)
		results[i] = u
	}
	wg.Add(1)
	go read(0)
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return queries == 1 }, 5*time.Second, time.Millisecond)
	for i := 1; i < len(results); i++ {
		wg.Add(1)
		go read(i)
	}
	key := flightKey{id, e.consistency(Options{})}
	require.Eventually(t, func() bool {
		e.flights.mu.Lock()
		defer e.flights.mu.Unlock()
		n := e.flights.m[key].next
		return n != nil && len(n.followers) == len(results)-2
	}, 5*time.Second, time.Millisecond)
	close(gate)
	wg.Wait()
	assert.Equal(t, 2, queries, "twenty readers, the query in flight and one more")
	assert.Equal(t, "query 1", results[0].Name, "the first reader's own query")
	for i, u := range results[1:] {
		assert.Equal(t, "query 2", u.Name, "reader %d arrived after query 1 was sent", i+1)
	}
	e.flights.mu.Lock()
	assert.Empty(t, e.flights.m, "the flight ended")
	e.flights.mu.Unlock()
}

func TestGroupContextTakesLatestDeadline(t *testing.T) {
	bg := context.Background()
	short, c1 := context.WithTimeout(bg, time.Second)
	defer c1()
	long, c2 := context.WithTimeout(bg, time.Hour)
	defer c2()
	gaveUp, c3 := context.WithTimeout(bg, time.Minute)
	c3()
	tests := []struct {
		name      string
		leader    context.Context
		followers []context.Context
		want      context.Context // whose deadline the query gets; nil: none
	}{
		{"alone", short, nil, short},
		{"follower waits longer", short, []context.Context{long}, long},
		{"leader waits longer", long, []context.Context{short}, long},
		{"leader gave up", gaveUp, []context.Context{short}, gaveUp},
		{"follower without deadline", short, []context.Context{bg}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tk := &task{ctx: tc.leader}
			for _, f := range tc.followers {
				tk.followers = append(tk.followers, &task{ctx: f})
			}
			ctx, cancel := groupContext(tk)
			if cancel != nil {
				defer cancel()
			}
			got, ok := ctx.Deadline()
			if tc.want == nil {
				assert.False(t, ok, "no deadline")
				return
			}
			want, _ := tc.want.Deadline()
			assert.Equal(t, want, got, "deadline")
			if len(tc.followers) > 0 {
				assert.NoError(t, ctx.Err(), "one caller giving up does not end a shared query")
			}
		})
	}
}

// TestPanicInBatchCompletesEntries: a batch whose execution panics still
// completes every caller with an error instead of leaving them to time out,
// and its line goes on: a later write of the same line runs.
func TestPanicInBatchCompletesEntries(t *testing.T) {
	block := make(chan struct{})
	e := testEngine(t, 2, 8, func(e *Engine, tk *task) *task {
		if tk.kind == kindBatch {
			dropExpired(&tk.batch, time.Now())
			panic("boom")
		}
		<-block
		return finishWriteUnit(e, tk)
	})
	e.writes = e.newLines(kindBatch, 4, 0, 1, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	write := func() *task {
		tk := acquireTask(ctx, kindWrite, 0)
		tk.id = newID()
		require.NoError(t, e.enter(e.writes, tk))
		return tk
	}
	first := write() // alone, held by block
	entries := []*task{write(), write()}
	close(block)
	require.NoError(t, first.wait())
	first.release()
	start := time.Now()
	for i, w := range entries {
		err := w.wait()
		require.Error(t, err, "entry %d", i)
		assert.Nil(t, KindOf(err), "a panic is internal: %v", err)
		w.release()
	}
	assert.Less(t, time.Since(start), 4*time.Second, "completed at once, not at the deadline")
	later := write()
	assert.NoError(t, later.wait(), "the line was handed on after the panic")
	later.release()
	// The worker ends the unit and gives its places back just after it
	// completed the caller, so wait for it rather than race it.
	assert.Eventually(t, func() bool {
		waiting, running := linesCount(e.writes)
		return waiting == 0 && running == 0 && e.pool.gate.held.Load() == 0
	}, 5*time.Second, time.Millisecond, "the line ended and every place in the queue was given back")
}

func TestPoolReserveIsAllOrNothing(t *testing.T) {
	block := make(chan struct{})
	e := testEngine(t, 1, 10, func(_ *Engine, tk *task) *task { <-block; tk.finish(nil); return nil })
	require.True(t, e.pool.gate.reserve(8), "8 of 10 fit")
	assert.False(t, e.pool.gate.reserve(3), "3 more do not fit: none admitted")
	assert.True(t, e.pool.gate.reserve(2), "the refused reservation left no trace")
	e.pool.gate.unreserve(10)
	close(block)
}

func TestReleaseMoreThanHeldPanics(t *testing.T) {
	tk := acquireTask(context.Background(), kindProbe, 0)
	tk.release()
	tk.release()
	assert.PanicsWithValue(t, "BUG: engine task released more often than it was held", tk.release,
		"a third release of a task held twice must not recycle it again")
}

// TestLifecycleGivesEveryHoldBack drives every way a task can end (served,
// refused for overload, expired in the queue, caller gave up, panic, Close
// while queued) from many goroutines, under -race, and checks that every
// task is recycled exactly once and no goroutine is left.
func TestLifecycleGivesEveryHoldBack(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	before := liveTasks.Load()
	func() {
		e := testEngine(t, 4, 8, func(e *Engine, tk *task) *task {
			switch tk.id[0] % 4 {
			case 0:
				panic("boom")
			case 1:
				time.Sleep(time.Millisecond)
			}
			return fakeGet(e, tk)
		})
		var wg sync.WaitGroup
		var mu sync.Mutex
		outcomes := map[string]int{}
		for g := 0; g < 16; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := 0; i < 200; i++ {
					ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%3)*time.Millisecond)
					var id UUID
					id[0], id[1] = byte(i), byte(g%2) // some ids shared: followers too
					_, err := e.GetUser(ctx, id, Options{})
					cancel()
					mu.Lock()
					switch k := KindOf(err); {
					case err == nil:
						outcomes["ok"]++
					case k == nil:
						outcomes["internal"]++
					default:
						outcomes[k.Error()]++
					}
					mu.Unlock()
				}
			}(g)
		}
		wg.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, e.pool.close(ctx))
		t.Logf("outcomes: %v", outcomes)
		assert.Positive(t, outcomes["ok"], "some reads served")
		assert.Positive(t, outcomes["internal"], "some panicked")
	}()
	// A caller that gave up releases before the worker; the worker's release
	// comes later, but always before close returns.
	assert.Equal(t, before, liveTasks.Load(), "every acquired task was recycled")
}
