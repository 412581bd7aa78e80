package httpapi

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRequestCtxEndsAtItsDeadline(t *testing.T) {
	start := time.Now()
	c := deadlines.after(30 * time.Millisecond)
	d, ok := c.Deadline()
	require.True(t, ok)
	assert.WithinDuration(t, start.Add(30*time.Millisecond), d, 5*time.Millisecond, "Deadline is the exact time")
	assert.NoError(t, c.Err(), "not ended yet")
	select {
	case <-c.Done():
		t.Fatal("Done closed before the deadline")
	default:
	}
	<-c.Done()
	assert.False(t, time.Now().Before(d), "Done never closes before the deadline")
	assert.ErrorIs(t, c.Err(), context.DeadlineExceeded)
	assert.Nil(t, c.Value("any"))
}

func TestRequestCtxPastDeadlineIsDone(t *testing.T) {
	for _, timeout := range []time.Duration{0, -time.Second} {
		c := deadlines.after(timeout)
		assert.ErrorIs(t, c.Err(), context.DeadlineExceeded, "timeout %s", timeout)
	}
}

// TestRequestCtxManyDeadlines: contexts made from many goroutines with
// deadlines in any order all end, none early nor much late, and the clock
// keeps no bucket after the last one ended.
func TestRequestCtxManyDeadlines(t *testing.T) {
	clock := newDeadlineClock()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var late time.Duration
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				timeout := time.Duration((g*7+i*13)%40+1) * time.Millisecond
				c := clock.after(timeout)
				d, _ := c.Deadline()
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-c.Done()
					now := time.Now()
					assert.False(t, now.Before(d), "ended early")
					mu.Lock()
					late = max(late, now.Sub(d))
					mu.Unlock()
				}()
			}
		}(g)
	}
	wg.Wait()
	t.Logf("latest Done after its deadline: %s", late)
	assert.Less(t, late, time.Second, "every context ended soon after its deadline")
	clock.mu.Lock()
	defer clock.mu.Unlock()
	assert.Empty(t, clock.buckets, "no bucket left")
	assert.Empty(t, clock.order)
	assert.Equal(t, int64(-1), clock.armed, "the timer idles")
}

func BenchmarkRequestDeadline(b *testing.B) {
	b.Run("requestCtx", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c := deadlines.after(5 * time.Second)
				_ = c.Done()
			}
		})
	})
	b.Run("WithTimeout", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_ = c.Done()
				cancel()
			}
		})
	})
}
