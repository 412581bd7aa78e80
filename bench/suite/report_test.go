package suite

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/userapi/userapi/bench/harness"
	"github.com/userapi/userapi/bench/load"
	"github.com/userapi/userapi/bench/measure"
	"github.com/userapi/userapi/bench/report"
)

const wrkSample = `Running 3s test @ http://127.0.0.1:18182/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.86ms    4.00ms  50.36ms   94.67%
    Req/Sec    46.89k    15.60k   81.84k    76.67%
  Latency Distribution
     50%  822.00us
     75%    1.52ms
     90%    3.61ms
     99%   20.60ms
  140916 requests in 3.02s, 6.99MB read
  Non-2xx or 3xx responses: 4
  Socket errors: connect 1, read 2, write 0, timeout 3
Requests/sec:  46591.60
Transfer/sec:      2.31MB
`

// writeRun stores a synthetic run: rps requests per second with every
// latency at ms milliseconds, and server CPU for API modes.
func writeRun(t *testing.T, dir, mode, scenario string, repeat int, rps, ms float64) {
	t.Helper()
	r := &load.Result{
		Info:    load.Info{Mode: "http", Target: "http://127.0.0.1:8000", Scenario: scenario, Concurrency: 64, Labels: map[string]string{"mode": mode, "scenario": scenario, "repeat": strconv.Itoa(repeat)}},
		Elapsed: time.Second, Responses: int64(rps), Status: map[int]int64{200: int64(rps)},
		Latency: hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 3),
	}
	require.NoError(t, r.Latency.RecordValues(int64(ms*1000), int64(rps)))
	if mode != harness.ModeRaw {
		r.Server = &measure.Usage{PID: 1, CPUSeconds: rps * 20e-6, CPUPerRequestMicros: 20, PeakRSSBytes: 50 << 20}
	}
	clientCPU := 10.0 // raw: the driver's cost per query
	if mode == harness.ModeNaive {
		r.Server.CPUPerRequestMicros = 25
	}
	r.Client = &measure.Usage{PID: 2, CPUPerRequestMicros: clientCPU}
	f, err := os.Create(filepath.Join(dir, "runs", mode+"-"+scenario+"-"+strconv.Itoa(repeat)+".json"))
	require.NoError(t, err)
	require.NoError(t, load.WriteJSON(f, r))
	require.NoError(t, f.Close())
}

func TestSuiteReport(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "runs"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "pprof"), 0o755))
	for rep := 1; rep <= 3; rep++ {
		d := float64(rep) // spread around the medians below
		writeRun(t, dir, harness.ModeAPI, "get", rep, 9000+100*d, 2)
		writeRun(t, dir, harness.ModeRaw, "get", rep, 10000+100*d, 1)
		writeRun(t, dir, harness.ModeAPINoBatch, "get", rep, 9000+100*d, 2)
		writeRun(t, dir, harness.ModeAPI, "create", rep, 8000+100*d, 3)
		writeRun(t, dir, harness.ModeRaw, "create", rep, 6000+100*d, 3)
		writeRun(t, dir, harness.ModeAPINoBatch, "create", rep, 4000+100*d, 5)
		writeRun(t, dir, harness.ModeNaive, "get", rep, 8000+100*d, 1.5)
		writeRun(t, dir, harness.ModeNaive, "create", rep, 6000+100*d, 2)
		writeRun(t, dir, harness.ModeAPI, harness.ScenarioGetOne, rep, 2000+100*d, 0.5)
		writeRun(t, dir, harness.ModeLoadgenNoop, "noop", rep, 50000+100*d, 0.5)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "runs", harness.ModeWrkNoop+"__noop__"+strconv.Itoa(rep)+".wrk.txt"), []byte(wrkSample), 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "meta.json"), []byte(`{"duration":"6s","connections":"64","node":"127.0.0.61: commitlog_sync periodic (10000ms) (...)"}`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pprof", "api-get-cpu.txt"), []byte("flat  flat%\n 1s 50% main.handler\n"), 0o644))

	s, err := Load(dir)
	require.NoError(t, err)
	assert.Len(t, s.Runs, 33, "runs read")
	g := s.Group(harness.ModeAPI, "get")
	require.NotNil(t, g, "api get group")
	assert.Equal(t, 3, g.Runs)
	assert.InDelta(t, 9200, g.RequestsPerSec.Median, 1e-6, "median req/s")
	assert.InDelta(t, 2, g.P(99), 0.01, "median p99")
	assert.InDelta(t, 20, g.CPUPerRequestMicros.Median, 1e-9, "CPU per request")
	assert.InDelta(t, 10, s.Group(harness.ModeRaw, "get").ClientCPUPerRequestMicros.Median, 1e-9, "raw client CPU per query")

	ratio := func(name, sc string) float64 {
		v, ok := s.ratio(name, sc)
		require.True(t, ok, "ratio %s of %s", name, sc)
		return v
	}
	assert.InDelta(t, 9200.0/10200, ratio("throughput API / raw", "get"), 1e-9)
	assert.InDelta(t, 2.0, ratio("p99 API / raw", "get"), 0.01)
	assert.InDelta(t, 8200.0/4200, ratio("throughput batching on / off", "create"), 1e-9)
	assert.InDelta(t, 50200/46591.60, ratio("throughput loadgen / wrk", "noop"), 1e-9)
	assert.InDelta(t, 2.0, ratio(ratioCPURaw, "get"), 1e-9, "API server 20 µs over raw client 10 µs")
	assert.InDelta(t, 9200.0/8200, ratio(ratioRPSNaive, "get"), 1e-9)
	assert.InDelta(t, 20.0/25, ratio(ratioCPUNaive, "get"), 1e-9)
	assert.InDelta(t, 1.5, ratio(ratioP99Naive, "create"), 0.01)

	verdicts := map[string]string{}
	for _, tg := range s.Targets {
		verdicts[tg.Name] = tg.Status
	}
	assert.Equal(t, map[string]string{
		"GET-by-id throughput, API / naive":                               "met",    // 1.12
		"GET-by-id server CPU per request, API / naive":                   "met",    // 0.8
		"GET-by-id server CPU / raw client CPU per read":                  "missed", // 2.0
		"GET-by-id throughput, API / raw":                                 "met",    // 0.902
		"GET-by-id p99, API / raw":                                        "missed",
		"GET-by-id p50 on one connection, API":                            "met",    // 0.5 ms
		"create throughput, API / naive (periodic-sync node)":             "met",    // 1.32
		"create throughput, API / batching off (periodic-sync node)":      "met",    // 1.95
		"create server CPU per request, API / naive (periodic-sync node)": "met",    // 0.8
		"create p99, API / naive (periodic-sync node)":                    "missed", // 1.5
		"no-op server: loadgen / wrk -t1 throughput":                      "met",
	}, verdicts)
	assert.Contains(t, s.Verdicts(), "missed       create p99, API / naive (periodic-sync node): 1.50 x (want <= 1.00), over by 50.0%; met in 0 of 3 repeats", "a verdict line")

	// On a group-sync node, issue 23's bars for that node; with no node
	// named (an older report), no create target at all.
	s.Meta["node"] = "127.0.0.1: commitlog_sync group (2ms window) (...)"
	s.targets()
	verdicts = map[string]string{}
	for _, tg := range s.Targets {
		verdicts[tg.Name] = tg.Status
	}
	assert.Equal(t, "met", verdicts["create throughput, API / naive (group-sync node)"])
	assert.Equal(t, "met", verdicts["create throughput, API / batching off (group-sync node)"])
	assert.NotContains(t, verdicts, "create p99, API / naive (periodic-sync node)")
	delete(s.Meta, "node")
	s.targets()
	for _, tg := range s.Targets {
		assert.NotContains(t, tg.Name, "create", "no create target without a node")
	}
	for _, r := range s.Ratios {
		if r.Name == ratioRPSRaw && r.Scenario == "get" {
			assert.InDeltaSlice(t, []float64{9100.0 / 10100, 9200.0 / 10200, 9300.0 / 10300}, r.PerRepeat, 1e-9, "per-repeat ratios in repeat order")
		}
	}

	require.NoError(t, s.Write())
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	for _, want := range []string{"## Targets", "| GET-by-id p99, API / raw | <= 1.50 | 2.00 x | missed: over by 33.3% | 0 of 3 | issue 12 |",
		"| get | throughput API / raw | 0.902 | 0.90, 0.90, 0.90 |", "| GET-by-id p50 on one connection, API | <= 0.60 | 0.50 ms | met | 3 of 3 | issue 12 |",
		"throughput API / raw", "## CPU per request", "| get | 20.0 | 20.0 | 25.0 | 10.0 | 2.00 | 2.50 |",
		"## API against the naive baseline", "| create | 1.32 | 1.50 | 0.80 |", "![throughput](throughput.svg)", "main.handler", "| duration | 6s |"} {
		assert.Contains(t, string(md), want, "report.md")
	}
	for _, f := range []string{"results.json", "throughput.svg", "throughput.png", "latency-get.svg", "latency-create.png", "latency-noop.svg", "calibration.svg"} {
		st, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err, "file %s", f)
		assert.Positive(t, st.Size(), "file %s", f)
	}
}

// TestTargetsCountRepeats: a verdict reads the medians, and the report also
// counts the repeats that would have met the bound on their own, pairing
// the runs of each repeat (an outlier repeat shows there, not in the median).
func TestTargetsCountRepeats(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "runs"), 0o755))
	raw := []float64{10000, 14000, 11000} // repeat 2's raw run is the outlier
	for rep := 1; rep <= 3; rep++ {
		writeRun(t, dir, harness.ModeAPI, "get", rep, 9000, 2)
		writeRun(t, dir, harness.ModeRaw, "get", rep, raw[rep-1], 1)
	}
	writeRun(t, dir, harness.ModeRaw, "get", 4, 12000, 1) // a repeat without an API run pairs with nothing
	s, err := Load(dir)
	require.NoError(t, err)
	var tg report.Verdict
	for _, x := range s.Targets {
		if x.Name == "GET-by-id throughput, API / raw" {
			tg = x
		}
	}
	assert.Equal(t, report.Met, tg.Status, "median 9000 / median 11500 = 0.78")
	assert.InDelta(t, 9000.0/11500, tg.Measured, 1e-9)
	assert.Equal(t, 3, tg.Repeats)
	assert.Equal(t, 2, tg.RepeatsMet, "0.90 and 0.82 meet 0.75, 0.64 does not")
}

func TestSuiteEmpty(t *testing.T) {
	_, err := Load(t.TempDir())
	assert.Error(t, err, "a directory without runs")
}

// TestCalibrationWithoutWrk: wrk is not a prerequisite, and a suite run
// without it states why the calibration target has no verdict.
func TestCalibrationWithoutWrk(t *testing.T) {
	for _, meta := range []string{`{"wrk":"` + WrkMissing + `"}`, `{}`} {
		dir := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "runs"), 0o755))
		writeRun(t, dir, harness.ModeLoadgenNoop, "noop", 1, 50000, 0.5)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "meta.json"), []byte(meta), 0o644))
		s, err := Load(dir)
		require.NoError(t, err)
		var tg report.Verdict
		for _, x := range s.Targets {
			if x.Name == "no-op server: loadgen / wrk -t1 throughput" {
				tg = x
			}
		}
		assert.Equal(t, report.NotMeasured, tg.Status, "meta %s: no wrk run, no ratio", meta)
		if meta == `{}` {
			assert.Empty(t, tg.Note, "a missing ratio for another reason is not blamed on wrk")
		} else {
			assert.Equal(t, WrkMissing, tg.Note, "the verdict says wrk is missing and how to get it")
		}
	}
}
