package engine

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nodeModel is a node as the tuner sees it: with units of up to size rows
// and limit units in flight it completes rate(size, limit) rows per second
// (at most offered, when set: a load lighter than the node), each epoch's
// rate off by a seeded random factor.
type nodeModel struct {
	rate    func(size, limit int) float64
	noise   float64                             // standard deviation of log(rate factor) per 100 ms
	offered float64                             // rows/s the load offers; 0: more than the node takes
	trend   func(elapsed time.Duration) float64 // a factor on every rate; nil: 1
}

// periodicNode rewards batches (a unit's cost is mostly per request);
// groupNode serializes a batch's mutations, each waiting for a sync.
func periodicNode(s, _ int) float64 { return 20000 * (1 + 0.08*math.Log2(float64(s))) }
func groupNode(s, _ int) float64    { return 8000 / (1 + 0.6*math.Log2(float64(s))) }
func flatNode(int, int) float64     { return 15000 }

// Reads, by the in-flight limit: a node on this machine does twice the
// reads/s grouped (few queries in flight) than alone; across a network a
// closed loop's reads/s follow the queries in flight.
func localReads(_, limit int) float64 {
	if limit <= 2 {
		return 30000
	}
	return 15000
}
func remoteReads(_, limit int) float64 { return 10000 + 5*float64(min(limit, 256)) }

// simulate runs tuner b against model m for d of simulated time from *now,
// returning the level in force each simulated second and how often it
// changed.
func simulate(b *tuner, now *time.Time, m nodeModel, d time.Duration, rng *rand.Rand) (levels []int, changes int) {
	start, end := *now, now.Add(d)
	nextSecond := now.Add(time.Second)
	factor, nextNoise := 1.0, *now
	last := b.level.Load()
	for now.Before(end) {
		if !now.Before(nextNoise) {
			factor = math.Exp(rng.NormFloat64() * m.noise)
			nextNoise = now.Add(100 * time.Millisecond)
		}
		if l := b.level.Load(); l != last {
			changes++
			last = l
		}
		s := b.size()
		rate := m.rate(s, b.limit()) * factor
		if m.trend != nil {
			rate *= m.trend(now.Sub(start))
		}
		if m.offered > 0 {
			rate = min(rate, m.offered)
		}
		*now = now.Add(time.Duration(float64(s) / rate * float64(time.Second)))
		b.done(s)
		for !now.Before(nextSecond) {
			levels = append(levels, int(b.level.Load()))
			nextSecond = nextSecond.Add(time.Second)
		}
	}
	return levels, changes
}

var testEpoch = time.Unix(1_700_000_000, 0)

func newTestTuner(max, inflight int, fixed bool) (*tuner, *time.Time) {
	now := testEpoch
	return newBatchTuner(max, inflight, 256, fixed, func() time.Time { return now }), &now
}

func newTestReadTuner(fixed bool) (*tuner, *time.Time) {
	now := testEpoch
	return newReadTuner(16, 2, 256, fixed, func() time.Time { return now }), &now
}

func TestTunerLadder(t *testing.T) {
	b, _ := newTestTuner(16, 32, false)
	assert.Equal(t, []int{1, 4, 16}, b.sizes)
	assert.Equal(t, []int{256, 16, 4}, b.limits, "lone writes as the pool allows, then about 64 rows")
	assert.Equal(t, 1, b.size(), "starts with lone writes")
	assert.Equal(t, 256, b.limit())

	b, _ = newTestTuner(10, 32, false)
	assert.Equal(t, []int{1, 4, 10}, b.sizes, "the bound is the last rung")
	b, _ = newTestTuner(2, 32, false)
	assert.Equal(t, []int{1, 2}, b.sizes)

	b, _ = newTestTuner(16, 4, true)
	assert.Equal(t, 16, b.size(), "fixed: the bound is the size")
	assert.Equal(t, 4, b.limit())

	r, _ := newTestReadTuner(false)
	assert.Equal(t, []int{16, 16}, r.sizes)
	assert.Equal(t, []int{256, 2}, r.limits, "open, then grouped")
	assert.Equal(t, 2, r.limit(), "reads start grouped")
	r, _ = newTestReadTuner(true)
	assert.Equal(t, []int{2}, r.limits)
}

func TestTunerSettles(t *testing.T) {
	for _, tc := range []struct {
		name     string
		reads    bool
		rate     func(int, int) float64
		min, max int // the level it must be at after 20 s
	}{
		{"periodic sync: batches pay, it climbs to the bound", false, periodicNode, 2, 2},
		{"group sync: batches serialize, it stays with lone writes", false, groupNode, 0, 0},
		{"reads, node close by: grouped", true, localReads, 1, 1},
		{"reads, node across a network: each read at once", true, remoteReads, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 20; seed++ {
				b, now := newTestTuner(16, 32, false)
				if tc.reads {
					b, now = newTestReadTuner(false)
				}
				rng := rand.New(rand.NewPCG(seed, 7))
				levels, _ := simulate(b, now, nodeModel{rate: tc.rate, noise: 0.05}, 60*time.Second, rng)
				late := levels[20:]
				inRange := 0
				for _, l := range late {
					if l >= tc.min && l <= tc.max {
						inRange++
					}
				}
				// Probes visit the neighbour now and then: most seconds, not all.
				assert.GreaterOrEqual(t, float64(inRange)/float64(len(late)), 0.85,
					"seed %d: levels %v", seed, levels)
			}
		})
	}
}

func TestTunerClimbsWithinSeconds(t *testing.T) {
	b, now := newTestTuner(16, 32, false)
	levels, _ := simulate(b, now, nodeModel{rate: periodicNode, noise: 0.02}, 15*time.Second, rand.New(rand.NewPCG(3, 3)))
	first := -1
	for i, l := range levels {
		if l == 2 {
			first = i + 1
			break
		}
	}
	require.NotEqual(t, -1, first, "never reached 16: %v", levels)
	assert.LessOrEqual(t, first, 3, "seconds to climb 1 -> 16: %v", levels)
}

func TestTunerRelearnsWhenTheNodeChanges(t *testing.T) {
	b, now := newTestTuner(16, 32, false)
	rng := rand.New(rand.NewPCG(11, 5))
	levels, _ := simulate(b, now, nodeModel{rate: periodicNode, noise: 0.05}, 60*time.Second, rng)
	require.Equal(t, 2, levels[len(levels)-1], "periodic first: %v", levels)

	// The node restarts with group commit: within the longest wait between
	// probes plus a descent of two steps it is back at lone writes.
	levels, _ = simulate(b, now, nodeModel{rate: groupNode, noise: 0.05}, 60*time.Second, rng)
	settled := -1
	for i, l := range levels {
		if l == 0 {
			settled = i + 1
			break
		}
	}
	require.NotEqual(t, -1, settled, "never came down: %v", levels)
	assert.LessOrEqual(t, settled, int((tunerMaxWait + 12*time.Second).Seconds()), "seconds to relearn: %v", levels)
	assert.Equal(t, 0, levels[len(levels)-1], "stays down: %v", levels)
}

func TestReadTunerRelearnsWhenTheNetworkChanges(t *testing.T) {
	b, now := newTestReadTuner(false)
	rng := rand.New(rand.NewPCG(12, 6))
	levels, _ := simulate(b, now, nodeModel{rate: remoteReads, noise: 0.05}, 60*time.Second, rng)
	require.Equal(t, 0, levels[len(levels)-1], "a network first: reads at once: %v", levels)
	levels, _ = simulate(b, now, nodeModel{rate: localReads, noise: 0.05}, 60*time.Second, rng)
	settled := -1
	for i, l := range levels {
		if l == 1 {
			settled = i + 1
			break
		}
	}
	require.NotEqual(t, -1, settled, "never grouped again: %v", levels)
	assert.LessOrEqual(t, settled, int((tunerMaxWait + 6*time.Second).Seconds()), "seconds to relearn: %v", levels)
	assert.Equal(t, 1, levels[len(levels)-1], "stays grouped: %v", levels)
}

func TestTunerHoldsStillOnNoise(t *testing.T) {
	// Every size gives the same throughput under 10% noise: the size may
	// wander, but the waits between probes double while they are rejected.
	b, now := newTestTuner(16, 32, false)
	_, changes := simulate(b, now, nodeModel{rate: flatNode, noise: 0.10}, time.Hour, rand.New(rand.NewPCG(5, 9)))
	st := b.Stats()
	t.Logf("one hour of noise: %d level changes (probe epochs included), %+v", changes, st)
	// At the longest wait, 30 s, a probe starts about twice a minute, and
	// each inconclusive one (all of them here) is followed by one a step
	// further.
	assert.Less(t, st.Accepted+st.Rejected, uint64(300), "probes an hour")
	assert.Less(t, st.Accepted, uint64(40), "moves an hour: noise rarely passes the gain bar")
}

func TestTunerIgnoresATrend(t *testing.T) {
	// A load warming up, 60% faster after 20 s whatever the size: the
	// epoch run second in a pair always looks better. In ABBA order the
	// pairs cancel it, so the size stays where it started.
	b, now := newTestTuner(16, 32, false)
	warming := func(e time.Duration) float64 { return 1 + 0.6*min(e.Seconds(), 20)/20 }
	levels, _ := simulate(b, now, nodeModel{rate: flatNode, noise: 0.02, trend: warming}, 20*time.Second, rand.New(rand.NewPCG(4, 4)))
	assert.Zero(t, b.Stats().Accepted, "no move for a trend: %v", levels)
}

func TestTunerNeedsLoad(t *testing.T) {
	// 100 writes/s: no epoch is busy enough to say anything.
	b, now := newTestTuner(16, 32, false)
	levels, changes := simulate(b, now, nodeModel{rate: periodicNode, offered: 100}, 30*time.Second, rand.New(rand.NewPCG(1, 1)))
	assert.Zero(t, changes, "a light load, no probe: %v", levels)
	assert.Equal(t, TunerStats{}, b.Stats())
}

func TestTunerAbandonsAProbeWhenTheLoadStops(t *testing.T) {
	b, now := newTestTuner(16, 32, false)
	rng := rand.New(rand.NewPCG(2, 2))
	simulate(b, now, nodeModel{rate: periodicNode}, 400*time.Millisecond, rng)
	require.Equal(t, tunerProbing, b.state, "a probe runs")
	require.Equal(t, 0, b.incLevel, "from lone writes")
	simulate(b, now, nodeModel{rate: periodicNode, offered: 100}, 2*time.Second, rng)
	assert.Equal(t, tunerSteady, b.state)
	assert.Equal(t, uint64(1), b.Stats().Abandoned)
	assert.Equal(t, 1, b.size(), "back on the incumbent")
}

func TestTunerFixed(t *testing.T) {
	b, now := newTestTuner(16, 4, true)
	_, changes := simulate(b, now, nodeModel{rate: groupNode}, 30*time.Second, rand.New(rand.NewPCG(1, 1)))
	assert.Zero(t, changes)
	assert.Equal(t, 16, b.size())
}

func TestTunerEndsAnObviousProbeEarly(t *testing.T) {
	// The first two pairs agree by far more than tunerClear: the probe ends
	// after four epochs, not eight, whichever way it goes.
	far := func(_, limit int) float64 { return 10000 * float64(min(limit, 4)) / 2 }
	for _, tc := range []struct {
		name      string
		rate      func(int, int) float64
		decided   func(TunerStats) uint64
		wantLimit int
	}{
		{"beside the node reads alone do half: rejected", localReads, func(s TunerStats) uint64 { return s.Rejected }, 2},
		{"across a network reads at once do twice: accepted", far, func(s TunerStats) uint64 { return s.Accepted }, 256},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, now := newTestReadTuner(false)
			start := *now
			rng := rand.New(rand.NewPCG(8, 8))
			for tc.decided(b.Stats()) == 0 && now.Sub(start) < 5*time.Second {
				simulate(b, now, nodeModel{rate: tc.rate, noise: 0.02}, 10*time.Millisecond, rng)
			}
			require.Equal(t, uint64(1), tc.decided(b.Stats()))
			// The first busy epoch starts the probe; four more end it.
			assert.Less(t, now.Sub(start), 5*tunerEpoch+50*time.Millisecond)
			assert.Equal(t, tc.wantLimit, b.limit())
		})
	}
}

func TestTunerDoesNotEndAnUnclearProbeEarly(t *testing.T) {
	// In ABBA order: the candidate 20% better in the first pair, 20% worse
	// in the second (candidate first there): no early end.
	b, now := newTestReadTuner(false)
	b.startProbeLocked(*now)
	for _, r := range []float64{100, 120, 80, 100} {
		b.closeEpochLocked(*now, r, true)
	}
	assert.Equal(t, tunerProbing, b.state, "two pairs that disagree: the probe goes on")
	assert.Len(t, b.rates, 4)
}

func TestAnsweredCountsRowsAndMisses(t *testing.T) {
	assert.Equal(t, 1, answered(nil))
	assert.Equal(t, 1, answered(errNotFoundGroup), "a miss is an answer")
	assert.Equal(t, 0, answered(ErrUnavailable))
	assert.Equal(t, 0, answered(errExpired))
}

func TestReadTunerNeedsAWiderPool(t *testing.T) {
	b := newReadTuner(16, 8, 8, false, time.Now)
	assert.Equal(t, []int{8}, b.limits, "a pool no wider than the grouped limit: one step")
}

func TestTunerLooksPastAnEvenStep(t *testing.T) {
	// A replica set with fewer callers than size 4's in-flight limit: at 4
	// no queue forms, so it gives what lone writes give; 16, with a lower
	// limit, batches and gives 1.4x. The tuner must not stop at the even
	// step.
	b, now := newTestTuner(16, 32, false)
	fewCallers := func(s, _ int) float64 {
		if s == 16 {
			return 14000
		}
		return 10000
	}
	levels, _ := simulate(b, now, nodeModel{rate: fewCallers, noise: 0.03}, 20*time.Second, rand.New(rand.NewPCG(6, 6)))
	first := slices.Index(levels, 2)
	require.NotEqual(t, -1, first, "never reached 16: %v", levels)
	assert.LessOrEqual(t, first+1, 4, "seconds to reach 16: %v", levels)
	assert.Equal(t, 2, levels[len(levels)-1], "stays: %v", levels)
}
