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
	"github.com/userapi/userapi/bench/report"
	"github.com/userapi/userapi/bench/suite"
	"github.com/userapi/userapi/internal/cassandratest"
)

// A short run of the whole make bench suite against the real node: every
// mode and scenario for a second each, one repeat, the profiled run too.
// It proves the orchestration (builds, starts, readiness, stops, JSON,
// report); nothing here is timed.
func TestSuiteSmoke(t *testing.T) {
	bin := t.TempDir()
	for _, b := range []string{"userapi", "loadgen"} {
		build := exec.Command("go", "build", "-o", filepath.Join(bin, b), "../"+b)
		build.Stderr = os.Stderr
		require.NoError(t, build.Run(), "build cmd/%s", b)
	}
	session := cassandratest.Session(t)
	ks := map[string]string{}
	for _, mode := range []string{"api", "raw", "naive"} {
		ks[mode] = cassandratest.NewName("suite_" + mode)
		t.Cleanup(func() { cassandratest.Drop(session, ks[mode]) })
	}
	out := filepath.Join(t.TempDir(), "suite")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"suite", "-out", out, "-userapi", filepath.Join(bin, "userapi"), "-loadgen", filepath.Join(bin, "loadgen"),
		"-hosts", cassandratest.Hosts()[0], "-d", "1s", "-noop-d", "1s", "-warm-d", "0", "-repeats", "1", "-warmup", "100", "-c", "8",
		"-port", "0", "-noop-port", "0", "-pprof-port", "0", "-profile",
		"-api-keyspace", ks["api"], "-raw-keyspace", ks["raw"], "-naive-keyspace", ks["naive"]}, &stdout, &stderr)
	require.Equal(t, 0, code, "loadgen suite exit status; stderr:\n%s", stderr.String())
	assert.Contains(t, stdout.String(), "report.md")

	b, err := os.ReadFile(filepath.Join(out, "results.json"))
	require.NoError(t, err, "results.json")
	var s suite.Report
	require.NoError(t, json.Unmarshal(b, &s))
	groups := map[[2]string]suite.Group{}
	for _, g := range s.Groups {
		groups[[2]string{g.Mode, g.Scenario}] = *g
	}
	for _, mode := range []string{harness.ModeAPI, harness.ModeRaw, harness.ModeAPINoBatch, harness.ModeNaive} {
		for _, sc := range suite.Scenarios {
			g, ok := groups[[2]string{mode, sc}]
			if !assert.True(t, ok, "a group for %s %s", mode, sc) {
				continue
			}
			assert.Positive(t, g.RequestsPerSec.Median, "%s %s: throughput", mode, sc)
			assert.Zero(t, g.Errors+g.Non2xx, "%s %s: errors and non-2xx", mode, sc)
			if mode == harness.ModeRaw {
				assert.NotEmpty(t, g.ClientCPUPerRequestMicros.Values, "%s %s: the driver's CPU per query", mode, sc)
			} else {
				assert.NotEmpty(t, g.CPUPerRequestMicros.Values, "%s %s: server CPU per request", mode, sc)
			}
		}
	}
	assert.Contains(t, groups, [2]string{harness.ModeLoadgenNoop, "noop"}, "the calibration ran")
	_, noWrk := exec.LookPath("wrk")
	for _, tg := range s.Targets {
		// wrk is not a prerequisite: without it the calibration target,
		// and only that one, says so in place of a verdict.
		if noWrk != nil && tg.Name == "no-op server: loadgen / wrk -t1 throughput" {
			assert.Equal(t, report.NotMeasured+": "+suite.WrkMissing, tg.Status+": "+tg.Note, "target %q without wrk", tg.Name)
			continue
		}
		assert.Contains(t, []string{report.Met, report.Missed}, tg.Status, "target %q has a verdict", tg.Name)
	}
	for _, f := range []string{"report.md", "meta.json", "throughput.svg", "pprof/api-get-cpu.txt", "logs/server-api-1.log"} {
		_, err := os.Stat(filepath.Join(out, f))
		assert.NoError(t, err, "file %s", f)
	}
	var meta map[string]string
	b, err = os.ReadFile(filepath.Join(out, "meta.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &meta), "meta.json is JSON")
	assert.Contains(t, meta["naive"], ks["naive"])
}
