package engine

import (
	"context"
	"testing"
	"time"

	"github.com/gocql/gocql"
)

// BenchmarkSubmitAndComplete: one task through queue, dispatcher, ants
// worker and back, with the query replaced by an immediate completion.
func BenchmarkSubmitAndComplete(b *testing.B) {
	e := testEngine(b, 64, 4096, func(_ *Engine, tk *task) *task { tk.finish(nil); return nil })
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tk := acquireTask(ctx, kindProbe, gocql.One)
			if err := e.do(tk); err != nil {
				b.Error(err)
			}
			tk.release()
		}
	})
}

// BenchmarkWriteLines: writes through their lines, batching and completion, with the
// batch execution replaced by an immediate completion.
func BenchmarkWriteLines(b *testing.B) {
	r, err := newRing(map[string][]int64{"a": {-1 << 62}, "b": {0}, "c": {1 << 62}}, nil, replication{factor: 1})
	if err != nil {
		b.Fatal(err)
	}
	e := testEngine(b, 64, 4096, finishWriteUnit)
	e.ring.Store(r)
	e.writes = e.newLines(kindBatch, 10, 0, 4, 0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		id := newID()
		for pb.Next() {
			id[0]++
			tk := acquireTask(ctx, kindWrite, gocql.LocalQuorum)
			tk.id = id
			if err := e.doInLine(e.writes, tk); err != nil {
				b.Error(err)
			}
			tk.release()
		}
	})
}

// BenchmarkUpdateOrdering: what the ordering of updates adds to each one on
// the worker, without the two queries: a timestamp from the stamper and
// entering and leaving the id's line (distinct ids, as in most traffic).
func BenchmarkUpdateOrdering(b *testing.B) {
	e := testEngine(b, 1, 1, func(_ *Engine, tk *task) *task { tk.finish(nil); return nil })
	prev := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		tk := &task{id: newID()}
		for pb.Next() {
			tk.id[0]++
			if !e.updates.enter(tk) {
				b.Error("a lone update waited")
			}
			ts, _ := e.stamps.update(prev)
			_ = stampTime(ts)
			e.updates.leave(tk)
		}
	})
}
