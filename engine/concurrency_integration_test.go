//go:build integration

package engine

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userapi/userapi/internal/cassandratest"
)

// TestRacingUpdatesNeverMix races complementary updates of the same users,
// A {name: a, email: a@} against B {name: b, email: b@}: the stored row is
// always one request's, never a mix; the two answers carry different
// updated_at; the stored row is the one with the later updated_at, which
// grows strictly from round to round.
func TestRacingUpdatesNeverMix(t *testing.T) {
	e := newTestEngine(t, nil)
	const users, rounds = 250, 4 // 1,000 pairs
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	in := make([]NewUser, users)
	for i := range in {
		in[i] = NewUser{Name: "start", Email: "start@x.io", Age: 1}
	}
	created, err := e.CreateUsers(ctx, in, Options{})
	require.NoError(t, err)
	last := make([]time.Time, users)
	for i, u := range created {
		last[i] = u.UpdatedAt
	}
	var mixed, sameUpdatedAt, wrongWinner, notIncreasing int
	for r := 0; r < rounds; r++ {
		type answer struct{ a, b User }
		answers := make([]answer, users)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, u := range created {
			for side, who := range []string{"a", "b"} {
				wg.Add(1)
				go func(i, side int, who string) {
					defer wg.Done()
					// Complementary: a writes {b<r>, a<r>@}, b writes {a<r>, b<r>@}.
					other := map[string]string{"a": "b", "b": "a"}[who]
					name, email := fmt.Sprintf("%s%d", other, r), fmt.Sprintf("%s%d@x.io", who, r)
					<-start
					got, err := e.UpdateUser(ctx, u.ID, UserPatch{Name: &name, Email: &email}, Options{})
					require.NoError(t, err, "round %d user %d side %s", r, i, who)
					if side == 0 {
						answers[i].a = got
					} else {
						answers[i].b = got
					}
				}(i, side, who)
			}
		}
		close(start)
		wg.Wait()
		for i, u := range created {
			var name, email string
			var updated time.Time
			require.NoError(t, e.session.Query("SELECT name, email, updated_at FROM "+e.cfg.Keyspace+".users WHERE id = ?",
				gocql.UUID(u.ID)).Consistency(gocql.LocalQuorum).Scan(&name, &email, &updated))
			a, b := answers[i].a, answers[i].b
			// a wrote {b<r>, a<r>@}, b wrote {a<r>, b<r>@}: a row is whole when
			// name and email name different letters.
			if name[:1] == email[:1] {
				mixed++
			}
			if a.UpdatedAt.Equal(b.UpdatedAt) {
				sameUpdatedAt++
			}
			winner := a
			if b.UpdatedAt.After(a.UpdatedAt) {
				winner = b
			}
			if winner.Name != name || winner.Email != email || !winner.UpdatedAt.Equal(updated.UTC()) {
				wrongWinner++
			}
			if !a.UpdatedAt.After(last[i]) || !b.UpdatedAt.After(last[i]) {
				notIncreasing++
			}
			last[i] = updated.UTC()
		}
	}
	t.Logf("%d racing pairs: %d mixed rows, %d pairs with equal updated_at, %d rows not the later update's, %d updated_at not increasing",
		users*rounds, mixed, sameUpdatedAt, wrongWinner, notIncreasing)
	assert.Zero(t, mixed, "rows mixed from two requests")
	assert.Zero(t, sameUpdatedAt, "racing updates answered the same updated_at")
	assert.Zero(t, wrongWinner, "stored row is not the update with the later updated_at")
	assert.Zero(t, notIncreasing, "updated_at did not grow")
}

// TestCreateHeldInQueueThenUpdate holds each insert in its write line (linger)
// before it is sent: its write timestamp must still be its created_at, and
// an update acknowledged after it must win.
func TestCreateHeldInQueueThenUpdate(t *testing.T) {
	e := newTestEngine(t, func(c *Config) { c.BatchLinger = 50 * time.Millisecond; c.BatchMax = 100; c.BatchFixed = true })
	ctx := reqCtx(t)
	for i := 0; i < 20; i++ {
		u, err := e.CreateUser(ctx, NewUser{Name: "held", Email: "held@x.io", Age: i}, Options{})
		require.NoError(t, err)
		var insertTS int64
		require.NoError(t, e.session.Query("SELECT writetime(name) FROM "+e.cfg.Keyspace+".users WHERE id = ?",
			gocql.UUID(u.ID)).Scan(&insertTS))
		assert.Equal(t, u.CreatedAt.UnixMilli(), insertTS/1000,
			"try %d: the insert's write timestamp (%d us) is its created_at (%s)", i, insertTS, u.CreatedAt)
		name := fmt.Sprint("after", i)
		up, err := e.UpdateUser(ctx, u.ID, UserPatch{Name: &name}, Options{})
		require.NoError(t, err)
		assert.True(t, up.UpdatedAt.After(u.CreatedAt), "try %d: updated_at grows", i)
		got, err := e.GetUser(ctx, u.ID, Options{})
		require.NoError(t, err)
		assert.Equal(t, name, got.Name, "try %d: the acknowledged update is visible", i)
	}
}

// TestBatchCreateAllOrNothingUnderReadOverload sends batch creates while
// reads keep the pool's queue full: each batch ends fully written or not
// at all, checked in CQL.
func TestBatchCreateAllOrNothingUnderReadOverload(t *testing.T) {
	// 12 readers leave the queue room now and then; 64 keep it full.
	for _, readers := range []int{12, 64} {
		t.Run(fmt.Sprint(readers, " readers"), func(t *testing.T) {
			batchCreatesUnderReads(t, readers)
		})
	}
}

func batchCreatesUnderReads(t *testing.T, readers int) {
	e := newTestEngine(t, func(c *Config) { c.PoolSize = 2; c.QueueDepth = 32; c.BatchMax = 4; c.BatchFixed = true })
	stopReaders := readAlong(e, readers, 5*time.Second, func() UUID { return newID() })
	outcomes := map[string]int{}
	for i := 0; i < 40; i++ {
		in := make([]NewUser, 24)
		for j := range in {
			in[j] = NewUser{Name: fmt.Sprint("b", i, "-", j), Email: "b@x.io", Age: j}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := e.CreateUsers(ctx, in, Options{})
		cancel()
		// The ids are the engine's; find the batch's rows by name.
		var n int
		iter := e.session.Query("SELECT name FROM " + e.cfg.Keyspace + ".users").Iter()
		var name string
		for iter.Scan(&name) {
			if strings.HasPrefix(name, fmt.Sprint("b", i, "-")) {
				n++
			}
		}
		require.NoError(t, iter.Close())
		switch {
		case err == nil:
			outcomes["written"]++
			assert.Len(t, out, len(in))
			assert.Equal(t, len(in), n, "batch %d: acknowledged, so every row is stored", i)
		default:
			outcomes[KindOf(err).Error()]++
			assert.Zero(t, n, "batch %d refused (%v) yet %d of %d rows were written", i, err, n, len(in))
		}
	}
	stopReaders()
	t.Logf("batch creates under read overload: %v", outcomes)
}

// TestHotIDReadsCoalesce: 64 concurrent readers of one id share queries.
func TestHotIDReadsCoalesce(t *testing.T) {
	e := newTestEngine(t, nil)
	ctx := reqCtx(t)
	u, err := e.CreateUser(ctx, NewUser{Name: "hot", Email: "hot@x.io", Age: 1}, Options{})
	require.NoError(t, err)
	before := e.metrics.coalesced.Get()
	var reads atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(2 * time.Second)
	for g := 0; g < 64; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				got, err := e.GetUser(rctx, u.ID, Options{})
				cancel()
				if !assert.NoError(t, err) || !assert.Equal(t, u.ID, got.ID) {
					return
				}
				reads.Add(1)
			}
		}()
	}
	wg.Wait()
	shared := e.metrics.coalesced.Get() - before
	share := float64(shared) / float64(reads.Load())
	t.Logf("64 readers of one id: %d reads, %d coalesced (%.1f%%), %.0f reads/s",
		reads.Load(), shared, 100*share, float64(reads.Load())/2)
	assert.GreaterOrEqual(t, share, 0.5, "coalesced share of hot-id reads")
}

// TestReadYourWrites: a reader that starts after its update was
// acknowledged sees that update, while other readers keep the id hot (their
// deadlines later than the writer's own reads).
func TestReadYourWrites(t *testing.T) {
	e := newTestEngine(t, nil)
	ctx := reqCtx(t)
	u, err := e.CreateUser(ctx, NewUser{Name: "v0", Email: "ryw@x.io", Age: 1}, Options{})
	require.NoError(t, err)
	stopReaders := readAlong(e, 63, 30*time.Second, func() UUID { return u.ID })
	stale := 0
	for i := 1; i <= 300; i++ {
		name := fmt.Sprint("v", i)
		_, err := e.UpdateUser(ctx, u.ID, UserPatch{Name: &name}, Options{})
		require.NoError(t, err)
		rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		got, err := e.GetUser(rctx, u.ID, Options{})
		cancel()
		require.NoError(t, err)
		if got.Name != name {
			stale++
		}
	}
	stopReaders()
	t.Logf("read-your-writes: %d stale reads of 300", stale)
	assert.Zero(t, stale, "a read started after an acknowledged update returned an older row")
}

// readAlong starts n readers that read id() in a loop, each read with the
// given timeout, until the returned function is called (it waits for them).
func readAlong(e *Engine, n int, timeout time.Duration, id func() UUID) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				_, _ = e.GetUser(ctx, id(), Options{})
				cancel()
			}
		}()
	}
	return func() { close(done); wg.Wait() }
}

// TestCloseDuringBatchCreate closes the engine while a batch create is
// being handed to the write lines: the batch ends fully written (Close flushes
// what it accepted) or refused with nothing written, checked in CQL.
func TestCloseDuringBatchCreate(t *testing.T) {
	for try := 0; try < 4; try++ {
		e := newTestEngine(t, func(c *Config) { c.BatchLinger = time.Second; c.BatchMax = 50; c.BatchFixed = true })
		in := make([]NewUser, 1000)
		for i := range in {
			in[i] = NewUser{Name: "c", Email: "c@x.io", Age: i}
		}
		done := make(chan error, 1)
		go func() {
			_, err := e.CreateUsers(reqCtx(t), in, Options{})
			done <- err
		}()
		for e.pool.gate.held.Load() == 0 && len(done) == 0 { // reserved: the hand-over starts
			runtime.Gosched()
		}
		cctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		require.NoError(t, e.Close(cctx))
		cancel()
		err := <-done
		var n int
		require.NoError(t, cassandratest.Session(t).Query("SELECT count(*) FROM "+e.cfg.Keyspace+".users").Scan(&n))
		if err != nil {
			assert.ErrorIs(t, err, ErrClosed, "try %d", try)
			assert.Zero(t, n, "try %d: refused (%v) yet %d of %d rows written", try, err, n, len(in))
		} else {
			assert.Equal(t, len(in), n, "try %d: acknowledged, so every row is stored", try)
		}
		t.Logf("try %d: err=%v rows=%d", try, err, n)
	}
}
