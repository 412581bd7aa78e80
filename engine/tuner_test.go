package engine

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nodeModel is a node as the tuner sees it: at batch size s it acknowledges
// rate(s) rows per second while writes queue up, each epoch's rate off by a
// seeded random factor.
type nodeModel struct {
	rate    func(size int) float64
	noise   float64 // standard deviation of log(rate factor) per 100 ms
	backlog bool
	trend   func(elapsed time.Duration) float64 // a factor on every rate; nil: 1
}

// periodicNode rewards batches (a unit's cost is mostly per request);
// groupNode serializes a batch's mutations, each waiting for a sync.
func periodicNode(s int) float64 { return 20000 * (1 + 0.08*math.Log2(float64(s))) }
func groupNode(s int) float64    { return 8000 / (1 + 0.6*math.Log2(float64(s))) }
func flatNode(int) float64       { return 15000 }

// simulate runs tuner b against model m for d of simulated time from *now,
// returning the sizes in force each simulated second and how often the size
// changed.
func simulate(b *batchTuner, now *time.Time, m nodeModel, d time.Duration, rng *rand.Rand) (sizes []int, changes int) {
	start, end := *now, now.Add(d)
	nextSecond := now.Add(time.Second)
	factor, nextNoise := 1.0, *now
	last := b.size()
	for now.Before(end) {
		if !now.Before(nextNoise) {
			factor = math.Exp(rng.NormFloat64() * m.noise)
			nextNoise = now.Add(100 * time.Millisecond)
		}
		s := b.size()
		if s != last {
			changes++
			last = s
		}
		rate := m.rate(s) * factor
		if m.trend != nil {
			rate *= m.trend(now.Sub(start))
		}
		*now = now.Add(time.Duration(float64(s) / rate * float64(time.Second)))
		b.done(s, m.backlog)
		for !now.Before(nextSecond) {
			sizes = append(sizes, b.size())
			nextSecond = nextSecond.Add(time.Second)
		}
	}
	return sizes, changes
}

func newTestTuner(max, inflight int, fixed bool) (*batchTuner, *time.Time) {
	now := time.Unix(1_700_000_000, 0)
	b := newBatchTuner(max, inflight, fixed, func() time.Time { return now })
	return b, &now
}

func TestTunerLadder(t *testing.T) {
	b, _ := newTestTuner(16, 32, false)
	assert.Equal(t, []int{1, 4, 16}, b.ladder)
	assert.Equal(t, []int{32, 16, 4}, b.inflight)
	assert.Equal(t, 1, b.size(), "starts with lone writes")
	assert.Equal(t, 32, b.limit())

	b, _ = newTestTuner(10, 32, false)
	assert.Equal(t, []int{1, 4, 10}, b.ladder, "the bound is the last rung")

	b, _ = newTestTuner(1, 32, false)
	assert.Equal(t, []int{1}, b.ladder)
	assert.Equal(t, []int{32}, b.inflight)

	b, _ = newTestTuner(16, 4, true)
	assert.Equal(t, 16, b.size(), "fixed: the bound is the size")
	assert.Equal(t, 4, b.limit())
}

func TestTunerSettles(t *testing.T) {
	for _, tc := range []struct {
		name     string
		rate     func(int) float64
		min, max int // where it must be after 20 s
	}{
		{"periodic sync: batches pay, it climbs to the bound", periodicNode, 16, 16},
		{"group sync: batches serialize, it stays with lone writes", groupNode, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 20; seed++ {
				b, now := newTestTuner(16, 32, false)
				rng := rand.New(rand.NewPCG(seed, 7))
				sizes, _ := simulate(b, now, nodeModel{rate: tc.rate, noise: 0.05, backlog: true}, 60*time.Second, rng)
				late := sizes[20:]
				inRange := 0
				for _, s := range late {
					if s >= tc.min && s <= tc.max {
						inRange++
					}
				}
				// Probes visit the neighbour now and then: most seconds, not all.
				assert.GreaterOrEqual(t, float64(inRange)/float64(len(late)), 0.85,
					"seed %d: sizes %v", seed, sizes)
			}
		})
	}
}

func TestTunerClimbsWithinSeconds(t *testing.T) {
	b, now := newTestTuner(16, 32, false)
	sizes, _ := simulate(b, now, nodeModel{rate: periodicNode, noise: 0.02, backlog: true}, 15*time.Second, rand.New(rand.NewPCG(3, 3)))
	first := -1
	for i, s := range sizes {
		if s == 16 {
			first = i + 1
			break
		}
	}
	require.NotEqual(t, -1, first, "never reached 16: %v", sizes)
	assert.LessOrEqual(t, first, 3, "seconds to climb 1 -> 16: %v", sizes)
}

func TestTunerRelearnsWhenTheNodeChanges(t *testing.T) {
	b, now := newTestTuner(16, 32, false)
	rng := rand.New(rand.NewPCG(11, 5))
	sizes, _ := simulate(b, now, nodeModel{rate: periodicNode, noise: 0.05, backlog: true}, 60*time.Second, rng)
	require.Equal(t, 16, sizes[len(sizes)-1], "periodic first: %v", sizes)

	// The node restarts with group commit: within the longest wait between
	// probes plus a descent of two steps it is back at lone writes.
	sizes, _ = simulate(b, now, nodeModel{rate: groupNode, noise: 0.05, backlog: true}, 60*time.Second, rng)
	settled := -1
	for i, s := range sizes {
		if s == 1 {
			settled = i + 1
			break
		}
	}
	require.NotEqual(t, -1, settled, "never came down: %v", sizes)
	assert.LessOrEqual(t, settled, int((tunerMaxWait + 12*time.Second).Seconds()), "seconds to relearn: %v", sizes)
	assert.Equal(t, 1, sizes[len(sizes)-1], "stays down: %v", sizes)
}

func TestTunerHoldsStillOnNoise(t *testing.T) {
	// Every size gives the same throughput under 10% noise: the size may
	// wander, but the waits between probes double while they are rejected.
	b, now := newTestTuner(16, 32, false)
	_, changes := simulate(b, now, nodeModel{rate: flatNode, noise: 0.10, backlog: true}, time.Hour, rand.New(rand.NewPCG(5, 9)))
	st := b.Stats()
	t.Logf("one hour of noise: %d size changes (probe epochs included), %+v", changes, st)
	// At the longest wait, 30 s, a probe starts about twice a minute.
	assert.Less(t, st.Accepted+st.Rejected, uint64(200), "probes an hour")
	assert.Less(t, st.Accepted, uint64(40), "moves an hour: noise rarely passes the gain bar")
}

func TestTunerIgnoresATrend(t *testing.T) {
	// A load warming up, 60% faster after 20 s whatever the size: the
	// epoch run second in a pair always looks better. In ABBA order the
	// pairs cancel it, so the size stays where it started.
	b, now := newTestTuner(16, 32, false)
	warming := func(e time.Duration) float64 { return 1 + 0.6*min(e.Seconds(), 20)/20 }
	sizes, _ := simulate(b, now, nodeModel{rate: flatNode, noise: 0.02, backlog: true, trend: warming}, 20*time.Second, rand.New(rand.NewPCG(4, 4)))
	assert.Zero(t, b.Stats().Accepted, "no move for a trend: %v", sizes)
}

func TestTunerNeedsABacklog(t *testing.T) {
	b, now := newTestTuner(16, 32, false)
	sizes, changes := simulate(b, now, nodeModel{rate: periodicNode, backlog: false}, 30*time.Second, rand.New(rand.NewPCG(1, 1)))
	assert.Zero(t, changes, "no queue, no probe: %v", sizes)
	assert.Equal(t, TunerStats{}, b.Stats())
}

func TestTunerAbandonsAProbeWhenTheLoadStops(t *testing.T) {
	b, now := newTestTuner(16, 32, false)
	rng := rand.New(rand.NewPCG(2, 2))
	simulate(b, now, nodeModel{rate: periodicNode, backlog: true}, 400*time.Millisecond, rng)
	require.Equal(t, tunerProbing, b.state, "a probe runs")
	require.Equal(t, 0, b.incLevel, "from lone writes")
	simulate(b, now, nodeModel{rate: periodicNode, backlog: false}, 2*time.Second, rng)
	assert.Equal(t, tunerSteady, b.state)
	assert.Equal(t, uint64(1), b.Stats().Abandoned)
	assert.Equal(t, 1, b.size(), "back on the incumbent")
}

func TestTunerFixed(t *testing.T) {
	b, now := newTestTuner(16, 4, true)
	_, changes := simulate(b, now, nodeModel{rate: groupNode, backlog: true}, 30*time.Second, rand.New(rand.NewPCG(1, 1)))
	assert.Zero(t, changes)
	assert.Equal(t, 16, b.size())
}
