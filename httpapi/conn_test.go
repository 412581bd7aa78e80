package httpapi

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// deadlineRecorder is a net.Conn that records the deadlines it is given.
type deadlineRecorder struct {
	net.Conn
	reads, writes []time.Time
}

func (r *deadlineRecorder) SetReadDeadline(t time.Time) error {
	r.reads = append(r.reads, t)
	return nil
}

func (r *deadlineRecorder) SetWriteDeadline(t time.Time) error {
	r.writes = append(r.writes, t)
	return nil
}

func TestCoarseDeadlines(t *testing.T) {
	rec := &deadlineRecorder{}
	c := &coarseConn{Conn: rec, slack: time.Second}
	t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

	// A busy keep-alive connection: idle, read and write deadlines asked
	// for on every request, 1 ms apart.
	for i := range 3000 {
		now := t0.Add(time.Duration(i) * time.Millisecond)
		require.NoError(t, c.SetReadDeadline(now.Add(10*time.Second)))
		require.NoError(t, c.SetReadDeadline(now.Add(10*time.Second)))
		require.NoError(t, c.SetWriteDeadline(now.Add(60*time.Second)))
		// Never early, at most a step late.
		last := rec.reads[len(rec.reads)-1]
		assert.False(t, last.Before(now.Add(10*time.Second)), "read deadline early at request %d", i)
		assert.LessOrEqual(t, last.Sub(now.Add(10*time.Second)), time.Second)
		lastW := rec.writes[len(rec.writes)-1]
		assert.False(t, lastW.Before(now.Add(60*time.Second)), "write deadline early at request %d", i)
	}
	// 3 s of requests: the socket's deadlines moved about once a second.
	assert.LessOrEqual(t, len(rec.reads), 4, "read deadlines given: %v", rec.reads)
	assert.LessOrEqual(t, len(rec.writes), 4, "write deadlines given: %v", rec.writes)

	// Moved back (a shorter timeout, or "now" to wake a reader): at once,
	// exactly... plus the step, so never early.
	n := len(rec.reads)
	back := t0.Add(time.Second)
	require.NoError(t, c.SetReadDeadline(back))
	require.Len(t, rec.reads, n+1)
	assert.Equal(t, back.Add(time.Second), rec.reads[n])

	// Cleared: at once; cleared again: nothing to do.
	require.NoError(t, c.SetReadDeadline(time.Time{}))
	require.Len(t, rec.reads, n+2)
	assert.True(t, rec.reads[n+1].IsZero())
	require.NoError(t, c.SetReadDeadline(time.Time{}))
	assert.Len(t, rec.reads, n+2)

	// SetDeadline sets both.
	nw := len(rec.writes)
	require.NoError(t, c.SetDeadline(time.Time{}))
	assert.Len(t, rec.writes, nw+1)
}

func TestSlackFor(t *testing.T) {
	assert.Equal(t, time.Second, slackFor(10*time.Second, 60*time.Second, 10*time.Second))
	assert.Equal(t, 50*time.Millisecond, slackFor(500*time.Millisecond, 60*time.Second, 10*time.Second))
	assert.Equal(t, time.Second, slackFor(0, 60*time.Second))
}

// BenchmarkDeadlines: what fasthttp's three deadlines per request cost on a
// real socket, and with coarseConn in front of it.
func BenchmarkDeadlines(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			var buf [1]byte
			_, _ = c.Read(buf[:])
		}
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(b, err)
	defer raw.Close()
	for _, bc := range []struct {
		name string
		c    net.Conn
	}{{"socket", raw}, {"coarse", &coarseConn{Conn: raw, slack: time.Second}}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				now := time.Now()
				_ = bc.c.SetReadDeadline(now.Add(10 * time.Second))
				_ = bc.c.SetReadDeadline(now.Add(10 * time.Second))
				_ = bc.c.SetWriteDeadline(now.Add(60 * time.Second))
			}
		})
	}
}
