package engine

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// batchTuner chooses, for the write lines, how many writes one batch may
// hold (size) and how many units of one replica set may run at once
// (inflight), from the throughput the node gives at each choice.
//
// Whether batches pay is a property of the node, not of the engine: on a
// node that syncs its commit log before acknowledging (commitlog_sync group
// or batch), Cassandra applies a batch's local mutations one after another,
// each waiting for a sync, and lone writes sharing one sync win; with
// periodic sync (Cassandra's default) a batch saves per-request work on
// both sides and bigger batches win. So the tuner measures rather than
// guesses (docs/architecture.md, "Adaptive batching"):
//
//   - Sizes are a ladder of powers of four from 1 to Config.BatchMax (1, 4,
//     16 by default): steps big enough that what one gains shows through a
//     noisy machine's spread (periodic sync measured 1.2-1.3x from 1 to 16,
//     a few percent per doubling). Each size has an in-flight limit that
//     keeps about 2 x Config.BatchInflight rows in flight per replica set
//     (size 16: 4 units), within [2, BatchInflight].
//   - It starts at size 1, lone writes, which is never worse than off.
//   - Every so often it probes a neighbouring size with paired epochs in
//     ABBA order: incumbent, candidate, candidate, incumbent, incumbent,
//     candidate, ... (tunerPairs pairs of tunerEpoch each, the first
//     tunerSettle of each epoch not counted), and moves when the median of
//     the candidate's throughput over its incumbent's, pair by pair, is at
//     least tunerGain. Pairs cancel the slow drift of a noisy machine, and
//     their alternating order a trend within the probe (a load still
//     warming up, which would otherwise favour whichever size runs second);
//     the median ignores one odd pair.
//   - An accepted step is followed at once by another in the same
//     direction; a rejected one doubles the wait before the next probe
//     (tunerMinWait up to tunerMaxWait) and turns the next probe around, so
//     a node restarted with the other sync mode is relearned within
//     tunerMaxWait plus a few probes.
//   - Only epochs in which writes queued up count: without a backlog every
//     write goes alone whatever the size, throughput is the offered rate,
//     and a probe is abandoned without a verdict.
//
// The completion path (done) takes a mutex held for a few additions; the
// decisions run at most once per epoch, on whichever worker closes it.
type batchTuner struct {
	ladder   []int // sizes, 1 first
	inflight []int // the in-flight limit of each size
	now      func() time.Time

	level atomic.Int32 // index in ladder in force now

	mu       sync.Mutex
	state    tunerState
	epoch    tunerEpochStats
	rates    []float64 // throughput of the probe's epochs so far, incumbent first
	incLevel int       // the incumbent's level during a probe
	candDir  int       // +1 (bigger) or -1 (smaller): the next probe's direction
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
	start   time.Time // counting starts at start+tunerSettle
	rows    int       // rows written in the counted part
	units   int       // units that ended in the counted part
	backlog int       // of those, units that ended with writes waiting in their line
}

// TunerStats counts the tuner's decisions (Engine.Stats, metrics).
type TunerStats struct {
	Accepted  uint64 // probes that moved the size
	Rejected  uint64 // probes that kept it
	Abandoned uint64 // probes given up: the load stopped queueing
}

// The tuner's timing, chosen so that a climb from 1 to 16 takes about two
// seconds once writes queue up, and a probe costs a few percent of a
// saturated node's time at most (a probe of 0.9 s every 30 s, half of it on
// the worse size). An epoch of 150 ms at 20K writes/s counts about 2,500
// writes.
const (
	tunerEpoch    = 150 * time.Millisecond
	tunerSettle   = 30 * time.Millisecond // of each epoch, not counted: units of the old size drain
	tunerPairs    = 4                     // even: as many pairs with the candidate first as second
	tunerMinUnits = 20                    // an epoch with fewer counted units is extended
	tunerGain     = 1.08
	tunerMinWait  = 1 * time.Second // after a move, and the first wait after a rejection
	tunerMaxWait  = 30 * time.Second
	// tunerBacklog is the share of an epoch's units that must end with
	// writes waiting for the epoch to say anything about batch size. Low:
	// at the bigger sizes a closed loop of as many clients as rows in
	// flight leaves a line empty at the end of most units although every
	// client waits on it; the gain bar, not this, keeps noise from moving
	// the size.
	tunerBacklog = 0.2
)

// newBatchTuner returns a tuner for sizes up to maxSize with inflight units
// of lone writes per replica set; fixed pins the size to maxSize and the
// in-flight limit to inflight, as before the tuner (Config.BatchFixed).
func newBatchTuner(maxSize, inflight int, fixed bool, now func() time.Time) *batchTuner {
	b := &batchTuner{now: now, candDir: +1} // no wait: the first probe starts with the first backlog
	if fixed {
		b.ladder, b.inflight = []int{maxSize}, []int{inflight}
	} else {
		for s := 1; ; s *= 4 {
			s = min(s, maxSize)
			b.ladder = append(b.ladder, s)
			b.inflight = append(b.inflight, max(2, min(inflight, 2*inflight/s)))
			if s == maxSize {
				break
			}
		}
		if maxSize == 1 || inflight == 1 {
			b.inflight[0] = inflight
		}
	}
	b.since = now()
	b.epoch.start = b.since
	return b
}

// size is the most writes a unit may take now.
func (b *batchTuner) size() int { return b.ladder[b.level.Load()] }

// limit is the most units of one replica set that may run at once now.
func (b *batchTuner) limit() int { return b.inflight[b.level.Load()] }

// Stats returns the decision counters.
func (b *batchTuner) Stats() TunerStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stats
}

// done records a unit of rows writes that ended, and whether writes waited
// in its line as it ended (the line had a backlog).
func (b *batchTuner) done(rows int, backlog bool) {
	if len(b.ladder) == 1 {
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
	if backlog {
		e.backlog++
	}
	elapsed := now.Sub(e.start)
	if elapsed < tunerEpoch || e.units < tunerMinUnits {
		return
	}
	rate := float64(e.rows) / now.Sub(counted).Seconds()
	queued := float64(e.backlog) >= tunerBacklog*float64(e.units) && elapsed < 4*tunerEpoch
	b.epoch = tunerEpochStats{start: now}
	b.closeEpochLocked(now, rate, queued)
}

// closeEpochLocked takes the decision an ended epoch calls for. Under b.mu.
func (b *batchTuner) closeEpochLocked(now time.Time, rate float64, queued bool) {
	if b.state == tunerSteady {
		if now.Sub(b.since) >= b.wait && queued {
			b.startProbeLocked(now)
		}
		return
	}
	if !queued {
		b.stats.Abandoned++
		b.endProbeLocked(now, b.incLevel)
		return
	}
	b.rates = append(b.rates, rate)
	if len(b.rates) < 2*tunerPairs {
		b.setLevel(b.probeLevel(len(b.rates)))
		return
	}
	gains := make([]float64, tunerPairs)
	for i := range gains {
		inc, cand := b.rates[2*i], b.rates[2*i+1]
		if i%2 == 1 {
			inc, cand = cand, inc
		}
		gains[i] = cand / inc
	}
	slices.Sort(gains)
	cand := b.incLevel + b.candDir
	if (gains[tunerPairs/2-1]+gains[tunerPairs/2])/2 >= tunerGain {
		b.stats.Accepted++
		b.wait = tunerMinWait
		b.endProbeLocked(now, cand)
		if b.neighbour(cand, b.candDir) {
			b.startProbeLocked(now) // keep climbing (or descending) while it pays
		}
		return
	}
	b.stats.Rejected++
	b.wait = min(max(2*b.wait, tunerMinWait), tunerMaxWait)
	b.endProbeLocked(now, b.incLevel)
	if b.neighbour(b.incLevel, -b.candDir) {
		b.candDir = -b.candDir
	}
}

// neighbour reports whether level has one in direction dir.
func (b *batchTuner) neighbour(level, dir int) bool {
	n := level + dir
	return n >= 0 && n < len(b.ladder)
}

// probeLevel is the level of a probe's epoch i, in ABBA order: the
// incumbent first in even pairs, second in odd ones.
func (b *batchTuner) probeLevel(i int) int {
	if (i%2 == 0) == (i/2%2 == 0) {
		return b.incLevel
	}
	return b.incLevel + b.candDir
}

func (b *batchTuner) startProbeLocked(now time.Time) {
	inc := int(b.level.Load())
	if !b.neighbour(inc, b.candDir) {
		b.candDir = -b.candDir
	}
	b.state, b.incLevel, b.rates = tunerProbing, inc, b.rates[:0]
	b.epoch = tunerEpochStats{start: now}
}

func (b *batchTuner) endProbeLocked(now time.Time, level int) {
	b.setLevel(level)
	b.state, b.since = tunerSteady, now
	b.epoch = tunerEpochStats{start: now}
}

func (b *batchTuner) setLevel(level int) {
	if int(b.level.Load()) != level {
		b.level.Store(int32(level))
		b.epoch = tunerEpochStats{start: b.now()}
	}
}
