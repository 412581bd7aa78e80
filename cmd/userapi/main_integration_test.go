//go:build integration

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userapi/userapi/internal/cassandratest"
)

// syncBuffer collects logs written by run's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// The program end to end: start-up in order, serving, and on the signal a
// shutdown in reverse order with exit code 0.
func TestRunStartsServesAndStops(t *testing.T) {
	ks := cassandratest.NewName("userapi")
	cql := cassandratest.Session(t)
	t.Cleanup(func() { cassandratest.Drop(cql, ks) })
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, func() {}, []string{"-listen", addr, "-cassandra-keyspace", ks,
			"-cassandra-password", "hunter2", "-api-token", "tok-secret"},
			func(k string) string {
				if k == "CASSANDRA_HOSTS" {
					return strings.Join(cassandratest.Hosts(), ",")
				}
				return ""
			}, &logs)
	}()

	url := "http://" + addr
	require.Eventually(t, func() bool {
		resp, err := http.Get(url + "/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}, time.Minute, 50*time.Millisecond, "server never became ready; logs:\n%s", logs.String())

	// With a token set, the docs stay open (as in FastAPI) and the API does not.
	for path, want := range map[string]int{"/docs": 200, "/openapi.json": 200, "/users": 401} {
		resp, err := http.Get(url + path)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		assert.Equal(t, want, resp.StatusCode, "%s without the token", path)
	}

	req, _ := http.NewRequest("POST", url+"/users", strings.NewReader(`{"name":"a","email":"a@b.co","age":1}`))
	req.Header.Set("Authorization", "Bearer tok-secret")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	assert.Equal(t, 201, resp.StatusCode)

	cancel()
	select {
	case code := <-exit:
		assert.Equal(t, 0, code, "logs:\n%s", logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("run did not return after the signal; logs:\n%s", logs.String())
	}

	var msgs []string
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), "logs are JSON: %s", line)
		if rec["component"] == nil {
			msgs = append(msgs, fmt.Sprint(rec["msg"]))
		}
		if strings.Contains(fmt.Sprint(rec["msg"]), "took") || rec["took"] != nil {
			assert.NotEmpty(t, rec["took"], "step %v logs its duration", rec["msg"])
		}
	}
	order := []string{
		"starting userapi",
		"engine start (connect, schema, prepare)",
		"http server build",
		"listen " + addr,
		"serving",
		"shutdown requested",
		"drain (/ready answers 503)",
		"http shutdown (stop accepting, end streams, finish in-flight requests)",
		"engine close (flush batches, run accepted writes, finish queries)",
		"stopped",
	}
	assert.Equal(t, order, msgs)
	assert.NotContains(t, logs.String(), "hunter2")
	assert.NotContains(t, logs.String(), "tok-secret")
}

// startRun runs the program with args (CASSANDRA_HOSTS from the test's
// environment) and waits for /ready; stop ends it and returns its exit code.
func startRun(t *testing.T, args ...string) (url string, logs *syncBuffer, stop func() int) {
	t.Helper()
	ks := cassandratest.NewName("userapi")
	cql := cassandratest.Session(t)
	t.Cleanup(func() { cassandratest.Drop(cql, ks) })
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	logs = &syncBuffer{}
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, func() {}, append([]string{"-listen", addr, "-cassandra-keyspace", ks}, args...),
			func(k string) string {
				if k == "CASSANDRA_HOSTS" {
					return strings.Join(cassandratest.Hosts(), ",")
				}
				return ""
			}, logs)
	}()
	url = "http://" + addr
	require.Eventually(t, func() bool {
		resp, err := http.Get(url + "/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}, time.Minute, 50*time.Millisecond, "server never became ready; logs:\n%s", logs.String())
	stopped := false
	stop = func() int {
		if stopped {
			return -1
		}
		stopped = true
		cancel()
		select {
		case code := <-exit:
			return code
		case <-time.After(60 * time.Second):
			t.Fatalf("run did not return after the signal; logs:\n%s", logs.String())
			return -1
		}
	}
	t.Cleanup(func() { stop() })
	return url, logs, stop
}

// pprof's /debug/pprof/cmdline shows the process's command line: secrets
// given as flags must not be in it (issue 21, item 7).
func TestPprofCmdlineHidesSecrets(t *testing.T) {
	pprofAddr := freeAddr(t)
	secrets := []string{"-api-token", "tok-secret-1", "--cassandra-password=hunter2", "-api-token=tok-secret-2",
		"--cassandra-password", "hunter3"}
	saved := os.Args
	os.Args = append(append([]string{saved[0], "-pprof-listen", pprofAddr}, secrets...), "-log-level", "warn")
	t.Cleanup(func() { os.Args = saved })
	_, _, stop := startRun(t, "-pprof-listen", pprofAddr)

	resp, err := http.Get("http://" + pprofAddr + "/debug/pprof/cmdline")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	for _, s := range []string{"tok-secret-1", "tok-secret-2", "hunter2", "hunter3"} {
		assert.NotContains(t, string(body), s, "cmdline %q", body)
	}
	assert.Contains(t, string(body), "-pprof-listen", "the rest of the command line stays")
	assert.Contains(t, string(body), "-log-level\x00warn")
	assert.Equal(t, 0, stop())
}
