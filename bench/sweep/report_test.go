package sweep

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/userapi/userapi/bench/harness"
)

func TestSweepKnee(t *testing.T) {
	rate := func(mode string, r, rps, p99 float64, unsent int64) Step {
		return Step{Mode: mode, Scenario: "get", Kind: KindRate, Rate: r, RequestsPerSec: rps, P99: p99, Unsent: unsent}
	}
	s := &Report{P99BoundMs: 10, Steps: []Step{
		{Mode: harness.ModeAPI, Scenario: "get", Kind: KindConcurrency, Concurrency: 64, RequestsPerSec: 9000, P99: 30},
		rate(harness.ModeAPI, 1000, 1000, 2, 0),
		rate(harness.ModeAPI, 5000, 4990, 9, 0),
		rate(harness.ModeAPI, 7000, 6990, 11, 0), // over the bound
		rate(harness.ModeAPI, 8000, 7000, 8, 0),  // under 95% answered
		rate(harness.ModeRaw, 1000, 1000, 1, 0),
		rate(harness.ModeRaw, 2000, 2000, 1, 3), // unsent
	}}
	s.aggregate()
	for _, tc := range []struct {
		mode      string
		found     bool
		rate      float64
		peak      float64
		saturated bool
	}{
		{harness.ModeAPI, true, 5000, 9000, true},
		{harness.ModeRaw, true, 1000, 2000, true},
	} {
		k, ok := s.Knee(tc.mode, "get")
		assert.True(t, ok, "%s: a knee entry", tc.mode)
		assert.Equal(t, tc.found, k.Found, "%s: found", tc.mode)
		assert.Equal(t, tc.rate, k.Rate, "%s: knee rate", tc.mode)
		assert.Equal(t, tc.peak, k.Peak, "%s: peak", tc.mode)
		assert.Equal(t, tc.saturated, k.Saturated, "%s: went past the knee", tc.mode)
	}
}
