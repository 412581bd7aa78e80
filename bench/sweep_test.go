package bench

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSweepKnee(t *testing.T) {
	rate := func(mode string, r, rps, p99 float64, unsent int64) SweepStep {
		return SweepStep{Mode: mode, Scenario: "get", Kind: KindRate, Rate: r, RequestsPerSec: rps, P99: p99, Unsent: unsent}
	}
	s := &Sweep{P99BoundMs: 10, Steps: []SweepStep{
		{Mode: ModeAPI, Scenario: "get", Kind: KindConcurrency, Concurrency: 64, RequestsPerSec: 9000, P99: 30},
		rate(ModeAPI, 1000, 1000, 2, 0),
		rate(ModeAPI, 5000, 4990, 9, 0),
		rate(ModeAPI, 7000, 6990, 11, 0), // over the bound
		rate(ModeAPI, 8000, 7000, 8, 0),  // under 95% answered
		rate(ModeRaw, 1000, 1000, 1, 0),
		rate(ModeRaw, 2000, 2000, 1, 3), // unsent
	}}
	s.aggregate()
	for _, tc := range []struct {
		mode      string
		found     bool
		rate      float64
		peak      float64
		saturated bool
	}{
		{ModeAPI, true, 5000, 9000, true},
		{ModeRaw, true, 1000, 2000, true},
	} {
		k, ok := s.Knee(tc.mode, "get")
		assert.True(t, ok, "%s: a knee entry", tc.mode)
		assert.Equal(t, tc.found, k.Found, "%s: found", tc.mode)
		assert.Equal(t, tc.rate, k.Rate, "%s: knee rate", tc.mode)
		assert.Equal(t, tc.peak, k.Peak, "%s: peak", tc.mode)
		assert.Equal(t, tc.saturated, k.Saturated, "%s: went past the knee", tc.mode)
	}
	assert.Equal(t, int64(3), parsePendingTasks("concurrent compactors 2\npending tasks                    3           \n"), "nodetool 5 format")
	assert.Equal(t, int64(-1), parsePendingTasks("nothing"), "no figure")
}
