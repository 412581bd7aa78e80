package engine

import (
	"context"
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

// batchEngine is a test engine whose batches are recorded, not sent. Each
// batch waits on gate (if non-nil) before completing.
func batchEngine(t *testing.T, max, inflight int, linger time.Duration, r *ring, gate chan struct{}) (*Engine, func() []recordedBatch) {
	var mu sync.Mutex
	var got []recordedBatch
	e := testEngine(t, 16, 1024, func(e *Engine, tk *task) *task {
		if tk.kind != kindBatch {
			tk.finish(nil)
			return nil
		}
		if gate != nil {
			<-gate
		}
		rb := recordedBatch{key: tk.groupKey}
		for _, w := range tk.batch {
			rb.tokens = append(rb.tokens, w.token)
		}
		mu.Lock()
		got = append(got, rb)
		mu.Unlock()
		finishAll(&tk.batch, nil, nil)
		tk.finish(nil)
		return nil
	})
	e.ring.Store(r)
	e.batch = newBatcher(e.batchReplicaSet, e.submitBatch, max, inflight, linger, 1024)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, e.batch.close(ctx))
	})
	return e, func() []recordedBatch {
		mu.Lock()
		defer mu.Unlock()
		return append([]recordedBatch(nil), got...)
	}
}

// threeNodeRing: RF=1 over tokens -100, 0, 100 owned by a, b, c.
func threeNodeRing(t *testing.T) *ring {
	r, err := newRing(map[string][]int64{"a": {-100}, "b": {0}, "c": {100}}, nil, replication{factor: 1})
	require.NoError(t, err)
	return r
}

func addWrite(t *testing.T, e *Engine, ctx context.Context, token int64, cl gocql.Consistency) *task {
	tk := acquireTask(ctx, kindWrite, cl)
	tk.token = token
	require.NoError(t, e.batch.gate.send(tk))
	return tk
}

func TestBatcherLoneWriteFlushesAtOnce(t *testing.T) {
	e, batches := batchEngine(t, 10, 4, 0, threeNodeRing(t), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tk := addWrite(t, e, ctx, 5, gocql.LocalQuorum)
	require.NoError(t, tk.wait(), "a lone write completes without company")
	tk.release()
	require.Len(t, batches(), 1)
	assert.Equal(t, []int64{5}, batches()[0].tokens)
}

func TestBatcherGroupsByReplicaSetAndConsistency(t *testing.T) {
	gate := make(chan struct{})
	r := threeNodeRing(t)
	e, batches := batchEngine(t, 4, 1, 0, r, gate)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// The first write occupies the only in-flight slot of its group; the rest
	// pile up behind it and must come out grouped.
	var tasks []*task
	tasks = append(tasks, addWrite(t, e, ctx, -150, gocql.LocalQuorum)) // owner a
	time.Sleep(20 * time.Millisecond)
	tokens := []int64{-150, -120, 50, 60, 70, 80, 90, -101, 101, 200}
	for _, tok := range tokens {
		tasks = append(tasks, addWrite(t, e, ctx, tok, gocql.LocalQuorum))
	}
	tasks = append(tasks, addWrite(t, e, ctx, -140, gocql.One))
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
		assert.Equal(t, b.key, groupKey(set, gocql.Consistency(b.key&0xf)), "key names the set")
		seen += len(b.tokens)
	}
	assert.Equal(t, len(tasks), seen, "every write was in exactly one batch")
	// -140 at ONE shares its replica set with -150 at LOCAL_QUORUM but not a batch.
	for _, b := range batches() {
		if len(b.tokens) > 1 {
			for _, tok := range b.tokens {
				assert.NotEqual(t, int64(-140), tok, "different consistency levels never share a batch")
			}
		}
	}
}

func TestBatcherFormsBatchesUnderLoad(t *testing.T) {
	gate := make(chan struct{})
	e, batches := batchEngine(t, 10, 1, 0, threeNodeRing(t), gate)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var tasks []*task
	for i := 0; i < 21; i++ {
		tasks = append(tasks, addWrite(t, e, ctx, 1, gocql.LocalQuorum))
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

func TestBatcherLingerHoldsPartialBatch(t *testing.T) {
	e, batches := batchEngine(t, 10, 4, 80*time.Millisecond, threeNodeRing(t), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a := addWrite(t, e, ctx, 1, gocql.LocalQuorum)
	time.Sleep(20 * time.Millisecond)
	b := addWrite(t, e, ctx, 2, gocql.LocalQuorum)
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

func TestBatcherCloseFlushesAndRefuses(t *testing.T) {
	e, batches := batchEngine(t, 100, 1, time.Hour, threeNodeRing(t), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var tasks []*task
	for i := 0; i < 7; i++ {
		tasks = append(tasks, addWrite(t, e, ctx, int64(i), gocql.LocalQuorum))
	}
	time.Sleep(20 * time.Millisecond)
	assert.Empty(t, batches(), "lingering")
	require.NoError(t, e.batch.close(ctx))
	for _, tk := range tasks {
		require.NoError(t, tk.wait(), "pending write flushed on close")
		tk.release()
	}
	tk := acquireTask(ctx, kindWrite, gocql.LocalQuorum)
	assert.ErrorIs(t, e.batch.gate.send(tk), ErrClosed)
	tk.release()
	tk.release()
}
