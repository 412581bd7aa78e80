//go:build integration

package engine

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/userapi/userapi/internal/cqlproxy"
)

// newProxiedEngine starts an engine whose every connection goes through a
// CQL-aware proxy to the real node.
func newProxiedEngine(t *testing.T, mutate func(*Config)) (*Engine, *cqlproxy.Proxy) {
	t.Helper()
	var p *cqlproxy.Proxy
	e := newTestEngine(t, func(c *Config) {
		var err error
		p, err = cqlproxy.Start(net.JoinHostPort(c.Hosts[0], strconv.Itoa(max(c.Port, 9042))))
		require.NoError(t, err)
		c.Dialer = p
		if mutate != nil {
			mutate(c)
		}
	})
	t.Cleanup(p.Close)
	return e, p
}

// A write batch runs under a context of its own: a member whose caller
// gives up while the batch is on the wire must not fail the others
// (issue 21, item 9).
func TestBatchSurvivesAMemberGivingUp(t *testing.T) {
	e, p := newProxiedEngine(t, func(c *Config) { c.BatchMax = 8; c.BatchInflight = 1 })
	releaseLone, releaseBatch := make(chan struct{}), make(chan struct{})
	loneSent, batchSent := make(chan struct{}, 1), make(chan struct{}, 1)
	p.SetRule(func(f cqlproxy.Frame) cqlproxy.Action {
		switch {
		case f.Opcode == cqlproxy.OpExecute && bytes.Contains(f.Body, []byte("lone-writer")):
			loneSent <- struct{}{}
			<-releaseLone
		case f.Opcode == cqlproxy.OpBatch && bytes.Contains(f.Body, []byte("patient-writer")):
			batchSent <- struct{}{}
			<-releaseBatch
		}
		return cqlproxy.Forward
	})

	ctx := reqCtx(t)
	lone := make(chan error, 1)
	go func() {
		_, err := e.CreateUser(ctx, NewUser{Name: "lone-writer", Email: "l@x.io", Age: 1}, Options{})
		lone <- err
	}()
	<-loneSent                                                 // the line's one unit in flight: the next writes wait and go as one batch
	giveUp, cancel := context.WithCancel(context.Background()) // no deadline: the "most patient"
	impatient, patient := make(chan error, 1), make(chan error, 1)
	go func() {
		_, err := e.CreateUser(giveUp, NewUser{Name: "impatient-writer", Email: "i@x.io", Age: 2}, Options{})
		impatient <- err
	}()
	go func() {
		_, err := e.CreateUser(ctx, NewUser{Name: "patient-writer", Email: "p@x.io", Age: 3}, Options{})
		patient <- err
	}()
	require.Eventually(t, func() bool {
		e.writes.mu.Lock()
		defer e.writes.mu.Unlock()
		n := 0
		for _, l := range e.writes.m {
			n += len(l.waiting)
		}
		return n == 2
	}, 10*time.Second, time.Millisecond, "both writes wait in the line")
	close(releaseLone)
	require.NoError(t, <-lone)
	<-batchSent
	cancel() // while the batch is on the wire
	require.Error(t, <-impatient, "the caller that gave up is told so")
	time.Sleep(100 * time.Millisecond) // let the driver see the cancellation, if it listens
	close(releaseBatch)
	require.NoError(t, <-patient, "the other member of the batch is written")
}

// A write whose frame reached Cassandra and whose answer was lost (the
// connection reset after the node executed it) may have been applied: it
// is ErrUnknownOutcome, never ErrUnavailable, whose answer invites a retry
// (issue 21, item 5).
func TestWriteWithLostAnswerIsUnknownOutcome(t *testing.T) {
	// Writes of a replica set run one at a time, in order: the lost one is last.
	e, p := newProxiedEngine(t, func(c *Config) { c.ReconnectInterval = 100 * time.Millisecond; c.BatchMax = 2; c.BatchInflight = 1 })
	p.SetRule(func(f cqlproxy.Frame) cqlproxy.Action {
		if bytes.Contains(f.Body, []byte("answer-lost")) {
			return cqlproxy.ResetAfterAnswer
		}
		return cqlproxy.Forward
	})
	ctx := reqCtx(t)
	_, err := e.CreateUser(ctx, NewUser{Name: "answer-lost", Email: "lost@x.io", Age: 1}, Options{})
	require.Error(t, err)
	require.ErrorIs(t, err, ErrUnknownOutcome, "%v", err)
	require.NotErrorIs(t, err, ErrUnavailable)
	page, lerr := e.ListUsers(ctx, 10, "", Options{})
	require.NoError(t, lerr)
	require.Len(t, page.Users, 1, "the write was applied although its answer was lost")

	// A batch create that fails partway says which users were written.
	users := make([]NewUser, 6)
	for i := range users {
		users[i] = NewUser{Name: "batch-" + strconv.Itoa(i), Email: "b@x.io", Age: i}
	}
	users[5].Name = "answer-lost-in-batch"
	require.Eventually(t, func() bool { _, err := e.GetUser(ctx, page.Users[0].ID, Options{}); return err == nil },
		10*time.Second, 50*time.Millisecond, "connections back")
	written, err := e.CreateUsers(ctx, users, Options{})
	require.ErrorIs(t, err, ErrUnknownOutcome, "%v", err)
	require.Len(t, written, 5, "the users written before the lost answer are reported")
	for i, u := range written {
		require.Equal(t, users[i].Name, u.Name)
		got, err := e.GetUser(ctx, u.ID, Options{})
		require.NoError(t, err, "reported written: %s", u.Name)
		require.Equal(t, u, got)
	}
}

// Batches are bounded in bytes as well as in writes: with room for 1,000
// writes per batch, ~330-byte rows queued up by many callers must never make
// a batch Cassandra refuses as too large (batch_size_fail_threshold, 50 KiB
// by default), which would fail every write in it (issue 21, item 3).
func TestLargeRowsNeverMakeABatchTooLarge(t *testing.T) {
	e := newTestEngine(t, func(c *Config) { c.BatchMax = 1000; c.BatchInflight = 1 })
	ctx := reqCtx(t)
	const clients, creates = 256, 1500
	var next atomic.Int64
	errs := make(chan error, creates)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for i := next.Add(1); i <= creates; i = next.Add(1) {
				n := strconv.FormatInt(i, 10)
				_, err := e.CreateUser(ctx, NewUser{
					Name:  strings.Repeat("n", 100-len(n)) + n,
					Email: strings.Repeat("e", 200) + n + "@example.com", Age: int(i % 150),
				}, Options{})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	failed := map[string]int{}
	for err := range errs {
		failed[err.Error()]++
	}
	require.Empty(t, failed, "every create succeeds")
}

// A batch create of more writes than the queue holds is admitted in
// chunks and succeeds; a queue depth of 0 is no valid setting (issue 21,
// item 4).
func TestBatchCreateLargerThanTheQueue(t *testing.T) {
	for _, batchMax := range []int{1, 4} { // batching off and on
		t.Run(fmt.Sprint("batch-max ", batchMax), func(t *testing.T) {
			e := newTestEngine(t, func(c *Config) { c.QueueDepth = 100; c.BatchMax = batchMax })
			in := make([]NewUser, 500)
			for i := range in {
				in[i] = NewUser{Name: fmt.Sprint("q", i), Email: fmt.Sprint("q", i, "@x.io"), Age: i % 150}
			}
			out, err := e.CreateUsers(reqCtx(t), in, Options{})
			require.NoError(t, err)
			require.Len(t, out, 500)
			page, err := e.ListUsers(reqCtx(t), 1000, "", Options{})
			require.NoError(t, err)
			require.Len(t, page.Users, 500, "every user written")
		})
	}
	cfg := Config{QueueDepth: 0}.Defaults()
	cfg.QueueDepth = 0
	require.ErrorContains(t, cfg.Validate(), "QueueDepth")
}
