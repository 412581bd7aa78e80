//go:build faults

// Package faults drills the real userapi binary against real Cassandra nodes
// that misbehave: killed, paused, overloaded, shut down mid-load. Run with
// `make test-faults`; each drill that breaks a node uses a node of its own
// (scripts/cassandra.sh CASSANDRA_CLUSTER=...), never the shared one.
package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/userapi/userapi/internal/proc"
)

var (
	repoRoot  string
	serverBin string
)

func TestMain(m *testing.M) {
	root, err := filepath.Abs("../..")
	if err != nil {
		panic(err)
	}
	repoRoot = root
	dir, err := os.MkdirTemp("", "faults")
	if err != nil {
		panic(err)
	}
	serverBin = filepath.Join(dir, "userapi")
	build := exec.Command("go", "build", "-o", serverBin, "./cmd/userapi")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "faults: building cmd/userapi: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// node is a separate local Cassandra cluster of one node for a drill.
type node struct {
	t       *testing.T
	cluster string
	base    int
}

func (n *node) addr() string { return "127.0.0." + strconv.Itoa(n.base) }

func (n *node) script(args ...string) {
	n.t.Helper()
	cmd := exec.Command("scripts/cassandra.sh", args...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CASSANDRA_CLUSTER="+n.cluster,
		"CASSANDRA_ADDR_BASE="+strconv.Itoa(n.base), "CASSANDRA_HEAP=768m")
	out, err := cmd.CombinedOutput()
	require.NoError(n.t, err, "cassandra.sh %v: %s", args, out)
}

// startNode starts a dedicated node and stops it when the test ends.
func startNode(t *testing.T, cluster string, base int) *node {
	n := &node{t: t, cluster: cluster, base: base}
	n.script("start")
	t.Cleanup(func() { n.script("stop") })
	return n
}

// server is a running userapi process, started and stopped by pid through
// internal/proc as the bench suite does.
type server struct {
	t    *testing.T
	p    *proc.Process
	url  string
	exit chan error // receives the exit status once
}

// startServer runs userapi against hosts with extra flags, waits for
// /ready, and kills it (if still running) when the test ends.
func startServer(t *testing.T, hosts, keyspace string, flags ...string) *server {
	t.Helper()
	port, err := proc.FreePort()
	require.NoError(t, err)
	args := append([]string{
		"-listen", fmt.Sprintf("127.0.0.1:%d", port),
		"-cassandra-hosts", hosts, "-cassandra-keyspace", keyspace,
		"-log-format", "text", "-log-level", "warn",
	}, flags...)
	p, err := proc.Start(proc.Spec{
		Name: "userapi", Path: serverBin, Args: args,
		Env: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")},
	})
	require.NoError(t, err)
	s := &server{t: t, p: p, url: fmt.Sprintf("http://127.0.0.1:%d", port), exit: make(chan error, 1)}
	go func() {
		<-p.Done()
		s.exit <- p.Err()
	}()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("server log tail:\n%s", tail(p.Logs(), 4000))
		}
	})
	require.NoError(t, p.WaitReady(context.Background(), s.url+"/ready", 60*time.Second))
	return s
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// rss returns the process's current and peak resident memory in KiB.
func (s *server) rss() (cur, peak int) {
	sample, err := proc.Read(s.p.PID())
	if err != nil {
		return 0, 0
	}
	return int(sample.RSSBytes >> 10), int(sample.PeakRSSBytes >> 10)
}

func (s *server) signal(sig syscall.Signal) { require.NoError(s.t, s.p.Signal(sig)) }

var client = &http.Client{
	Timeout: 30 * time.Second,
	Transport: &http.Transport{
		MaxIdleConns: 10000, MaxIdleConnsPerHost: 10000, MaxConnsPerHost: 0,
		IdleConnTimeout: 30 * time.Second,
	},
}

func get(url string) (int, []byte, error) { return do("GET", url, nil, nil) }

func do(method, url string, body []byte, hdr http.Header) (int, []byte, error) {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if hdr != nil {
		for k := range hdr {
			delete(hdr, k)
		}
		for k, v := range resp.Header {
			hdr[k] = v
		}
	}
	return resp.StatusCode, b, err
}

// user is the API's user object.
type user struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Email     string `json:"email"`
	Age       int    `json:"age"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

// outcome is one request's result in a load run.
type outcome struct {
	at      time.Time
	op      string
	status  int // 0: transport error
	err     string
	latency time.Duration
	detail  bool // the body is a JSON object with a detail
}

// load drives a mixed create/get load until stop is closed, remembering
// every acknowledged (201) user.
type load struct {
	url      string
	mu       sync.Mutex
	outcomes []outcome
	acked    []user
	seq      atomic.Int64
	wg       sync.WaitGroup
	stop     chan struct{}
}

func startLoad(url string, workers int, pause time.Duration) *load {
	l := &load{url: url, stop: make(chan struct{})}
	for w := 0; w < workers; w++ {
		l.wg.Add(1)
		go func(w int) {
			defer l.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				if i%2 == 0 {
					l.create()
				} else {
					l.read()
				}
				time.Sleep(pause)
			}
		}(w)
	}
	return l
}

func (l *load) record(o outcome) {
	l.mu.Lock()
	l.outcomes = append(l.outcomes, o)
	l.mu.Unlock()
}

func isDetail(b []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return false
	}
	_, ok := m["detail"]
	return ok
}

func (l *load) create() {
	n := l.seq.Add(1)
	in := user{Name: fmt.Sprintf("drill user %d", n), Email: fmt.Sprintf("drill%d@example.com", n), Age: int(n % 120)}
	body, _ := json.Marshal(map[string]any{"name": in.Name, "email": in.Email, "age": in.Age})
	start := time.Now()
	st, b, err := do("POST", l.url+"/users", body, nil)
	o := outcome{at: start, op: "create", status: st, latency: time.Since(start)}
	if err != nil {
		o.err = err.Error()
	}
	if st == 201 {
		var u user
		if json.Unmarshal(b, &u) == nil && u.ID != "" && u.Name == in.Name && u.Email == in.Email && u.Age == in.Age {
			l.mu.Lock()
			l.acked = append(l.acked, u)
			l.mu.Unlock()
		} else {
			o.err = "201 with an unexpected body: " + string(b)
		}
	} else if err == nil {
		o.detail = isDetail(b)
	}
	l.record(o)
}

func (l *load) read() {
	l.mu.Lock()
	var id string
	if n := len(l.acked); n > 0 {
		id = l.acked[int(l.seq.Load())%n].ID
	}
	l.mu.Unlock()
	if id == "" {
		return
	}
	start := time.Now()
	st, b, err := get(l.url + "/users/" + id)
	o := outcome{at: start, op: "get", status: st, latency: time.Since(start)}
	if err != nil {
		o.err = err.Error()
	} else if st != 200 {
		o.detail = isDetail(b)
	}
	l.record(o)
}

func (l *load) halt() {
	close(l.stop)
	l.wg.Wait()
}

func (l *load) snapshot() ([]outcome, []user) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]outcome(nil), l.outcomes...), append([]user(nil), l.acked...)
}

// statusCounts summarises outcomes in [from, to).
func statusCounts(os []outcome, from, to time.Time) map[string]int {
	m := map[string]int{}
	for _, o := range os {
		if o.at.Before(from) || !o.at.Before(to) {
			continue
		}
		key := strconv.Itoa(o.status)
		if o.status == 0 {
			key = "transport error"
		}
		m[key]++
	}
	return m
}

// verifyAcked reads back every acknowledged user through the API and returns
// how many are missing or differ.
func verifyAcked(t *testing.T, url string, acked []user) (lost int) {
	t.Helper()
	for _, u := range acked {
		var st int
		var b []byte
		var err error
		for try := 0; try < 5; try++ {
			st, b, err = get(url + "/users/" + u.ID)
			if err == nil && (st == 200 || st == 404) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if st != 200 {
			t.Errorf("acknowledged user %s: GET gave %d %v %s", u.ID, st, err, b)
			lost++
			continue
		}
		var got user
		require.NoError(t, json.Unmarshal(b, &got))
		if got != u {
			t.Errorf("acknowledged user %s changed: created %+v, read %+v", u.ID, u, got)
			lost++
		}
	}
	return lost
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		require.True(t, time.Since(start) < timeout, "%s: not within %v", what, timeout)
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start)
}

func health(url string) (connected bool, ok bool) {
	st, b, err := get(url + "/health")
	if err != nil || st != 200 {
		return false, false
	}
	var h struct {
		Connected bool `json:"cassandra_connected"`
	}
	if json.Unmarshal(b, &h) != nil {
		return false, false
	}
	return h.Connected, true
}

func ready(url string) int {
	st, _, err := get(url + "/ready")
	if err != nil {
		return 0
	}
	return st
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
