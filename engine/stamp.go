package engine

import (
	"crypto/rand"
	"encoding/binary"
	"sync/atomic"
	"time"
)

// Write timestamps. Cassandra settles two writes of one cell by their write
// timestamps, cell by cell, and equal timestamps by value: two updates that
// share a timestamp can leave a row that neither wrote. So every row write
// of this process gets its own timestamp, and the engine keeps one invariant
// that lets an update order itself after the row it read:
//
//	a row write's timestamp ts (microseconds) lies in the millisecond of the
//	updated_at it writes: updated_at = ts / 1000 ms.
//
// An insert stamps ts from the clock and sets created_at = updated_at from
// it; an update that read updated_at P stamps ts >= (P+1) ms, above every
// timestamp the row holds, and writes updated_at = ts / 1000 > P. Updates of
// one id are run one after another in this process (updates.go), so each
// reads the row its predecessor wrote: updated_at grows strictly and the
// later update wins whole. Deletes use tombstoneTimestamp, above all of these.

// stamper issues strictly increasing microsecond timestamps: never below the
// wall clock, never twice the same, never below a caller's floor.
type stamper struct {
	last atomic.Int64
	// salt (0-999 us, random per process) is added to a floor, which is
	// always a whole millisecond: two instances whose clocks are both behind
	// a row's updated_at would otherwise stamp the very same floor and tie.
	salt int64
}

func newStamper() *stamper {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return &stamper{salt: int64(binary.BigEndian.Uint16(b[:])) % 1000}
}

// next returns max(now, last+1, floor+salt) (floor 0: none) and records it
// as last.
func (s *stamper) next(floor int64) int64 {
	if floor > 0 {
		floor += s.salt
	}
	now := time.Now().UnixMicro()
	for {
		last := s.last.Load()
		ts := max(now, last+1, floor)
		if s.last.CompareAndSwap(last, ts) {
			return ts
		}
	}
}

// stampTime is the updated_at (and created_at) a write stamped ts carries.
func stampTime(ts int64) time.Time { return time.UnixMilli(ts / 1000).UTC() }

// afterRow is the lowest timestamp that orders a write after a row whose
// updated_at is prev.
func afterRow(prev time.Time) int64 { return (prev.UnixMilli() + 1) * 1000 }
