package engine

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// tuner chooses, for the lines of one kind, how many members one unit may
// take (size) and how many units of one replica set may run at once
// (limit), from the throughput the node gives at each choice: rows written
// for the write lines, reads answered for the read lines.
//
// What pays is a property of the node and of the way to it, not of the
// engine, so the tuner measures rather than guesses (docs/architecture.md,
// "Adaptive batching and grouping"):
//
//   - Writes: on a node that syncs its commit log before acknowledging
//     (commitlog_sync group or batch), Cassandra applies a batch's local
//     mutations one after another, each waiting for a sync, and lone writes
//     sharing one sync win; with periodic sync (Cassandra's default) a batch
//     saves per-request work on both sides and bigger batches win. The
//     ladder is lone writes (open: as many in flight as the pool runs), then
//     sizes of powers of four up to Config.BatchMax (4, 16 by default), each
//     keeping about 2 x Config.BatchInflight rows in flight per replica set
//     (size 16: 4 units): steps big enough that what one gains shows through
//     a noisy machine's spread (periodic sync measured 1.2-1.3x from 1 to
//     16, a few percent per doubling). It starts with lone writes.
//   - Reads: grouping distinct ids into one IN query saves a query's work on
//     both sides, but a read waits for a running query of its replica set to
//     end before it leaves in the next group. With the node close by (a round
//     trip shorter than its work) that wait is short and the saving large:
//     Config.ReadGroupInflight queries in flight (2), the rest grouped,
//     measured up to 2x the reads/s of a query each. Across a network the
//     round trip is the wait, and reads sent at once win. The ladder is open
//     (as many queries in flight as the pool runs: reads go at once, and
//     group only beyond that) and grouped; it starts grouped.
//   - Every so often it probes a neighbouring step with paired epochs in
//     ABBA order: incumbent, candidate, candidate, incumbent, incumbent,
//     candidate, ... (tunerPairs pairs of tunerEpoch each, the first
//     tunerSettle of each epoch not counted), and moves when the median of
//     the candidate's throughput over its incumbent's, pair by pair, is at
//     least tunerGain. Pairs cancel the slow drift of a noisy machine, and
//     their alternating order a trend within the probe (a load still
//     warming up, which would otherwise favour whichever step runs second);
//     the median ignores one odd pair. When the first two pairs agree by
//     tunerClear or more, the probe ends there: an obvious answer is not
//     paid for twice.
//   - An accepted step is followed at once by another in the same
//     direction. A rejected step that was about even with the incumbent
//     (within tunerGain either way) is followed at once by a probe one step
//     further: a batch size whose in-flight limit is above a replica set's
//     callers forms no queue, so no batches, and gains nothing where the
//     next size, with a lower limit, would. Otherwise a rejection doubles
//     the wait before the next probe
//     (tunerRejectWait up to tunerMaxWait) and turns the next probe around, so
//     a node restarted with the other sync mode, or moved behind a network,
//     is relearned within tunerMaxWait plus a few probes.
//   - Only busy epochs count: at least tunerMinUnits units and tunerMinRows
//     rows within four epochs. Under a lighter load every choice gives the
//     offered rate and a probe is abandoned without a verdict.
//
// The completion path (done) takes a mutex held for a few additions; the
// decisions run at most once per epoch, on whichever worker closes it.
type tuner struct {
	sizes  []int // most members per unit at each step
	limits []int // units of one replica set in flight at each step
	now    func() time.Time

	level atomic.Int32 // index in sizes in force now

	mu       sync.Mutex
	state    tunerState
	epoch    tunerEpochStats
	rates    []float64 // throughput of the probe's epochs so far, incumbent first
	incLevel int       // the incumbent's level during a probe
	candDir  int       // +1 or -1: the next probe's direction
	candStep int       // 1, or 2 right after an inconclusive probe: how far the next looks
	wait     time.Duration
	since    time.Time // when the current steady period began
	stats    TunerStats
}

type tunerState int

const (
	tunerSteady tunerState = iota
	tunerProbing
)

type tunerEpochStats struct {
	start time.Time // counting starts at start+tunerSettle
	rows  int       // rows done in the counted part
	units int       // units that ended in the counted part
}

// TunerStats counts the tuner's decisions (the _probes metrics).
type TunerStats struct {
	Accepted  uint64 // probes that moved the step
	Rejected  uint64 // probes that kept it
	Abandoned uint64 // probes given up: the load stopped being busy
}

// The tuner's timing, chosen so that a climb from lone writes to 16 takes
// about two seconds under load, and a probe costs a few percent of a
// saturated node's time at most (a probe of 1.2 s, or 0.6 s when obvious,
// every 30 s, half of it on the worse step). An epoch of 150 ms at 20K writes/s counts about 2,500
// writes.
const (
	tunerEpoch    = 150 * time.Millisecond
	tunerSettle   = 30 * time.Millisecond // of each epoch, not counted: units of the old step drain
	tunerPairs    = 4                     // even: as many pairs with the candidate first as second
	tunerMinUnits = 20                    // an epoch with fewer counted units or rows is extended
	tunerMinRows  = 200                   // (up to four epochs; then it is not busy)
	tunerGain     = 1.08
	// tunerClear ends a probe after its first two pairs (one each way)
	// when both say the same by this much: a step that halves or doubles
	// throughput needs no more epochs to show it, and each costs.
	tunerClear   = 1.25
	tunerMinWait = 1 * time.Second // after a move
	// tunerRejectWait is the first wait after a rejection, doubled by each
	// further one up to tunerMaxWait: a probe of the worse step costs up to
	// half the throughput while it runs (reads alone on a node close by),
	// so a run's first seconds are not spent re-asking what one probe said.
	tunerRejectWait = 4 * time.Second
	tunerMaxWait    = 30 * time.Second
)

// newBatchTuner returns the write lines' tuner: lone writes with open in
// flight per replica set, then sizes up to maxSize keeping about 2 x
// inflight rows in flight; fixed pins the size to maxSize and the limit to
// inflight (Config.BatchFixed).
func newBatchTuner(maxSize, inflight, open int, fixed bool, now func() time.Time) *tuner {
	if fixed {
		return newTuner([]int{maxSize}, []int{inflight}, 0, now)
	}
	sizes, limits := []int{1}, []int{open}
	for s := 4; s < 4*maxSize; s *= 4 {
		s = min(s, maxSize)
		sizes = append(sizes, s)
		limits = append(limits, max(2, min(inflight, 2*inflight/s)))
	}
	return newTuner(sizes, limits, 0, now)
}

// newReadTuner returns the read lines' tuner: reads alone with open in
// flight per replica set, or grouped (up to maxSize ids per query, grouped
// queries in flight), starting grouped; fixed pins it grouped
// (Config.ReadGroupFixed).
func newReadTuner(maxSize, grouped, open int, fixed bool, now func() time.Time) *tuner {
	if fixed || open <= grouped { // a pool no wider than the grouped limit: nothing to choose

		return newTuner([]int{maxSize}, []int{grouped}, 0, now)
	}
	return newTuner([]int{maxSize, maxSize}, []int{open, grouped}, 1, now)
}

func newTuner(sizes, limits []int, start int, now func() time.Time) *tuner {
	b := &tuner{sizes: sizes, limits: limits, now: now, candDir: +1, candStep: 1} // no wait: the first probe starts with the first busy epoch
	b.level.Store(int32(start))
	b.since = now()
	b.epoch.start = b.since
	return b
}

// size is the most members a unit may take now.
func (b *tuner) size() int { return b.sizes[b.level.Load()] }

// limit is the most units of one replica set that may run at once now.
func (b *tuner) limit() int { return b.limits[b.level.Load()] }

// Stats returns the decision counters.
func (b *tuner) Stats() TunerStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stats
}

// done records a unit that ended having done rows (writes acknowledged,
// reads answered).
func (b *tuner) done(rows int) {
	if len(b.sizes) == 1 {
		return
	}
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	e := &b.epoch
	counted := e.start.Add(tunerSettle)
	if now.Before(counted) {
		return
	}
	e.rows += rows
	e.units++
	elapsed := now.Sub(e.start)
	busy := e.units >= tunerMinUnits && e.rows >= tunerMinRows
	if elapsed < tunerEpoch || !busy && elapsed < 4*tunerEpoch {
		return // an epoch short of units or rows is extended, up to four
	}
	rate := float64(e.rows) / now.Sub(counted).Seconds()
	b.epoch = tunerEpochStats{start: now}
	b.closeEpochLocked(now, rate, busy)
}

// closeEpochLocked takes the decision an ended epoch calls for. Under b.mu.
func (b *tuner) closeEpochLocked(now time.Time, rate float64, busy bool) {
	if b.state == tunerSteady {
		if now.Sub(b.since) >= b.wait && busy {
			b.startProbeLocked(now)
		}
		return
	}
	if !busy {
		b.stats.Abandoned++
		b.endProbeLocked(now, b.incLevel)
		return
	}
	b.rates = append(b.rates, rate)
	gains := b.gains()
	obvious := len(gains) == 2 && (min(gains[0], gains[1]) >= tunerClear || max(gains[0], gains[1]) <= 1/tunerClear)
	if len(b.rates) < 2*tunerPairs && !obvious {
		b.setLevel(b.probeLevel(len(b.rates)))
		return
	}
	slices.Sort(gains)
	cand := b.candidate()
	median := (gains[len(gains)/2-1] + gains[len(gains)/2]) / 2
	if median >= tunerGain {
		b.stats.Accepted++
		b.wait, b.candStep = tunerMinWait, 1
		b.endProbeLocked(now, cand)
		if b.neighbour(cand, b.candDir) {
			b.startProbeLocked(now) // keep climbing (or descending) while it pays
		}
		return
	}
	b.stats.Rejected++
	b.endProbeLocked(now, b.incLevel)
	if b.candStep == 1 && median > 1/tunerGain && b.neighbour(b.incLevel, 2*b.candDir) {
		// Inconclusive: the step gave about what the incumbent gives, which
		// a step whose in-flight limit is above the callers of a replica
		// set does (no queue forms, so no batch). Look one step further, at
		// once.
		b.candStep = 2
		b.startProbeLocked(now)
		return
	}
	b.candStep = 1
	b.wait = min(max(2*b.wait, tunerRejectWait), tunerMaxWait)
	if b.neighbour(b.incLevel, -b.candDir) {
		b.candDir = -b.candDir
	}
}

// candidate is the level a probe tries against the incumbent.
func (b *tuner) candidate() int { return b.incLevel + b.candDir*b.candStep }

// gains is the candidate's throughput over the incumbent's in each
// complete pair of the probe so far.
func (b *tuner) gains() []float64 {
	gains := make([]float64, len(b.rates)/2)
	for i := range gains {
		inc, cand := b.rates[2*i], b.rates[2*i+1]
		if i%2 == 1 {
			inc, cand = cand, inc
		}
		gains[i] = cand / inc
	}
	return gains
}

// neighbour reports whether level has one in direction dir.
func (b *tuner) neighbour(level, dir int) bool {
	n := level + dir
	return n >= 0 && n < len(b.sizes)
}

// probeLevel is the level of a probe's epoch i, in ABBA order: the
// incumbent first in even pairs, second in odd ones.
func (b *tuner) probeLevel(i int) int {
	if (i%2 == 0) == (i/2%2 == 0) {
		return b.incLevel
	}
	return b.candidate()
}

func (b *tuner) startProbeLocked(now time.Time) {
	inc := int(b.level.Load())
	if !b.neighbour(inc, b.candDir*b.candStep) {
		b.candStep = 1
	}
	if !b.neighbour(inc, b.candDir) {
		b.candDir = -b.candDir
	}
	b.state, b.incLevel, b.rates = tunerProbing, inc, b.rates[:0]
	b.epoch = tunerEpochStats{start: now}
}

func (b *tuner) endProbeLocked(now time.Time, level int) {
	b.setLevel(level)
	b.state, b.since = tunerSteady, now
	b.epoch = tunerEpochStats{start: now}
}

func (b *tuner) setLevel(level int) {
	if int(b.level.Load()) != level {
		b.level.Store(int32(level))
		b.epoch = tunerEpochStats{start: b.now()}
	}
}
