//go:build integration

package engine

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userapi/userapi/internal/cassandratest"
)

// newTestEngine starts an engine on a fresh keyspace of the local node and
// drops the keyspace when the test ends.
func newTestEngine(t *testing.T, mutate func(*Config)) *Engine {
	t.Helper()
	ks := cassandratest.NewName("engine")
	cfg := Config{
		Hosts:    cassandratest.Hosts(),
		Keyspace: ks,
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e, err := New(ctx, cfg)
	require.NoError(t, err, "engine.New on keyspace %s", ks)
	s := cassandratest.Session(t)
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = e.Close(cctx)
		cassandratest.Drop(s, ks)
	})
	return e
}

func reqCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestCRUD(t *testing.T) {
	e := newTestEngine(t, nil)
	ctx := reqCtx(t)

	u, err := e.CreateUser(ctx, NewUser{Name: "Ada", Email: "ada@example.com", Age: 36}, Options{})
	require.NoError(t, err)
	assert.Equal(t, "Ada", u.Name)
	assert.Equal(t, u.CreatedAt, u.UpdatedAt)

	got, err := e.GetUser(ctx, u.ID, Options{})
	require.NoError(t, err)
	assert.Equal(t, u, got, "read returns exactly what create returned")

	name := "Ada L."
	up, err := e.UpdateUser(ctx, u.ID, UserPatch{Name: &name}, Options{})
	require.NoError(t, err)
	assert.Equal(t, name, up.Name)
	assert.Equal(t, u.Email, up.Email, "unpatched field kept")
	assert.Equal(t, u.CreatedAt, up.CreatedAt)
	assert.True(t, up.UpdatedAt.After(u.UpdatedAt), "updated_at grows")

	up2, err := e.UpdateUser(ctx, u.ID, UserPatch{}, Options{})
	require.NoError(t, err)
	assert.True(t, up2.UpdatedAt.After(up.UpdatedAt), "updated_at grows even within a millisecond")

	got, err = e.GetUser(ctx, u.ID, Options{Consistency: One})
	require.NoError(t, err)
	assert.Equal(t, up2, got)

	require.NoError(t, e.DeleteUser(ctx, u.ID, Options{}))
	require.NoError(t, e.DeleteUser(ctx, u.ID, Options{}), "delete is idempotent")
	_, err = e.GetUser(ctx, u.ID, Options{})
	assert.ErrorIs(t, err, ErrNotFound)
	_, err = e.UpdateUser(ctx, u.ID, UserPatch{Name: &name}, Options{})
	assert.ErrorIs(t, err, ErrNotFound, "update of a deleted user")
}

// TestUpdateNeverResurrects writes an update after a delete of the same row
// straight through the update statement: the delete's tombstone must win.
func TestUpdateNeverResurrects(t *testing.T) {
	e := newTestEngine(t, nil)
	ctx := reqCtx(t)
	u, err := e.CreateUser(ctx, NewUser{Name: "Bo", Email: "bo@example.com", Age: 5}, Options{})
	require.NoError(t, err)
	require.NoError(t, e.DeleteUser(ctx, u.ID, Options{}))
	// The racing update's write lands after the delete.
	require.NoError(t, e.session.Query(e.stmts.update[1], time.Now().UnixMicro(), "ghost", time.Now(), u.ID[:]).Exec())
	_, err = e.GetUser(ctx, u.ID, Options{})
	assert.ErrorIs(t, err, ErrNotFound, "a write after delete must not re-create the row")
}

func TestPagingVisitsEveryRowOnce(t *testing.T) {
	e := newTestEngine(t, nil)
	ctx := reqCtx(t)
	const n = 1000
	in := make([]NewUser, n)
	for i := range in {
		in[i] = NewUser{Name: fmt.Sprintf("user %d", i), Email: fmt.Sprintf("u%d@example.com", i), Age: i % 150}
	}
	created, err := e.CreateUsers(ctx, in, Options{})
	require.NoError(t, err)
	require.Len(t, created, n)

	seen := map[UUID]int{}
	state := ""
	pages := 0
	for {
		p, err := e.ListUsers(ctx, 77, state, Options{})
		require.NoError(t, err)
		for _, u := range p.Users {
			seen[u.ID]++
		}
		pages++
		require.Less(t, pages, 100, "paging must end")
		if p.Next == "" {
			break
		}
		state = p.Next
	}
	assert.Len(t, seen, n, "every row visited")
	for id, c := range seen {
		require.Equal(t, 1, c, "row %s visited once", id)
	}

	// A page that ends exactly at the end of the table says so: no token
	// that would lead to an empty page.
	p1, err := e.ListUsers(ctx, 500, "", Options{})
	require.NoError(t, err)
	require.NotEmpty(t, p1.Next)
	p2, err := e.ListUsers(ctx, 500, p1.Next, Options{})
	require.NoError(t, err)
	assert.Len(t, p2.Users, 500)
	assert.Empty(t, p2.Next, "exactly full last page has no next token")
	all, err := e.ListUsers(ctx, n, "", Options{})
	require.NoError(t, err)
	assert.Len(t, all.Users, n)
	assert.Empty(t, all.Next)

	streamed := 0
	pagesSeen, err := e.StreamUsers(ctx, 100, 250, Options{}, func(p []User) error { streamed += len(p); return nil })
	require.NoError(t, err)
	assert.Equal(t, 250, streamed)
	assert.Equal(t, 3, pagesSeen)

	_, err = e.ListUsers(ctx, 10, state+"x", Options{})
	assert.ErrorIs(t, err, ErrInvalid, "malformed page state")
}

func TestConcurrentCreatesThroughWriteLines(t *testing.T) {
	e := newTestEngine(t, func(c *Config) { c.BatchFixed = true }) // batches from the start, not once the tuner climbs
	ctx := reqCtx(t)
	const n = 200
	ids := make([]UUID, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			u, err := e.CreateUser(ctx, NewUser{Name: fmt.Sprint("c", i), Email: fmt.Sprintf("c%d@example.com", i), Age: i % 100}, Options{})
			ids[i], errs[i] = u.ID, err
		}(i)
	}
	wg.Wait()
	uniq := map[UUID]bool{}
	for i := range ids {
		require.NoError(t, errs[i], "create %d", i)
		uniq[ids[i]] = true
	}
	require.Len(t, uniq, n, "every create got its own id")
	var count int
	require.NoError(t, e.session.Query("SELECT count(*) FROM "+e.cfg.Keyspace+".users").Scan(&count))
	assert.Equal(t, n, count, "every acknowledged row is in Cassandra")
	toReplica, toOther, mixed := e.BatchRouting()
	assert.Greater(t, toReplica, uint64(0), "batches were sent")
	assert.Zero(t, toOther, "every batch went to a replica of its entries")
	assert.Zero(t, mixed, "no batch mixed replica sets")
	for i, id := range ids {
		u, err := e.GetUser(ctx, id, Options{})
		require.NoError(t, err, "read back %d", i)
		assert.Equal(t, fmt.Sprint("c", i), u.Name)
	}
}

func TestOverloadFailsFast(t *testing.T) {
	e := newTestEngine(t, func(c *Config) { c.PoolSize = 1; c.QueueDepth = 1; c.BatchMax = 1 })
	ctx := reqCtx(t)
	u, err := e.CreateUser(ctx, NewUser{Name: "x", Email: "x@example.com", Age: 1}, Options{})
	require.NoError(t, err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[string]int{}
	start := time.Now()
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.GetUser(ctx, newID(), Options{}) // distinct ids: no coalescing
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil, KindOf(err) == ErrNotFound:
				counts["ok"]++
			case KindOf(err) == ErrOverloaded:
				counts["overloaded"]++
			default:
				counts[err.Error()]++
			}
		}()
	}
	wg.Wait()
	assert.Greater(t, counts["overloaded"], 0, "some requests rejected: %v", counts)
	assert.Greater(t, counts["ok"], 0, "some requests served: %v", counts)
	assert.Equal(t, 200, counts["ok"]+counts["overloaded"], "only ok or overloaded: %v", counts)
	assert.Less(t, time.Since(start), 9*time.Second, "rejections are immediate, not timeouts")
	_, err = e.GetUser(ctx, u.ID, Options{})
	require.NoError(t, err, "served again after the spike")
}

func TestCloseFlushesPendingWrites(t *testing.T) {
	// A long linger keeps writes waiting in their lines until Close flushes them.
	e := newTestEngine(t, func(c *Config) { c.BatchLinger = 30 * time.Second; c.BatchMax = 100; c.BatchFixed = true })
	ctx := reqCtx(t)
	const n = 25
	var wg sync.WaitGroup
	ids := make([]UUID, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			u, err := e.CreateUser(ctx, NewUser{Name: "p", Email: "p@example.com", Age: i}, Options{})
			ids[i], errs[i] = u.ID, err
		}(i)
	}
	require.Eventually(t, func() bool { w, _ := linesCount(e.writes); return w == n }, 5*time.Second, 10*time.Millisecond)
	cctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, e.Close(cctx))
	wg.Wait()
	s := cassandratest.Session(t)
	for i := range ids {
		require.NoError(t, errs[i], "write %d acknowledged", i)
		var name string
		require.NoError(t, s.Query("SELECT name FROM "+e.cfg.Keyspace+".users WHERE id = ?", ids[i][:]).Scan(&name), "row %d", i)
	}
	_, err := e.GetUser(ctx, ids[0], Options{})
	assert.ErrorIs(t, err, ErrClosed, "closed engine refuses work")
}

// TestBatchCreateIsAllOrNothingUnderOverload: a batch create that finds no
// room in the queue is refused whole, before any of it is written; one
// larger than the queue is admitted in chunks once there is room.
func TestBatchCreateIsAllOrNothingUnderOverload(t *testing.T) {
	for _, max := range []int{4, 1} {
		t.Run(fmt.Sprintf("BatchMax=%d", max), func(t *testing.T) {
			e := newTestEngine(t, func(c *Config) { c.QueueDepth = 64; c.BatchMax = max })
			ctx := reqCtx(t)
			in := make([]NewUser, 1000)
			for i := range in {
				in[i] = NewUser{Name: fmt.Sprint("n", i), Email: "n@example.com", Age: 1}
			}
			require.True(t, e.pool.gate.reserve(40), "other requests hold most of the queue")
			_, err := e.CreateUsers(ctx, in, Options{})
			require.ErrorIs(t, err, ErrOverloaded)
			var count int
			require.NoError(t, e.session.Query("SELECT count(*) FROM "+e.cfg.Keyspace+".users").Scan(&count))
			assert.Zero(t, count, "nothing of a refused batch is written")
			e.pool.gate.unreserve(40)

			got, err := e.CreateUsers(ctx, in, Options{})
			require.NoError(t, err, "a batch larger than the queue is admitted in chunks")
			assert.Len(t, got, 1000)
			require.NoError(t, e.session.Query("SELECT count(*) FROM "+e.cfg.Keyspace+".users").Scan(&count))
			assert.Equal(t, 1000, count)
		})
	}
}
