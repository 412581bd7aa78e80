//go:build integration

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userapi/userapi/bench/harness"
	"github.com/userapi/userapi/bench/load"
	"github.com/userapi/userapi/bench/report"
	"github.com/userapi/userapi/bench/soak"
	"github.com/userapi/userapi/bench/sweep"
	"github.com/userapi/userapi/internal/cassandratest"
)

// buildBinaries builds userapi and loadgen into a temporary directory.
func buildBinaries(t *testing.T) (userapi, loadgen string) {
	t.Helper()
	bin := t.TempDir()
	for _, b := range []string{"userapi", "loadgen"} {
		build := exec.Command("go", "build", "-o", filepath.Join(bin, b), "../"+b)
		build.Stderr = os.Stderr
		require.NoError(t, build.Run(), "build cmd/%s", b)
	}
	return filepath.Join(bin, "userapi"), filepath.Join(bin, "loadgen")
}

func keyspaces(t *testing.T, names ...string) map[string]string {
	t.Helper()
	session := cassandratest.Session(t)
	ks := map[string]string{}
	for _, n := range names {
		ks[n] = cassandratest.NewName(n)
		t.Cleanup(func() { cassandratest.Drop(session, ks[n]) })
	}
	return ks
}

func runCapacity(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, &stdout, &stderr)
	require.Equal(t, 0, code, "loadgen %s exit status; stderr:\n%s", args[0], stderr.String())
	assert.Contains(t, stdout.String(), "report.md", "loadgen %s says where the report is", args[0])
	return stderr.String()
}

// Smoke runs of sweep, soak and large against the real node: seconds each,
// proving the orchestration, the files and the verdicts' plumbing; nothing
// here is timed.
func TestCapacitySmoke(t *testing.T) {
	userapi, loadgen := buildBinaries(t)
	ks := keyspaces(t, "sweep_api", "sweep_raw", "soak", "large", "small")
	host := cassandratest.Hosts()[0]
	dir := t.TempDir()

	sweepOut := filepath.Join(dir, "sweep")
	runCapacity(t, "sweep", "-out", sweepOut, "-userapi", userapi, "-loadgen", loadgen, "-hosts", host, "-port", "0",
		"-d", "1s", "-concurrency", "1 8", "-rate-steps", "0.3 2", "-rate-c", "16", "-scenarios", "mixed", "-warmup", "100",
		"-p99-bound", "1s", "-api-keyspace", ks["sweep_api"], "-raw-keyspace", ks["sweep_raw"])
	s, err := sweep.Read(filepath.Join(sweepOut, "results.json"))
	require.NoError(t, err, "sweep results.json")
	assert.Len(t, s.Steps, 8, "2 modes x (2 concurrency + 2 rate) steps")
	for _, st := range s.Steps {
		assert.Positive(t, st.RequestsPerSec, "step %s: throughput", st.File)
		assert.Zero(t, st.Errors, "step %s: errors", st.File)
	}
	k, ok := s.Knee(harness.ModeAPI, string(load.Mixed))
	require.True(t, ok, "an API knee entry for mixed")
	require.True(t, k.Found, "at 30%% of the peak and a 1 s bound the API holds: %+v", k)
	for _, f := range []string{"report.md", "knee-mixed.svg", "knee-mixed.png", "concurrency-mixed.svg", "meta.json"} {
		_, err := os.Stat(filepath.Join(sweepOut, f))
		assert.NoError(t, err, "sweep file %s", f)
	}

	// The soak takes its rate from the sweep: 5% of the knee keeps it light.
	soakOut := filepath.Join(dir, "soak")
	stderr := runCapacity(t, "soak", "-out", soakOut, "-userapi", userapi, "-hosts", host, "-port", "0", "-sweep",
		filepath.Join(sweepOut, "results.json"), "-knee-share", "0.05", "-d", "4s", "-window", "1s", "-settle", "1s",
		"-c", "8", "-warmup", "100", "-verify", "200", "-strict=false", "-idle", "30s", "-nodetool-every", "2s",
		"-nodetool", "../../scripts/cassandra.sh nodetool", "-keyspace", ks["soak"])
	assert.Contains(t, stderr, "of the API's knee", "the rate came from the sweep")
	assert.Contains(t, stderr, "1s/4s", "a progress line per window")
	assert.NotContains(t, stderr, "compactionstats:", "nodetool ran")
	b, err := os.ReadFile(filepath.Join(soakOut, "results.json"))
	require.NoError(t, err)
	var sr soak.Report
	require.NoError(t, json.Unmarshal(b, &sr), "soak results.json")
	require.Len(t, sr.Verdicts, 5, "five verdicts")
	assert.GreaterOrEqual(t, len(sr.Samples), 4, "a sample per window")
	for _, v := range sr.Verdicts[3:] { // failed requests, creates readable: not timing
		assert.True(t, v.Holds(), "verdict %q: %s", v.Name, v.Detail)
	}
	assert.Positive(t, sr.Checked, "creates read back")
	for _, f := range []string{"report.md", "results.json", "soak-latency.svg", "soak-memory.png", "soak-cassandra.svg"} {
		_, err := os.Stat(filepath.Join(soakOut, f))
		assert.NoError(t, err, "soak file %s", f)
	}

	largeOut := filepath.Join(dir, "large")
	stderr = runCapacity(t, "large", "-out", largeOut, "-userapi", userapi, "-loadgen", loadgen, "-hosts", host, "-port", "0",
		"-users", "3000", "-small-users", "200", "-sample", "500", "-d", "1s", "-c", "4",
		"-large-keyspace", ks["large"], "-small-keyspace", ks["small"])
	assert.Contains(t, stderr, "preload: 3000 users", "preload reports its progress and total")
	ids, err := load.ReadIDs(filepath.Join(largeOut, "ids-large.txt"))
	require.NoError(t, err)
	assert.Len(t, ids, 500, "a sample of the large table's ids")
	report, err := os.ReadFile(filepath.Join(largeOut, "report.md"))
	require.NoError(t, err)
	assert.Contains(t, string(report), "| get | 4 | large | 3000 |", "large-table get row")
	assert.Contains(t, string(report), "| list | 1 | small | 200 |", "small-table list row")
}

// With neither a rate nor a sweep (this directory has no bench/results),
// the soak calibrates on its own server and says so: make soak runs from a
// fresh clone with nothing set.
func TestSoakCalibrates(t *testing.T) {
	userapi, _ := buildBinaries(t)
	ks := keyspaces(t, "soakcal")
	out := filepath.Join(t.TempDir(), "soak")
	stderr := runCapacity(t, "soak", "-out", out, "-userapi", userapi, "-hosts", cassandratest.Hosts()[0], "-port", "0",
		"-d", "2s", "-window", "1s", "-settle", "1s", "-c", "8", "-warmup", "100", "-verify", "100", "-strict=false",
		"-idle", "10s", "-no-nodetool", "-keyspace", ks["soakcal"])
	assert.Contains(t, stderr, "no rate and no sweep: calibrating", "the soak says it calibrates")
	assert.Contains(t, stderr, "of its own calibration", "and that the rate came from it")
	var sr soak.Report
	require.NoError(t, report.ReadJSON(filepath.Join(out, "results.json"), &sr), "soak results.json")
	assert.Len(t, sr.Verdicts, 5, "the soak ran to its verdicts")
	assert.Contains(t, sr.Meta["load"], "req/s", "meta.json and the report carry the rate")
}
