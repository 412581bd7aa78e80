package engine

import (
	"context"
	"errors"
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

// testEngine is an Engine without Cassandra whose workers run fn behind the
// engine's own guard (run): expiry and panics are handled as in production.
func testEngine(t testing.TB, size, depth int, fn func(e *Engine, tk *task)) *Engine {
	t.Helper()
	e := &Engine{cfg: Config{BatchMax: 1}.Defaults(), log: slog.New(slog.NewTextHandler(io.Discard, nil)), stop: make(chan struct{})}
	e.flights.m = make(map[UUID]*task)
	e.exec = func(tk *task) { fn(e, tk) }
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
	e := testEngine(t, 1, 2, func(_ *Engine, tk *task) { <-block; tk.finish(nil) })
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
	e := testEngine(t, 1, 1, func(_ *Engine, tk *task) { ran = true; tk.finish(nil) })
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
	e := testEngine(t, 2, 2, func(_ *Engine, tk *task) { panic("boom") })
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
		e := testEngine(t, 4, 64, func(_ *Engine, tk *task) { <-release; tk.finish(nil) })
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

func TestCoalescedReadsShareOneQuery(t *testing.T) {
	var mu sync.Mutex
	queries := 0
	gate := make(chan struct{})
	e := testEngine(t, 4, 16, func(e *Engine, tk *task) {
		mu.Lock()
		queries++
		mu.Unlock()
		<-gate
		tk.user = User{ID: tk.id, Name: "shared"}
		e.land(tk)
		finishAll(&tk.followers, &tk.user, nil)
		tk.finish(nil)
	})
	id := newID()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	results := make([]User, 20)
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			u, err := e.GetUser(ctx, id, Options{})
			assert.NoError(t, err)
			results[i] = u
		}(i)
	}
	require.Eventually(t, func() bool {
		e.flights.mu.Lock()
		defer e.flights.mu.Unlock()
		l := e.flights.m[id]
		return l != nil && len(l.followers) == len(results)-1
	}, 5*time.Second, time.Millisecond)
	close(gate)
	wg.Wait()
	assert.Equal(t, 1, queries, "twenty readers, one query")
	for i, u := range results {
		assert.Equal(t, "shared", u.Name, "reader %d", i)
	}
}

func TestOutlives(t *testing.T) {
	bg := context.Background()
	short, c1 := context.WithTimeout(bg, time.Second)
	defer c1()
	long, c2 := context.WithTimeout(bg, time.Hour)
	defer c2()
	done, c3 := context.WithCancel(bg)
	c3()
	tests := []struct {
		name           string
		leader, reader context.Context
		want           bool
	}{
		{"longer leader", long, short, true},
		{"shorter leader", short, long, false},
		{"leader without deadline", bg, short, true},
		{"reader without deadline", short, bg, false},
		{"leader gave up", done, short, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, outlives(tc.leader, tc.reader), tc.name)
		})
	}
}

// TestPanicInBatchCompletesEntries: a batch whose execution panics still
// completes every caller with an error instead of leaving them to time out.
func TestPanicInBatchCompletesEntries(t *testing.T) {
	e := testEngine(t, 2, 8, func(e *Engine, tk *task) {
		if tk.kind == kindBatch {
			dropExpired(&tk.batch, time.Now())
			panic("boom")
		}
		tk.finish(nil)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	entries := []*task{acquireTask(ctx, kindWrite, 0), acquireTask(ctx, kindWrite, 0)}
	bt := newBatchTask(ctx, 0, append([]*task(nil), entries...), nil, 0)
	require.NoError(t, e.admit(bt))
	start := time.Now()
	for i, w := range entries {
		err := w.wait()
		require.Error(t, err, "entry %d", i)
		assert.Nil(t, KindOf(err), "a panic is internal: %v", err)
		w.release()
	}
	assert.Less(t, time.Since(start), 4*time.Second, "completed at once, not at the deadline")
}

func TestPoolReserveIsAllOrNothing(t *testing.T) {
	block := make(chan struct{})
	e := testEngine(t, 1, 10, func(_ *Engine, tk *task) { <-block; tk.finish(nil) })
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
		e := testEngine(t, 4, 8, func(e *Engine, tk *task) {
			switch tk.id[0] % 4 {
			case 0:
				panic("boom")
			case 1:
				time.Sleep(time.Millisecond)
			}
			e.land(tk)
			finishAll(&tk.followers, &tk.user, nil)
			tk.finish(nil)
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
