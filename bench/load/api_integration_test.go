//go:build integration

package load

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"github.com/userapi/userapi/internal/cassandratest"
)

// startAPI builds cmd/userapi, starts it on a free loopback port with its
// own keyspace, waits until /ready answers 200, and stops it (by its pid)
// when the test ends.
func startAPI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "userapi")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/userapi")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run(), "build cmd/userapi")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	ks := cassandratest.NewName("bench_api")
	t.Cleanup(func() { cassandratest.Drop(cassandratest.Session(t), ks) })
	cmd := exec.Command(bin, "-listen", addr, "-log-level", "warn")
	cmd.Env = append(os.Environ(), "CASSANDRA_KEYSPACE="+ks)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	require.NoError(t, cmd.Start(), "start userapi")
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	url := "http://" + addr
	deadline := time.Now().Add(60 * time.Second)
	for {
		status, _, err := fasthttp.GetTimeout(nil, url+"/ready", time.Second)
		if err == nil && status == fasthttp.StatusOK {
			return url
		}
		select {
		case err := <-exited:
			t.Fatalf("userapi exited during start-up: %v", err)
		default:
		}
		require.True(t, time.Now().Before(deadline), "userapi not ready after 60s (last: %d %v)", status, err)
		time.Sleep(200 * time.Millisecond)
	}
}

// A smoke run of every scenario against the real server and Cassandra:
// the harness and the API agree on the contract. Nothing here is timed.
func TestScenariosAgainstAPI(t *testing.T) {
	url := startAPI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, tc := range []struct {
		scenario Scenario
		mix      Mix
	}{
		{Get, nil}, {Create, nil}, {Batch, nil}, {Update, nil}, {List, nil}, {Delete, nil},
		{Mixed, Mix{{Get, 60}, {Create, 15}, {Update, 10}, {List, 10}, {Delete, 5}}},
	} {
		t.Run(string(tc.scenario), func(t *testing.T) {
			res, err := Run(ctx, Config{
				URL: url, KeepAlive: true,
				Load: Load{Scenario: tc.scenario, Mix: tc.mix, Requests: 300, Concurrency: 8, Warmup: 100, Timeout: 10 * time.Second},
			})
			require.NoError(t, err, "scenario %s", tc.scenario)
			assert.Equal(t, int64(300), res.Responses, "scenario %s: answers (errors %v)", tc.scenario, res.Errors)
			assert.Zero(t, res.Non2xx(), "scenario %s: statuses %v", tc.scenario, res.Status)
		})
	}
}
