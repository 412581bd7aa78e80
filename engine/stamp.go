package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"sync/atomic"
	"time"

	"github.com/gocql/gocql"
)

// Write timestamps. Cassandra settles two writes of one cell by their write
// timestamps, cell by cell, and equal timestamps by value: two updates that
// share a timestamp can leave a row that neither wrote. So no two updates of
// a row may share a timestamp, in one instance or across instances, and the
// engine keeps one invariant that lets an update order itself after the row
// it read:
//
//	a row write's timestamp ts (microseconds) lies in the millisecond of the
//	updated_at it writes: updated_at = ts / 1000 ms.
//
// An insert stamps ts from the clock and sets created_at = updated_at from
// it (its id is new: no other write of the row can tie with it); an update
// that read updated_at P stamps ts >= (P+1) ms, above every timestamp the row
// holds, and writes updated_at = ts / 1000 > P. Updates of one id are run one
// after another in this process (writes.go), so each reads the row its
// predecessor wrote: updated_at grows strictly and the later update wins
// whole. Deletes use tombstoneTimestamp, above all of these.
//
// Across instances, two updates of one row can read the same P and, when
// both clocks are behind it, stamp the same millisecond. They never tie: the
// microseconds of an update's timestamp, modulo stampSlots, are the
// instance's slot, which it holds alone. Slots are leased in the keyspace's
// stamp_slots table with a lightweight transaction (claimSlot) and renewed
// in the background (slotLoop); an instance whose lease may have lapsed
// refuses updates (ErrUnavailable, nothing written) until it holds one again.

// stampSlots is how many instances of one keyspace can hold a slot at once;
// an instance then has 1000/stampSlots = 10 update timestamps a millisecond
// (10,000 updates a second) before its stamps run ahead of its clock.
const stampSlots = 100

const (
	slotTTL   = 30 * time.Second // a lease lapses this long after its last renewal
	slotRenew = 10 * time.Second // renewed this often
	// slotMargin: an instance stops using its slot this long before the
	// lease can lapse, for clock rates and the renewal's own round trip.
	slotMargin = 5 * time.Second
)

// stamper issues write timestamps: strictly increasing for inserts (never
// below the wall clock), and for updates in the instance's slot.
type stamper struct {
	last       atomic.Int64 // the last insert timestamp
	lastUpdate atomic.Int64 // the last update timestamp
	// slot and until: the leased slot (stamp.go) and when this instance stops
	// trusting the lease (nanoseconds after epoch, on the monotonic clock: a
	// wall clock stepping back must not stretch a lease); until 0 means no
	// lease is needed (a stamper of its own, in unit tests).
	slot  atomic.Int64
	until atomic.Int64
	epoch time.Time
	owner gocql.UUID // this instance, in stamp_slots
	// lapsed wakes slotLoop when an update found the lease lapsed (after an
	// outage longer than the lease), so that updates wait for one renewal
	// round trip instead of the next tick.
	lapsed chan struct{}
}

func newStamper() *stamper {
	s := &stamper{epoch: time.Now(), lapsed: make(chan struct{}, 1)}
	s.owner, _ = gocql.RandomUUID()
	return s
}

// at is t as stamper.until counts it.
func (s *stamper) at(t time.Time) int64 { return max(1, int64(t.Sub(s.epoch))) }

// next returns an insert's timestamp: max(now, last+1), recorded as last.
func (s *stamper) next() int64 {
	now := time.Now().UnixMicro()
	for {
		last := s.last.Load()
		ts := max(now, last+1)
		if s.last.CompareAndSwap(last, ts) {
			return ts
		}
	}
}

var errSlotLapsed = &Error{Kind: ErrUnavailable, Op: "update", Cause: errors.New("write timestamp slot lease lapsed; renewing")}

// update returns the timestamp of an update that read a row whose
// updated_at is prev: the smallest in this instance's slot that is at least
// the clock, afterRow(prev) and the last update's timestamp + 1.
func (s *stamper) update(prev time.Time) (int64, error) {
	if u := s.until.Load(); u != 0 && s.at(time.Now()) > u {
		select {
		case s.lapsed <- struct{}{}:
		default: // a renewal is already asked for
		}
		return 0, errSlotLapsed
	}
	slot := s.slot.Load()
	floor := max(time.Now().UnixMicro(), afterRow(prev))
	for {
		last := s.lastUpdate.Load()
		ts := inSlot(max(floor, last+1), slot)
		if s.lastUpdate.CompareAndSwap(last, ts) {
			return ts, nil
		}
	}
}

// inSlot is the smallest timestamp >= ts whose microseconds, modulo
// stampSlots, are slot.
func inSlot(ts, slot int64) int64 {
	ms, us := ts/1000, ts%1000
	sub := slot
	if us > slot {
		sub = slot + (us-slot+stampSlots-1)/stampSlots*stampSlots
	}
	if sub >= 1000 {
		ms, sub = ms+1, slot
	}
	return ms*1000 + sub
}

// stampTime is the updated_at (and created_at) a write stamped ts carries.
func stampTime(ts int64) time.Time { return time.UnixMilli(ts / 1000).UTC() }

// afterRow is the lowest timestamp that orders a write after a row whose
// updated_at is prev.
func afterRow(prev time.Time) int64 { return (prev.UnixMilli() + 1) * 1000 }

var errNoSlot = errors.New("every write timestamp slot is held: at most 100 instances may share a keyspace")

// claimSlot leases a slot for this instance: a random free one, tried in
// turn until one is won. It sets s.slot and s.until.
func (e *Engine) claimSlot(ctx context.Context) error {
	s := e.stamps
	n, _ := rand.Int(rand.Reader, big.NewInt(stampSlots))
	first := n.Int64()
	for i := int64(0); i < stampSlots; i++ {
		slot := (first + i) % stampSlots
		start := time.Now()
		prev := map[string]any{}
		applied, err := e.session.Query(e.stmts.claimSlot, slot, s.owner, int(slotTTL/time.Second)).
			WithContext(ctx).SerialConsistency(gocql.LocalSerial).MapScanCAS(prev)
		if err != nil {
			return classify("claim write timestamp slot", err)
		}
		owner, _ := prev["owner"].(gocql.UUID)
		if applied || owner == s.owner {
			s.slot.Store(slot)
			s.until.Store(s.at(start.Add(slotTTL - slotMargin)))
			return nil
		}
	}
	return &Error{Kind: ErrUnavailable, Op: "claim write timestamp slot", Cause: errNoSlot}
}

// renewSlot extends this instance's lease, or claims another slot when the
// lease was lost.
func (e *Engine) renewSlot(ctx context.Context) error {
	s := e.stamps
	start := time.Now()
	applied, err := e.session.Query(e.stmts.renewSlot, int(slotTTL/time.Second), s.owner, s.slot.Load(), s.owner).
		WithContext(ctx).SerialConsistency(gocql.LocalSerial).MapScanCAS(map[string]any{})
	switch {
	case err != nil:
		return classify("renew write timestamp slot", err)
	case applied:
		s.until.Store(s.at(start.Add(slotTTL - slotMargin)))
		return nil
	}
	e.log.Warn("write timestamp slot lost; claiming another", "slot", s.slot.Load())
	return e.claimSlot(ctx)
}

// releaseSlot gives the slot back (Close); best effort: it lapses anyway.
func (e *Engine) releaseSlot(ctx context.Context) {
	s := e.stamps
	_, _ = e.session.Query(e.stmts.releaseSlot, s.slot.Load(), s.owner).
		WithContext(ctx).SerialConsistency(gocql.LocalSerial).MapScanCAS(map[string]any{})
	s.until.Store(1) // no update after this
}

// slotLoop renews the lease every slotRenew, and at once when an update
// found it lapsed.
func (e *Engine) slotLoop() {
	defer e.loops.Done()
	tick := time.NewTicker(slotRenew)
	defer tick.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-tick.C:
		case <-e.stamps.lapsed:
		}
		ctx, cancel := context.WithTimeout(context.Background(), slotRenew)
		if err := e.renewSlot(ctx); err != nil {
			e.log.Warn("write timestamp slot renewal failed", "err", fmt.Sprint(err))
		}
		cancel()
	}
}
