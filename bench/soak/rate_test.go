package soak

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userapi/userapi/bench/harness"
	"github.com/userapi/userapi/bench/load"
	"github.com/userapi/userapi/bench/report"
	"github.com/userapi/userapi/bench/sweep"
)

func writeSweep(t *testing.T, path string, knees ...sweep.Knee) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, report.WriteJSON(path, sweep.Report{Knees: knees}))
}

// TestPickRate: with no rate, the soak runs at 70% of the API's mixed knee
// of the sweep it is given, else of the latest under bench/results, and
// says which (the calibration, with neither, needs a server: make soak and
// TestCapacitySmoke run it).
func TestPickRate(t *testing.T) {
	t.Chdir(t.TempDir())
	knee := func(rate float64) sweep.Knee {
		return sweep.Knee{Mode: harness.ModeAPI, Scenario: string(load.Mixed), Found: true, Rate: rate}
	}
	writeSweep(t, "bench/results/sweep-20261201T000000Z/results.json", knee(1000))
	writeSweep(t, "bench/results/sweep-20261202T000000Z/results.json", knee(2000))
	writeSweep(t, "other/results.json", knee(500))
	writeSweep(t, "none/results.json", sweep.Knee{Mode: harness.ModeAPI, Scenario: string(load.Mixed)})
	for _, tc := range []struct {
		sweep string
		rate  float64
		says  string
	}{
		{"", 1400, "bench/results/sweep-20261202T000000Z/results.json (the latest sweep under bench/results)"},
		{"other/results.json", 350, "of the API's knee 500 req/s in other/results.json"},
	} {
		var log bytes.Buffer
		r := &soakRun{Run: &harness.Run{Config: harness.Config{Log: &log}, Ctx: context.Background()}, cfg: Config{Sweep: tc.sweep}.Defaults()}
		rate, err := r.pickRate("", nil)
		require.NoError(t, err, "sweep %q", tc.sweep)
		assert.InDelta(t, tc.rate, rate, 1e-9, "sweep %q: 70%% of the knee", tc.sweep)
		assert.Contains(t, log.String(), tc.says, "sweep %q: the log says where the rate came from", tc.sweep)
	}
	r := &soakRun{Run: &harness.Run{Config: harness.Config{Log: &bytes.Buffer{}}}, cfg: Config{Sweep: "none/results.json"}.Defaults()}
	_, err := r.pickRate("", nil)
	var ce *load.ConfigError
	require.ErrorAs(t, err, &ce, "a sweep without a knee")
	assert.Equal(t, "Sweep", ce.Field, "the error names the setting")
}
