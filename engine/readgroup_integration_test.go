//go:build integration

package engine

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadGroupsAnswerEachRead: with one query in flight per line, 64
// readers of 200 ids (a quarter of them never written) must queue and be
// grouped, and every read still gets exactly its own row or ErrNotFound.
func TestReadGroupsAnswerEachRead(t *testing.T) {
	e := newTestEngine(t, func(c *Config) { c.ReadGroupInflight, c.ReadGroupFixed = 1, true })
	ctx := reqCtx(t)
	const n = 200
	ids := make([]UUID, n)
	want := make(map[UUID]User, n)
	for i := range ids {
		if i%4 == 3 {
			ids[i] = UUID(gocql.TimeUUID()) // never written
			continue
		}
		u, err := e.CreateUser(ctx, NewUser{Name: fmt.Sprint("g", i), Email: fmt.Sprint("g", i) + "@x.io", Age: i}, Options{})
		require.NoError(t, err)
		ids[i], want[u.ID] = u.ID, u
	}
	var reads, missing atomic.Int64
	var wg sync.WaitGroup
	for r := 0; r < 64; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			for i := 0; i < 150; i++ {
				id := ids[(r*7+i*13)%n]
				rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				got, err := e.GetUser(rctx, id, Options{})
				cancel()
				w, exists := want[id]
				if !exists {
					if !assert.ErrorIs(t, err, ErrNotFound, "id %s was never written", id) {
						return
					}
					missing.Add(1)
				} else if !assert.NoError(t, err) || !assert.Equal(t, w, got, "row of %s", id) {
					return
				}
				reads.Add(1)
			}
		}(r)
	}
	wg.Wait()
	grouped := readGroupCount(e)
	t.Logf("%d reads (%d not found), %d grouped queries", reads.Load(), missing.Load(), grouped)
	assert.Equal(t, int64(64*150), reads.Load())
	assert.Positive(t, grouped, "reads queued behind one query per line formed no group")
}

// TestReadGroupingOffSendsReadsAlone: ReadGroupMax 1 never groups.
func TestReadGroupingOffSendsReadsAlone(t *testing.T) {
	e := newTestEngine(t, func(c *Config) { c.ReadGroupMax = 1 })
	require.Nil(t, e.reads)
	ctx := reqCtx(t)
	u, err := e.CreateUser(ctx, NewUser{Name: "a", Email: "a@x.io", Age: 1}, Options{})
	require.NoError(t, err)
	var wg sync.WaitGroup
	for r := 0; r < 32; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				_, err := e.GetUser(ctx, u.ID, Options{})
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, readGroupCount(e))
}

// readGroupCount is how many grouped queries e sent, from its /metrics text.
func readGroupCount(e *Engine) uint64 {
	var b bytes.Buffer
	e.WriteMetrics(&b)
	for _, line := range strings.Split(b.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "userapi_engine_read_group_size_count "); ok {
			n, err := strconv.ParseUint(v, 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return 0
}
