package engine

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type recordedBatch struct {
	key    int
	tokens []int64
}

// finishWriteUnit completes a write line's unit as if Cassandra took it, and
// returns the line's next unit as runLoneWrite and runBatch do.
func finishWriteUnit(e *Engine, tk *task) *task {
	runningUnit, key := tk.runningUnit, tk.line
	finishAll(&tk.batch, nil, nil)
	tk.finish(nil)
	if runningUnit {
		return e.writes.next(key, 1)
	}
	return nil
}

// unitTokens are the tokens of a unit's writes: a batch's entries, or a lone write.
func unitTokens(tk *task) []int64 {
	if tk.kind != kindBatch {
		return []int64{tk.token}
	}
	var tokens []int64
	for _, w := range tk.batch {
		tokens = append(tokens, w.token)
	}
	return tokens
}

// batchEngine is a test engine with write lines whose units are recorded,
// not sent. Each unit waits on gate (if non-nil) before completing.
func batchEngine(t *testing.T, max, inflight int, linger time.Duration, r *ring, gate chan struct{}) (*Engine, func() []recordedBatch) {
	var mu sync.Mutex
	var got []recordedBatch
	e := testEngine(t, 16, 1024, func(e *Engine, tk *task) *task {
		if gate != nil {
			<-gate
		}
		mu.Lock()
		got = append(got, recordedBatch{key: tk.line, tokens: unitTokens(tk)})
		mu.Unlock()
		return finishWriteUnit(e, tk)
	})
	e.ring.Store(r)
	e.writes = e.newLines(kindBatch, max, 0, inflight, linger)
	return e, func() []recordedBatch {
		mu.Lock()
		defer mu.Unlock()
		return append([]recordedBatch(nil), got...)
	}
}

// threeNodeRing: RF=1 over tokens -2^62, 0, 2^62 owned by a, b, c.
func threeNodeRing(t *testing.T) *ring {
	r, err := newRing(map[string][]int64{"a": {-1 << 62}, "b": {0}, "c": {1 << 62}}, nil, replication{factor: 1})
	require.NoError(t, err)
	return r
}

// idOwnedBy returns a random id whose row node owns under r.
func idOwnedBy(t *testing.T, r *ring, node string) UUID {
	for {
		id := newID()
		if reps := r.replicas(r.replicaSet(Token(id))); len(reps) == 1 && reps[0] == node {
			return id
		}
	}
}

// addWrite admits a write of a new id that node owns.
func addWrite(t *testing.T, e *Engine, ctx context.Context, node string, cl gocql.Consistency) *task {
	tk := acquireTask(ctx, kindWrite, cl)
	tk.id = idOwnedBy(t, e.ring.Load(), node)
	require.NoError(t, e.enter(e.writes, tk))
	return tk
}

func TestWriteLineLoneWriteFlushesAtOnce(t *testing.T) {
	e, batches := batchEngine(t, 10, 4, 0, threeNodeRing(t), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tk := addWrite(t, e, ctx, "b", gocql.LocalQuorum)
	want := Token(tk.id)
	require.NoError(t, tk.wait(), "a lone write completes without company")
	tk.release()
	require.Len(t, batches(), 1)
	assert.Equal(t, []int64{want}, batches()[0].tokens)
}

func TestWriteLineGroupsByReplicaSetAndConsistency(t *testing.T) {
	gate := make(chan struct{})
	r := threeNodeRing(t)
	e, batches := batchEngine(t, 4, 1, 0, r, gate)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// The first write occupies the only in-flight slot of its group; the rest
	// pile up behind it and must come out grouped.
	var tasks []*task
	tasks = append(tasks, addWrite(t, e, ctx, "a", gocql.LocalQuorum))
	time.Sleep(20 * time.Millisecond)
	for _, node := range []string{"a", "a", "c", "c", "c", "c", "c", "a", "a", "a"} {
		tasks = append(tasks, addWrite(t, e, ctx, node, gocql.LocalQuorum))
	}
	one := addWrite(t, e, ctx, "a", gocql.One)
	tasks = append(tasks, one)
	oneToken := Token(one.id)
	close(gate)
	for i, tk := range tasks {
		require.NoError(t, tk.wait(), "write %d", i)
		tk.release()
	}
	seen := 0
	for _, b := range batches() {
		assert.LessOrEqual(t, len(b.tokens), 4, "BatchMax respected: %v", b.tokens)
		set := r.replicaSet(b.tokens[0])
		for _, tok := range b.tokens {
			assert.Equal(t, set, r.replicaSet(tok), "batch %v mixes replica sets", b.tokens)
		}
		assert.Equal(t, b.key, lineKey(set, gocql.Consistency(b.key&0xf)), "key names the set")
		seen += len(b.tokens)
	}
	assert.Equal(t, len(tasks), seen, "every write was in exactly one batch")
	// The write at ONE shares its replica set with the first at LOCAL_QUORUM but not a batch.
	for _, b := range batches() {
		if len(b.tokens) > 1 {
			for _, tok := range b.tokens {
				assert.NotEqual(t, oneToken, tok, "different consistency levels never share a batch")
			}
		}
	}
}

func TestWriteLineFormsBatchesUnderLoad(t *testing.T) {
	gate := make(chan struct{})
	e, batches := batchEngine(t, 10, 1, 0, threeNodeRing(t), gate)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var tasks []*task
	for i := 0; i < 21; i++ {
		tasks = append(tasks, addWrite(t, e, ctx, "c", gocql.LocalQuorum))
		if i == 0 {
			time.Sleep(20 * time.Millisecond) // first batch leaves alone
		}
	}
	time.Sleep(20 * time.Millisecond)
	close(gate)
	for _, tk := range tasks {
		require.NoError(t, tk.wait())
		tk.release()
	}
	var sizes []int
	for _, b := range batches() {
		sizes = append(sizes, len(b.tokens))
	}
	assert.Equal(t, []int{1, 10, 10}, sizes, "writes waiting for the in-flight batch gather into full batches")
}

func TestWriteLineLingerHoldsPartialBatch(t *testing.T) {
	e, batches := batchEngine(t, 10, 4, 80*time.Millisecond, threeNodeRing(t), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a := addWrite(t, e, ctx, "c", gocql.LocalQuorum)
	time.Sleep(20 * time.Millisecond)
	b := addWrite(t, e, ctx, "c", gocql.LocalQuorum)
	require.NoError(t, a.wait())
	require.NoError(t, b.wait())
	a.release()
	b.release()
	require.Len(t, batches(), 1, "both writes lingered into one batch")
}

func TestDropExpired(t *testing.T) {
	short, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	time.Sleep(5 * time.Millisecond)
	ok1 := acquireTask(context.Background(), kindWrite, gocql.One)
	doomed := acquireTask(short, kindWrite, gocql.One)
	ok2 := acquireTask(context.Background(), kindWrite, gocql.One)
	live := []*task{ok1, doomed, ok2}
	dropExpired(&live, time.Now())
	assert.ElementsMatch(t, []*task{ok1, ok2}, live, "only entries with time left are written")
	assert.ErrorIs(t, doomed.wait(), ErrTimeout, "the dropped entry is told it timed out, unwritten")
	doomed.release()
	for _, tk := range []*task{ok1, ok2} {
		tk.finish(nil)
		tk.release()
	}
}

func TestWriteLineCloseFlushesAndRefuses(t *testing.T) {
	e, batches := batchEngine(t, 100, 1, time.Hour, threeNodeRing(t), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var tasks []*task
	for i := 0; i < 7; i++ {
		tasks = append(tasks, addWrite(t, e, ctx, []string{"a", "b", "c"}[i%3], gocql.LocalQuorum))
	}
	time.Sleep(20 * time.Millisecond)
	assert.Empty(t, batches(), "lingering")
	e.closing.Store(true)
	e.writes.flush()
	for _, tk := range tasks {
		require.NoError(t, tk.wait(), "pending write flushed on close")
		tk.release()
	}
	tk := acquireTask(ctx, kindWrite, gocql.LocalQuorum)
	tk.id = newID()
	assert.ErrorIs(t, e.enter(e.writes, tk), ErrClosed)
	tk.release()
}

// TestAdmitWritesAllOrNothing: a batch create is refused whole when the
// queue cannot hold all of it, with nothing run; admitted, its writes run
// alone or batched in their lines and every place in the queue comes back.
func TestAdmitWritesAllOrNothing(t *testing.T) {
	var ran sync.Map
	e := testEngine(t, 2, 8, func(e *Engine, tk *task) *task {
		for _, tok := range unitTokens(tk) {
			ran.Store(tok, true)
		}
		time.Sleep(time.Millisecond)
		return finishWriteUnit(e, tk)
	})
	e.ring.Store(threeNodeRing(t))
	e.writes = e.newLines(kindBatch, 4, 0, 1, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	writes := func(n int) []*task {
		ts := make([]*task, n)
		for i := range ts {
			ts[i] = acquireTask(ctx, kindWrite, gocql.LocalQuorum)
			ts[i].id = newID()
		}
		return ts
	}

	require.True(t, e.pool.gate.reserve(6), "other requests hold 6 places of 8")
	refused := writes(3)
	assert.ErrorIs(t, e.admitWrites(ctx, refused), ErrOverloaded, "3 writes do not fit the 2 places left")
	for _, tk := range refused {
		assert.ErrorIs(t, tk.wait(), ErrOverloaded, "each write is told")
		_, did := ran.Load(Token(tk.id))
		assert.False(t, did, "a refused batch create runs none of its writes")
		tk.release()
	}
	assert.Equal(t, int64(6), e.pool.gate.held.Load(), "the refused reservation left nothing held")
	e.pool.gate.unreserve(6)

	ok := writes(19) // more than the queue holds: admitted in chunks of 4
	require.NoError(t, e.admitWrites(ctx, ok))
	for i, tk := range ok {
		require.NoError(t, tk.wait(), "write %d", i)
		_, did := ran.Load(Token(tk.id))
		assert.True(t, did, "write %d ran", i)
		tk.release()
	}
	assert.Eventually(t, func() bool {
		w, r := linesCount(e.writes)
		return w == 0 && r == 0 && e.pool.gate.held.Load() == 0
	}, 2*time.Second, time.Millisecond, "lines ended and every place in the queue came back")
}

func TestUnitLenCapsBytes(t *testing.T) {
	ls := &lines{max: 10, maxBytes: 1000}
	w := func(n int) *task { return &task{user: User{Name: strings.Repeat("n", n)}} }
	for _, c := range []struct {
		sizes []int
		want  int
	}{
		{[]int{0, 0, 0}, 3},                   // 128 each
		{[]int{300, 300, 300}, 2},             // 428 each: a third passes 1000
		{[]int{2000, 0}, 1},                   // too large alone: still goes, alone
		{[]int{0, 0, 0, 0, 0, 0, 0, 0, 0}, 7}, // 7 x 128 = 896, 8 x 128 = 1024
	} {
		var ts []*task
		for _, s := range c.sizes {
			ts = append(ts, w(s))
		}
		assert.Equal(t, c.want, ls.unitLen(ts), "sizes %v", c.sizes)
	}
	ls.maxBytes = 0
	assert.Equal(t, 9, ls.unitLen(make([]*task, 9)), "reads: no byte cap")
}

// TestLineFollowsItsTunersLimit: a lowered limit holds within one round of
// units (the units still running end and take nothing until the line is
// under it), every waiting write still runs, and a raised limit lets new
// writes go alone at once.
func TestLineFollowsItsTunersLimit(t *testing.T) {
	gate := make(chan struct{})
	e, _ := batchEngine(t, 1, 4, 0, threeNodeRing(t), gate)
	e.writes.tuner = newTuner([]int{1, 1}, []int{4, 1}, 0, time.Now)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	running := func() int {
		e.writes.mu.Lock()
		defer e.writes.mu.Unlock()
		n := 0
		for _, l := range e.writes.m {
			n += l.running
		}
		return n
	}
	var tasks []*task
	for range 8 {
		tasks = append(tasks, addWrite(t, e, ctx, "a", gocql.LocalQuorum))
	}
	require.Equal(t, 4, running(), "limit 4: four run, four wait")

	e.writes.tuner.level.Store(1) // the tuner lowers the limit to 1
	for want := 3; want >= 1; want-- {
		gate <- struct{}{} // one running unit ends
		require.Eventually(t, func() bool { return running() == want }, time.Second, time.Millisecond,
			"over the limit, an ending unit takes nothing")
	}
	for range 5 { // the last running unit takes the next waiting one each time
		gate <- struct{}{}
		require.Eventually(t, func() bool { return running() <= 1 }, time.Second, time.Millisecond)
		assert.LessOrEqual(t, running(), 1, "never more than the lowered limit")
	}
	for i, tk := range tasks {
		require.NoError(t, tk.wait(), "write %d", i)
		tk.release()
	}
	require.Equal(t, 0, running())

	e.writes.tuner.level.Store(0) // raised to 4: new writes go alone at once
	tasks = tasks[:0]
	for range 3 {
		tasks = append(tasks, addWrite(t, e, ctx, "a", gocql.LocalQuorum))
	}
	require.Equal(t, 3, running())
	for range 3 {
		gate <- struct{}{}
	}
	for _, tk := range tasks {
		require.NoError(t, tk.wait())
		tk.release()
	}
}
