package load

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testCtx(t *testing.T) context.Context {
	// Every run in these tests is bounded: by its request count or
	// duration, and by this deadline whatever happens.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestRunCountsRequests(t *testing.T) {
	s := startStub(t)
	for _, tc := range []struct {
		name        string
		n           int64
		concurrency int
		keepAlive   bool
		warmup      int
	}{
		{"one connection", 50, 1, true, 0},
		{"keep-alive", 500, 8, true, 0},
		{"new connection each", 200, 4, false, 0},
		{"more connections than requests", 5, 16, true, 0},
		{"warm-up not counted", 100, 4, true, 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := s.requests.Load()
			res, err := Run(testCtx(t), Config{
				URL: s.url + "/mixed", KeepAlive: tc.keepAlive,
				Load: Load{Requests: tc.n, Concurrency: tc.concurrency, Warmup: tc.warmup},
			})
			require.NoError(t, err, tc.name)
			assert.Equal(t, tc.n, res.Responses, "%s: answered requests", tc.name)
			assert.Equal(t, tc.n+int64(tc.warmup), s.requests.Load()-before, "%s: requests the server saw", tc.name)
			assert.Zero(t, res.ErrorCount(), "%s: errors %v", tc.name, res.Errors)
			assert.Equal(t, tc.n, res.Latency.TotalCount(), "%s: latency samples", tc.name)
			assert.Equal(t, int64(tc.warmup), res.Setup, "%s: unmeasured requests", tc.name)
			assert.Positive(t, res.BytesRead, "%s: bytes read", tc.name)
			if tc.keepAlive {
				assert.LessOrEqual(t, res.Connections, int64(tc.concurrency), "%s: connections opened", tc.name)
			} else {
				assert.Equal(t, tc.n, res.Connections, "%s: one connection per request without keep-alive", tc.name)
			}
		})
	}
}

func TestRunStatusAccounting(t *testing.T) {
	s := startStub(t)
	// The stub answers each run of 10 requests with 7x200, 2x404, 1x503.
	res, err := Run(testCtx(t), Config{URL: s.url + "/mixed", KeepAlive: true, Load: Load{Requests: 1000, Concurrency: 16}})
	require.NoError(t, err)
	assert.Equal(t, map[int]int64{200: 700, 404: 200, 503: 100}, res.Status, "statuses")
	assert.Equal(t, int64(300), res.Non2xx(), "non-2xx")
	assert.Equal(t, int64(1000), res.Responses, "a non-2xx answer is still an answer")
	assert.Zero(t, res.ErrorCount(), "no transport errors")
	assert.Equal(t, "stub", res.ServerSoftware, "Server header of the first answer")
	assert.Equal(t, "/mixed", res.DocumentPath)
}

func TestRunErrorKinds(t *testing.T) {
	s := startStub(t)
	s.slow = 500 * time.Millisecond

	// A loopback port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String()
	require.NoError(t, ln.Close())

	for _, tc := range []struct {
		name string
		url  string
		kind string
	}{
		{"refused", "http://" + closed + "/", ErrKindConnect},
		{"timeout", s.url + "/slow", ErrKindTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Run(testCtx(t), Config{URL: tc.url, KeepAlive: true, Load: Load{Requests: 4, Concurrency: 2, Timeout: 50 * time.Millisecond}})
			require.NoError(t, err, "%s: a failing target is a result, not an error", tc.name)
			assert.Zero(t, res.Responses, "%s: answers", tc.name)
			assert.Equal(t, map[string]int64{tc.kind: 4}, res.Errors, "%s: errors by kind", tc.name)
			assert.Zero(t, res.Latency.TotalCount(), "%s: failed requests have no latency", tc.name)
		})
	}
}

func TestRunDuration(t *testing.T) {
	s := startStub(t)
	res, err := Run(testCtx(t), Config{URL: s.url + "/mixed", KeepAlive: true, Load: Load{Duration: 300 * time.Millisecond, Concurrency: 4}})
	require.NoError(t, err)
	assert.Positive(t, res.Responses, "a duration run sends until the time is up")
	assert.Equal(t, res.Responses, res.Latency.TotalCount(), "every answer has a latency")
}

func TestRunStopsOnContext(t *testing.T) {
	s := startStub(t)
	ctx, cancel := context.WithCancel(testCtx(t))
	time.AfterFunc(200*time.Millisecond, cancel)
	res, err := Run(ctx, Config{URL: s.url + "/mixed", KeepAlive: true, Load: Load{Duration: time.Minute, Concurrency: 2}})
	require.NoError(t, err, "cancelling ends the run with what it measured")
	assert.Positive(t, res.Responses)
}

func TestRateSchedule(t *testing.T) {
	s := startStub(t)
	for _, tc := range []struct {
		name      string
		rate      float64
		n         int64
		duration  time.Duration
		scheduled int64
	}{
		{"by duration", 200, 0, 500 * time.Millisecond, 100},
		{"by count", 1000, 50, 0, 50},
		{"count caps duration", 1000, 30, time.Second, 30},
		{"fractional", 30, 0, 100 * time.Millisecond, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Run(testCtx(t), Config{
				URL: s.url + "/mixed", KeepAlive: true,
				Load: Load{Rate: tc.rate, Requests: tc.n, Duration: tc.duration, Concurrency: 4},
			})
			require.NoError(t, err, tc.name)
			assert.Equal(t, tc.scheduled, res.Scheduled, "%s: scheduled sends", tc.name)
			assert.Equal(t, res.Scheduled, res.Responses+res.ErrorCount()+res.Unsent,
				"%s: every scheduled send is answered, failed or unsent", tc.name)
			require.NotNil(t, res.Service, "%s: service-time histogram in rate mode", tc.name)
			assert.Equal(t, res.Latency.TotalCount(), res.Service.TotalCount(), "%s: both histograms see each answer", tc.name)
		})
	}
}

func TestScheduledCount(t *testing.T) {
	for _, tc := range []struct {
		rate     float64
		requests int64
		duration time.Duration
		want     int64
	}{
		{100, 0, time.Second, 100},
		{100, 0, 995 * time.Millisecond, 100}, // slot 99 is at 990ms
		{100, 0, 990 * time.Millisecond, 99},
		{3, 0, time.Second, 3},
		{1, 0, 1500 * time.Millisecond, 2},
		{1000, 10, time.Second, 10},
		{10, 500, 0, 500},
	} {
		assert.Equal(t, tc.want, scheduledCount(tc.rate, tc.requests, tc.duration),
			"rate %v requests %d duration %v", tc.rate, tc.requests, tc.duration)
	}
}

func TestScenarios(t *testing.T) {
	for _, tc := range []struct {
		scenario Scenario
		mix      Mix
		check    func(t *testing.T, s *stubAPI, res *Result)
	}{
		{Get, nil, func(t *testing.T, s *stubAPI, res *Result) {
			assert.Equal(t, int64(200), res.Status[200], "every id read was created in the warm-up")
			assert.Zero(t, s.getMiss.Load(), "no guessed ids")
		}},
		{Create, nil, func(t *testing.T, s *stubAPI, res *Result) {
			assert.Equal(t, int64(200), res.Status[201], "creates answered 201")
			assert.Equal(t, int64(200), s.creates.Load(), "no warm-up for plain creates")
		}},
		{Batch, nil, func(t *testing.T, s *stubAPI, res *Result) {
			assert.Equal(t, int64(200), res.Status[201], "batches answered 201")
			assert.Equal(t, int64(200*defaultBatchSize), s.creates.Load(), "users created by batches")
		}},
		{Update, nil, func(t *testing.T, s *stubAPI, res *Result) {
			assert.Equal(t, int64(200), res.Status[200], "updates of existing ids answered 200")
			assert.Equal(t, int64(200), s.updates.Load())
		}},
		{List, nil, func(t *testing.T, s *stubAPI, res *Result) {
			assert.Equal(t, int64(200), res.Status[200])
			assert.Positive(t, s.pageState.Load(), "the walk follows X-Next-Page-State")
			assert.Less(t, s.pageState.Load(), int64(200), "and starts over when there is none")
		}},
		{Delete, nil, func(t *testing.T, s *stubAPI, res *Result) {
			twice, total := s.deleteCounts()
			assert.Equal(t, int64(200), res.Status[204], "deletes answered 204")
			assert.Equal(t, 200, total, "deletes the server saw")
			assert.Zero(t, twice, "no id deleted twice")
		}},
		{Mixed, Mix{{Get, 50}, {Create, 20}, {Update, 10}, {List, 10}, {Delete, 10}}, func(t *testing.T, s *stubAPI, res *Result) {
			assert.Zero(t, res.Non2xx(), "a mix with deletes never reads a deleted id: %v", res.Status)
			require.Len(t, res.Ops, 5, "one entry per operation")
			var sum int64
			for name, o := range res.Ops {
				assert.Positive(t, o.Latency.TotalCount(), "operation %s ran", name)
				sum += o.Latency.TotalCount()
			}
			assert.Equal(t, int64(200), sum, "operations add up to the run")
			twice, _ := s.deleteCounts()
			assert.Zero(t, twice, "no id deleted twice")
		}},
	} {
		t.Run(string(tc.scenario), func(t *testing.T) {
			s := startStub(t)
			res, err := Run(testCtx(t), Config{
				URL: s.url, KeepAlive: true,
				Load: Load{Scenario: tc.scenario, Mix: tc.mix, Requests: 200, Concurrency: 4, Warmup: 120, Seed: 7},
			})
			require.NoError(t, err, "scenario %s", tc.scenario)
			assert.Equal(t, int64(200), res.Responses, "scenario %s: answers", tc.scenario)
			assert.Zero(t, res.ErrorCount(), "scenario %s: errors %v", tc.scenario, res.Errors)
			tc.check(t, s, res)
		})
	}
}

func TestDeleteRefills(t *testing.T) {
	s := startStub(t)
	// A duration run cannot size its warm-up; workers make more ids as
	// they run out.
	res, err := Run(testCtx(t), Config{
		URL: s.url, KeepAlive: true,
		Load: Load{Scenario: Delete, Duration: 300 * time.Millisecond, Concurrency: 2, Warmup: 10},
	})
	require.NoError(t, err)
	twice, total := s.deleteCounts()
	assert.Equal(t, res.Responses, int64(total), "deletes")
	assert.Zero(t, twice, "no id deleted twice")
	assert.Zero(t, res.Non2xx(), "every delete found its id: %v", res.Status)
	if res.Responses > 10 {
		assert.Greater(t, res.Setup, int64(1), "refills are counted as unmeasured requests")
	}
}

func TestWarmupFailure(t *testing.T) {
	s := startStub(t)
	_, err := Run(testCtx(t), Config{URL: s.url + "/nothing-here", Load: Load{Scenario: Get, Requests: 10}})
	require.Error(t, err, "a server without the API cannot be warmed up")
	assert.Contains(t, err.Error(), "warm-up", "the error says which phase failed")
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   Config
		field string
	}{
		{"no url", Config{Load: Load{Requests: 1}}, "URL"},
		{"not http", Config{URL: "ftp://127.0.0.1/", Load: Load{Requests: 1}}, "URL"},
		{"no stop", Config{URL: "http://127.0.0.1/"}, "Requests"},
		{"negative concurrency", Config{URL: "http://127.0.0.1/", Load: Load{Requests: 1, Concurrency: -1}}, "Concurrency"},
		{"rate without schedule", Config{URL: "http://127.0.0.1/", Load: Load{TimeLimit: time.Second, Rate: 5}}, "Rate"},
		{"unknown scenario", Config{URL: "http://127.0.0.1/", Load: Load{Requests: 1, Scenario: "dance"}}, "Scenario"},
		{"scenario with body", Config{URL: "http://127.0.0.1/", Body: []byte("x"), Load: Load{Requests: 1, Scenario: Get}}, "Scenario"},
		{"batch too big", Config{URL: "http://127.0.0.1/", BatchSize: 1001, Load: Load{Requests: 1, Scenario: Batch}}, "BatchSize"},
		{"bad mix", Config{URL: "http://127.0.0.1/", Load: Load{Requests: 1, Scenario: Mixed, Mix: Mix{{"fly", 1}}}}, "Mix"},
		{"remote target", Config{URL: "http://192.0.2.1/", Load: Load{Requests: 1}}, "URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(testCtx(t), tc.cfg)
			var ce *ConfigError
			require.True(t, errors.As(err, &ce), "%s: want a ConfigError, got %v", tc.name, err)
			assert.Equal(t, tc.field, ce.Field, "%s: field named", tc.name)
		})
	}
}

func TestParseMix(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Mix
		wantErr bool
	}{
		{"read=80,write=20", Mix{{Get, 80}, {Create, 20}}, false},
		{" get=5 , delete=1,list=0 ", Mix{{Get, 5}, {Delete, 1}, {List, 0}}, false},
		{"update=1", Mix{{Update, 1}}, false},
		{"read=80,read=20", nil, true},
		{"read", nil, true},
		{"read=-1", nil, true},
		{"read=x", nil, true},
		{"jump=3", nil, true},
		{"read=0", nil, true},
		{"", nil, true},
	} {
		got, err := ParseMix(tc.in)
		if tc.wantErr {
			assert.Error(t, err, "ParseMix(%q)", tc.in)
			continue
		}
		require.NoError(t, err, "ParseMix(%q)", tc.in)
		assert.Equal(t, tc.want, got, "ParseMix(%q)", tc.in)
		again, err := ParseMix(got.String())
		require.NoError(t, err, "ParseMix(String()) of %q", tc.in)
		assert.Equal(t, got, again, "String round trip of %q", tc.in)
	}
}

func TestCheckLoopback(t *testing.T) {
	for _, tc := range []struct {
		host string
		ok   bool
	}{
		{"127.0.0.1", true},
		{"127.3.2.1", true},
		{"::1", true},
		{"localhost", true},
		{"10.0.0.1", false},
		{"192.168.1.1", false},
		{"192.0.2.7", false},
	} {
		err := CheckLoopback(context.Background(), tc.host)
		if tc.ok {
			assert.NoError(t, err, "host %s", tc.host)
		} else {
			assert.Error(t, err, "host %s", tc.host)
		}
	}
}

func TestProgressLine(t *testing.T) {
	old := progressAfter
	progressAfter = 0
	t.Cleanup(func() { progressAfter = old })
	s := startStub(t)
	var buf bytes.Buffer
	_, err := Run(testCtx(t), Config{
		URL: s.url + "/mixed", KeepAlive: true,
		Load: Load{Duration: 1200 * time.Millisecond, Concurrency: 2, Progress: &buf},
	})
	require.NoError(t, err)
	out := buf.String()
	assert.Contains(t, out, "requests", "a progress line was written")
	assert.True(t, strings.HasSuffix(out, "\r\033[K"), "and erased at the end: %q", out)
}

func TestWatchPID(t *testing.T) {
	s := startStub(t)
	res, err := Run(testCtx(t), Config{URL: s.url + "/mixed", KeepAlive: true, Load: Load{Requests: 200, Concurrency: 2, WatchPID: os.Getpid()}})
	require.NoError(t, err)
	require.NotNil(t, res.Server, "usage of the watched process")
	assert.Equal(t, os.Getpid(), res.Server.PID)
	assert.GreaterOrEqual(t, res.Server.CPUSeconds, 0.0)
	assert.Positive(t, res.Server.PeakRSSBytes, "peak RSS")
	require.NotNil(t, res.Client, "loadgen's own usage, always measured")
	assert.Equal(t, os.Getpid(), res.Client.PID)
	assert.GreaterOrEqual(t, res.Client.CPUSeconds, 0.0, "CPU time in clock ticks: 200 requests may take less than one")
	assert.InDelta(t, res.Client.CPUSeconds*1e6/float64(res.Responses), res.Client.CPUPerRequestMicros, 1e-6, "per request")
}
