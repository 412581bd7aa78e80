//go:build integration

package engine

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/userapi/userapi/internal/cassandratest"
)

// BenchmarkCreates measures creates/s from 64 concurrent callers against the
// real node: the default batching, batching off (BatchMax=1) and larger
// batches (BatchMax=10). Run with
//
//	go test -tags integration -run XXX -bench Creates -benchtime 5s -count 5 ./engine
//
// and compare medians: -count interleaves nothing, so run it a few times.
func BenchmarkCreates(b *testing.B) {
	for _, tc := range []struct {
		name     string
		max      int
		inflight int
	}{{"default", 0, 0}, {"batchmax1", 1, 0}, {"max10", 10, 0}} {
		b.Run(tc.name, func(b *testing.B) {
			ks := cassandratest.NewName("enginebench")
			e, err := New(context.Background(), Config{
				Hosts: cassandratest.Hosts(), Keyspace: ks, BatchMax: tc.max, BatchInflight: tc.inflight,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			})
			if err != nil {
				b.Fatal(err)
			}
			s := cassandratest.Session(b)
			defer cassandratest.Drop(s, ks)
			defer e.Close(context.Background())
			b.SetParallelism(64)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					i++
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					_, err := e.CreateUser(ctx, NewUser{Name: fmt.Sprint("bench ", i), Email: fmt.Sprintf("b%d@example.com", i), Age: i % 100}, Options{})
					cancel()
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "creates/s")
		})
	}
}
