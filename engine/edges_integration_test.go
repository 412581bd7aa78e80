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

	"github.com/gocql/gocql"
	"github.com/stretchr/testify/assert"
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
	e, p := newProxiedEngine(t, func(c *Config) { c.BatchMax = 8; c.BatchInflight = 1; c.BatchFixed = true })
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

// newEngineOn starts another engine (an instance) on e's keyspace.
func newEngineOn(t *testing.T, e *Engine) *Engine {
	t.Helper()
	cfg := e.cfg
	cfg.Logger = e.log
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o, err := New(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = o.Close(ctx)
	})
	return o
}

// Update timestamps cannot tie across instances: each instance leases a
// slot of its own in the keyspace, and its update stamps lie in it, so two
// instances updating one row with clocks behind its updated_at leave the row
// as one of them wrote it, whole (issue 21, item 10).
func TestUpdateStampsCannotTieAcrossInstances(t *testing.T) {
	a := newTestEngine(t, nil)
	b, c := newEngineOn(t, a), newEngineOn(t, a)
	slots := map[int64]bool{a.stamps.slot.Load(): true, b.stamps.slot.Load(): true, c.stamps.slot.Load(): true}
	require.Len(t, slots, 3, "every instance holds a slot of its own")

	ctx := reqCtx(t)
	for round := 0; round < 20; round++ {
		u, err := a.CreateUser(ctx, NewUser{Name: "racer", Email: "r@x.io", Age: 1}, Options{})
		require.NoError(t, err)
		// Another instance's clock ran ahead: every clock here is behind the row.
		require.NoError(t, a.session.Query("UPDATE "+a.cfg.Keyspace+".users SET updated_at = ? WHERE id = ?",
			time.Now().Add(time.Hour), gocql.UUID(u.ID)).Exec())
		var wg sync.WaitGroup
		for i, e := range []*Engine{a, b, c} {
			wg.Go(func() {
				name, email, age := fmt.Sprint("writer-", i), fmt.Sprint("w", i, "@x.io"), 10+i
				_, err := e.UpdateUser(ctx, u.ID, UserPatch{Name: &name, Email: &email, Age: &age}, Options{})
				assert.NoError(t, err)
			})
		}
		wg.Wait()
		var name, email string
		var age int
		var wName, wEmail, wAge int64
		require.NoError(t, a.session.Query("SELECT name, email, age, writetime(name), writetime(email), writetime(age) FROM "+
			a.cfg.Keyspace+".users WHERE id = ?", gocql.UUID(u.ID)).Scan(&name, &email, &age, &wName, &wEmail, &wAge))
		require.Equal(t, wName, wEmail)
		require.Equal(t, wName, wAge)
		i := strings.TrimPrefix(name, "writer-")
		require.Equal(t, "w"+i+"@x.io", email, "round %d: the row is one writer's, whole", round)
		require.Equal(t, fmt.Sprint(10+int(i[0]-'0')), fmt.Sprint(age), "round %d", round)
		require.True(t, slots[wName%stampSlots], "the winning stamp lies in an instance's slot")
	}

	// At most stampSlots instances: the others are refused with a reason.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	held := 3
	for ; held < stampSlots; held++ {
		o := &Engine{session: a.session, stmts: a.stmts, stamps: newStamper(), log: a.log}
		require.NoError(t, o.claimSlot(ctx), "instance %d", held)
		require.False(t, slots[o.stamps.slot.Load()], "slot %d taken twice", o.stamps.slot.Load())
		slots[o.stamps.slot.Load()] = true
	}
	o := &Engine{session: a.session, stmts: a.stmts, stamps: newStamper(), log: a.log}
	require.ErrorContains(t, o.claimSlot(ctx), "at most 100 instances")
	c.releaseSlot(ctx)
	require.NoError(t, o.claimSlot(ctx), "a released slot is free again")
	require.Equal(t, c.stamps.slot.Load(), o.stamps.slot.Load())
}
