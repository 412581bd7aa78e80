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
				Hosts: cassandratest.Hosts(), Keyspace: ks, BatchMax: tc.max, BatchInflight: tc.inflight, BatchFixed: tc.max > 1,
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

// BenchmarkUpdate compares what an update costs with the engine's guard
// against resurrection (deletes shadow later writes, so an update is a plain
// read and write) and with the usual alternative, a lightweight transaction
// (UPDATE ... IF EXISTS: Paxos rounds on every update).
func BenchmarkUpdate(b *testing.B) {
	ks := cassandratest.NewName("enginebench")
	e, err := New(context.Background(), Config{
		Hosts: cassandratest.Hosts(), Keyspace: ks,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	s := cassandratest.Session(b)
	defer cassandratest.Drop(s, ks)
	defer e.Close(context.Background())
	ctx := context.Background()
	ids := make([]UUID, 256)
	for i := range ids {
		u, err := e.CreateUser(ctx, NewUser{Name: "u", Email: "u@example.com", Age: 1}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = u.ID
	}
	lwt := "UPDATE " + ks + ".users SET name = ?, updated_at = ? WHERE id = ? IF EXISTS"
	b.Run("engine", func(b *testing.B) {
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				i++
				name := fmt.Sprint("n", i)
				if _, err := e.UpdateUser(ctx, ids[i%len(ids)], UserPatch{Name: &name}, Options{}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("lwt", func(b *testing.B) {
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				i++
				id := ids[i%len(ids)]
				if _, err := e.session.Query(lwt, fmt.Sprint("n", i), time.Now(), id[:]).MapScanCAS(map[string]any{}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
