//go:build cluster

package cluster

// The scale-out drills' shared parts: the real userapi binary and HAProxy
// started by pid through internal/proc, a constant-rate mixed load that
// remembers every acknowledged write, and per-node reads of Cassandra's own
// counters.

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"github.com/userapi/userapi/internal/proc"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// userapiBin builds cmd/userapi once per test binary.
func userapiBin(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "cluster-drill"); buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(buildDir, "userapi"), "./cmd/userapi")
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/userapi: %w\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return filepath.Join(buildDir, "userapi")
}

// replica is one userapi process on a fixed loopback port, so that it can
// be stopped and started again at the same address.
type replica struct {
	name string
	addr string
	args []string
	p    *proc.Process
}

func newReplica(t *testing.T, name string, args ...string) *replica {
	port, err := proc.FreePort()
	require.NoError(t, err)
	r := &replica{name: name, addr: fmt.Sprintf("127.0.0.1:%d", port), args: args}
	r.start(t)
	t.Cleanup(func() {
		if r.p != nil {
			r.p.Kill()
			if t.Failed() {
				t.Logf("%s log tail:\n%s", r.name, tail(r.p.Logs(), 3000))
			}
		}
	})
	return r
}

func (r *replica) start(t *testing.T) {
	t.Helper()
	args := append([]string{"-listen", r.addr, "-log-format", "text", "-log-level", "warn"}, r.args...)
	p, err := proc.Start(proc.Spec{Name: r.name, Path: userapiBin(t), Args: args,
		Env: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}})
	require.NoError(t, err)
	r.p = p
	require.NoError(t, p.WaitReady(context.Background(), "http://"+r.addr+"/ready", 90*time.Second), "%s ready", r.name)
}

// stop sends SIGTERM and waits for a clean exit: the replica's own drain.
func (r *replica) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, r.p.Stop(60*time.Second), "%s stops cleanly on SIGTERM", r.name)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// tierScript runs scripts/tier.sh with env and returns its stdout.
func tierScript(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("scripts/tier.sh", args...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "tier.sh %v: %s%s", args, out, stderr.String())
	return string(out)
}

// balancer is HAProxy running the configuration scripts/tier.sh derives from
// the shipped deploy/haproxy/haproxy.cfg.
type balancer struct {
	addr, stats string
	p           *proc.Process
}

func startBalancer(t *testing.T, replicas []*replica) *balancer {
	t.Helper()
	tierScript(t, nil, "install") // fails loudly when haproxy is missing and cannot be installed
	var servers []string
	for _, r := range replicas {
		servers = append(servers, r.addr)
	}
	port, err := proc.FreePort()
	require.NoError(t, err)
	sport, err := proc.FreePort()
	require.NoError(t, err)
	b := &balancer{addr: fmt.Sprintf("127.0.0.1:%d", port), stats: fmt.Sprintf("127.0.0.1:%d", sport)}
	env := []string{"TIER_LISTEN=" + b.addr, "TIER_STATS=" + b.stats, "TIER_SERVERS=" + strings.Join(servers, " ")}
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	require.NoError(t, os.WriteFile(cfg, []byte(tierScript(t, env, "config")), 0o644))
	args := append(strings.Fields(tierScript(t, nil, "haproxy-args")), "-db", "-f", cfg)
	hp, err := exec.LookPath("haproxy")
	require.NoError(t, err)
	b.p, err = proc.Start(proc.Spec{Name: "haproxy", Path: hp, Args: args})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = b.p.Stop(10 * time.Second)
		if t.Failed() {
			t.Logf("haproxy log tail:\n%s", tail(b.p.Logs(), 3000))
		}
	})
	require.NoError(t, b.p.WaitReady(context.Background(), "http://"+b.addr+"/ready", 30*time.Second))
	for _, r := range replicas {
		b.waitUp(t, r.name, 30*time.Second)
	}
	return b
}

// backend reads HAProxy's stats CSV: the userapi backend's rows by svname.
func (b *balancer) backend() (map[string]map[string]string, error) {
	var req fasthttp.Request
	var resp fasthttp.Response
	req.SetRequestURI("http://" + b.stats + "/;csv")
	if err := fasthttp.DoTimeout(&req, &resp, 2*time.Second); err != nil {
		return nil, err
	}
	recs, err := csv.NewReader(strings.NewReader(string(resp.Body()))).ReadAll()
	if err != nil || len(recs) < 2 {
		return nil, fmt.Errorf("stats csv: %v (%d rows)", err, len(recs))
	}
	head := recs[0]
	head[0] = strings.TrimPrefix(head[0], "# ")
	out := map[string]map[string]string{}
	for _, rec := range recs[1:] {
		if len(rec) < len(head) || rec[0] != "userapi" {
			continue
		}
		row := map[string]string{}
		for i, h := range head {
			row[h] = rec[i]
		}
		out[rec[1]] = row
	}
	return out, nil
}

// waitUp waits until HAProxy's checks have the server fully UP (past rise).
func (b *balancer) waitUp(t *testing.T, server string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		rows, err := b.backend()
		if err == nil && rows[server]["status"] == "UP" {
			return
		}
		require.True(t, time.Now().Before(deadline), "haproxy: %s not UP within %v (%v %v)", server, timeout, rows[server]["status"], err)
		time.Sleep(100 * time.Millisecond)
	}
}

// counter is one field of the backend's row, e.g. wretr or wredis.
func (b *balancer) counter(field string) int {
	rows, err := b.backend()
	if err != nil {
		return -1
	}
	n, _ := strconv.Atoi(rows["BACKEND"][field])
	return n
}

// --- the load ------------------------------------------------------------

type apiUser struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Email     string `json:"email"`
	Age       int    `json:"age"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

type result struct {
	at      time.Time // intended send time
	op      string
	status  int // 0: transport error
	latency time.Duration
	err     string
}

func (r result) failed() bool { return r.status < 200 || r.status > 299 }

// tracked is what the load knows of one acknowledged user: every value a
// read may legitimately return (the last acknowledged one, plus the value of
// an update whose answer was lost) and whether an update is in flight.
type tracked struct {
	values []apiUser
	busy   bool
}

// mixLoad sends creates, reads of created ids and updates of created ids
// (40/40/20) at a constant rate, open loop: each request's latency counts
// from the moment it was due, as loadgen -R does. It sends no retries: a
// request that fails once counts as failed.
type mixLoad struct {
	client  *fasthttp.HostClient
	rate    int
	header  [2]string // an extra request header, or empty
	mu      sync.Mutex
	results []result
	users   map[string]*tracked
	ids     []string
	seq     int
	stop    chan struct{}
	done    sync.WaitGroup
	halted  sync.Once
}

func startMixLoad(addr string, rate, workers int) *mixLoad {
	l := &mixLoad{
		client: &fasthttp.HostClient{Addr: addr, MaxConns: workers, MaxIdemponentCallAttempts: 1,
			ReadTimeout: 15 * time.Second, WriteTimeout: 5 * time.Second},
		rate: rate, users: map[string]*tracked{}, stop: make(chan struct{}),
	}
	due := make(chan time.Time, rate*120)
	l.done.Add(1)
	go func() { // the pacer: one due time per 1/rate, never catching up in bursts beyond the queue
		defer l.done.Done()
		defer close(due)
		start := time.Now()
		for i := 0; ; i++ {
			at := start.Add(time.Duration(i) * time.Second / time.Duration(rate))
			select {
			case <-l.stop:
				return
			case <-time.After(time.Until(at)):
			}
			select {
			case due <- at:
			default: // the queue is full: record the miss as a failure
				l.record(result{at: at, op: "missed", err: "load generator queue full"})
			}
		}
	}()
	for w := 0; w < workers; w++ {
		l.done.Add(1)
		go func() {
			defer l.done.Done()
			for at := range due {
				l.one(at)
			}
		}()
	}
	return l
}

// halt stops the load and waits for its requests to end; later calls do
// nothing.
func (l *mixLoad) halt() {
	l.halted.Do(func() {
		close(l.stop)
		l.done.Wait()
	})
}

// startSteadyLoad starts the drills' mixed load at rate on addr (halted at
// the test's end unless halted before) and returns it after 8 s of warm-up
// (fresh JVMs, prepared statements) and 15 s steady, with when it began and
// the steady window.
func startSteadyLoad(t *testing.T, addr string, rate int) (load *mixLoad, begin time.Time, steady window) {
	load = startMixLoad(addr, rate, 64)
	t.Cleanup(load.halt)
	begin = time.Now()
	time.Sleep(23 * time.Second)
	return load, begin, window{"steady", begin.Add(8 * time.Second), time.Now()}
}

func (l *mixLoad) record(r result) {
	l.mu.Lock()
	l.results = append(l.results, r)
	l.mu.Unlock()
}

func (l *mixLoad) one(at time.Time) {
	l.mu.Lock()
	l.seq++
	n := l.seq
	kind := n % 5 // 0,1 create; 2,3 read; 4 update
	var id string
	if len(l.ids) > 0 && kind >= 2 {
		for try := 0; try < 4 && id == ""; try++ {
			c := l.ids[rand.IntN(len(l.ids))]
			if kind == 4 && l.users[c].busy {
				continue
			}
			id = c
		}
		if kind == 4 && id != "" {
			l.users[id].busy = true
		}
	}
	l.mu.Unlock()
	switch {
	case id == "":
		l.create(at, n)
	case kind == 4:
		l.update(at, n, id)
	default:
		l.read(at, id)
	}
}

func (l *mixLoad) do(method, path string, body []byte) (int, []byte, error) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(method)
	req.SetRequestURI("http://" + l.client.Addr + path)
	if body != nil {
		req.Header.SetContentType("application/json")
		req.SetBody(body)
	}
	if l.header[0] != "" {
		req.Header.Set(l.header[0], l.header[1])
	}
	err := l.client.DoTimeout(req, resp, 15*time.Second)
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode(), append([]byte(nil), resp.Body()...), nil
}

func (l *mixLoad) finish(at time.Time, op string, st int, body []byte, err error) result {
	r := result{at: at, op: op, status: st, latency: time.Since(at)}
	if err != nil {
		r.err = err.Error()
	} else if r.failed() {
		r.err = tail(string(body), 200)
	}
	l.record(r)
	return r
}

func (l *mixLoad) create(at time.Time, n int) {
	body := fmt.Appendf(nil, `{"name":"drill %d","email":"drill%d@example.com","age":%d}`, n, n, n%120)
	st, b, err := l.do("POST", "/users", body)
	var u apiUser
	if st == 201 && (json.Unmarshal(b, &u) != nil || u.ID == "" || u.Name != fmt.Sprintf("drill %d", n)) {
		st, b = -1, append([]byte("201 with an unexpected body: "), b...)
	}
	if l.finish(at, "create", st, b, err).status != 201 {
		return
	}
	l.mu.Lock()
	l.users[u.ID] = &tracked{values: []apiUser{u}}
	l.ids = append(l.ids, u.ID)
	l.mu.Unlock()
}

func (l *mixLoad) read(at time.Time, id string) {
	st, b, err := l.do("GET", "/users/"+id, nil)
	if st == 200 {
		var u apiUser
		if json.Unmarshal(b, &u) != nil || u.ID != id {
			st, b = -1, append([]byte("200 for another user: "), b...)
		}
	}
	l.finish(at, "read", st, b, err)
}

func (l *mixLoad) update(at time.Time, n int, id string) {
	body := fmt.Appendf(nil, `{"name":"drill update %d","age":%d}`, n, n%120)
	st, b, err := l.do("PUT", "/users/"+id, body)
	r := l.finish(at, "update", st, b, err)
	var u apiUser
	ok := r.status == 200 && json.Unmarshal(b, &u) == nil && u.ID == id && u.Name == fmt.Sprintf("drill update %d", n)
	l.mu.Lock()
	defer l.mu.Unlock()
	tr := l.users[id]
	tr.busy = false
	switch {
	case ok:
		tr.values = []apiUser{u}
	case r.status == 0 || r.status >= 500:
		// Unknown outcome: the old value or the new one may be stored (the
		// timestamps are the server's, so only name and age can be checked).
		last := tr.values[len(tr.values)-1]
		last.Name, last.Age, last.UpdatedAt = fmt.Sprintf("drill update %d", n), n%120, ""
		tr.values = append(tr.values, last)
	}
}

func (l *mixLoad) snapshot() []result {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.results)
}

// acked counts acknowledged writes: 201 creates and 200 updates.
func acked(rs []result) (creates, updates int) {
	for _, r := range rs {
		switch {
		case r.op == "create" && r.status == 201:
			creates++
		case r.op == "update" && r.status == 200:
			updates++
		}
	}
	return
}

// verify reads every acknowledged user back through addr and counts those
// missing or holding a value no acknowledged write gave them.
func (l *mixLoad) verify(t *testing.T, addr string, header [2]string) (checked, lost, changed int) {
	t.Helper()
	v := &mixLoad{client: &fasthttp.HostClient{Addr: addr, MaxConns: 16, ReadTimeout: 15 * time.Second}, header: header}
	l.mu.Lock()
	ids := slices.Clone(l.ids)
	l.mu.Unlock()
	var mu sync.Mutex
	var wg sync.WaitGroup
	work := make(chan string)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				var st int
				var b []byte
				var err error
				for try := 0; try < 3; try++ { // the check itself may meet a busy machine
					if st, b, err = v.do("GET", "/users/"+id, nil); err == nil && (st == 200 || st == 404) {
						break
					}
					time.Sleep(time.Second)
				}
				var got apiUser
				ok := st == 200 && json.Unmarshal(b, &got) == nil
				l.mu.Lock()
				want := l.users[id].values
				l.mu.Unlock()
				mu.Lock()
				checked++
				switch {
				case !ok:
					lost++
					if lost <= 5 {
						t.Errorf("acknowledged user %s: read back %d %v %s", id, st, err, tail(string(b), 200))
					}
				case !matches(got, want):
					changed++
					if changed <= 5 {
						t.Errorf("acknowledged user %s changed: read %+v, acknowledged %+v", id, got, want)
					}
				}
				mu.Unlock()
			}
		}()
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	return
}

func matches(got apiUser, want []apiUser) bool {
	for _, w := range want {
		if w.UpdatedAt == "" { // an update of unknown outcome
			w.UpdatedAt = got.UpdatedAt
		}
		if got == w {
			return true
		}
	}
	return false
}

// window is a named time span of a drill.
type window struct {
	name     string
	from, to time.Time
}

type stats struct {
	n, failed     int
	p50, p99, max time.Duration
}

func summarize(rs []result, w window) stats {
	var s stats
	var lat []time.Duration
	for _, r := range rs {
		if r.at.Before(w.from) || !r.at.Before(w.to) {
			continue
		}
		s.n++
		if r.failed() {
			s.failed++
		}
		lat = append(lat, r.latency)
	}
	if len(lat) == 0 {
		return s
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	s.p50, s.p99, s.max = q(0.50), q(0.99), lat[len(lat)-1]
	return s
}

func (s stats) String() string {
	return fmt.Sprintf("%d requests, %d failed, p50 %v, p99 %v, max %v", s.n, s.failed,
		s.p50.Round(100*time.Microsecond), s.p99.Round(100*time.Microsecond), s.max.Round(time.Millisecond))
}

// failures lists the first few failed results, for the test log.
func failures(rs []result, n int) []string {
	var out []string
	for _, r := range rs {
		if r.failed() && len(out) < n {
			out = append(out, fmt.Sprintf("%s %s: %d %s", r.at.Format("15:04:05.000"), r.op, r.status, r.err))
		}
	}
	return out
}

// --- Cassandra's own view ---------------------------------------------------

// nodeSession is a session that talks to one node only, so that what it
// reads (virtual tables, counters) is that node's own.
func nodeSession(addr string) (*gocql.Session, error) {
	c := gocql.NewCluster(addr)
	c.HostFilter = gocql.WhiteListHostFilter(addr)
	c.Timeout = 5 * time.Second
	c.ConnectTimeout = 5 * time.Second
	c.Consistency = gocql.One
	c.NumConns = 1
	return c.CreateSession()
}

// tableCounts reads a node's request counts for one table from
// system_views: coordinator reads and writes (requests it coordinated) and
// local reads and writes (replica work it did).
func tableCounts(t *testing.T, addr, ks string) map[string]int64 {
	t.Helper()
	s, err := nodeSession(addr)
	require.NoError(t, err, "session to %s", addr)
	defer s.Close()
	out := map[string]int64{}
	for _, v := range []string{"coordinator_read_latency", "coordinator_write_latency", "local_read_latency", "local_write_latency"} {
		var n int64
		err := s.Query("SELECT count FROM system_views."+v+" WHERE keyspace_name = ? AND table_name = ?", ks, "users").Scan(&n)
		if err == gocql.ErrNotFound {
			n = 0
		} else {
			require.NoError(t, err, "%s on %s", v, addr)
		}
		out[strings.TrimSuffix(v, "_latency")] = n
	}
	return out
}

// pendingHints is how many hints a node still holds for others.
func pendingHints(addr string) (int, error) {
	s, err := nodeSession(addr)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	var total, n int
	iter := s.Query("SELECT files FROM system_views.pending_hints").Iter()
	for iter.Scan(&n) {
		total += n
	}
	return total, iter.Close()
}

// waitHintsDelivered waits until no node in addrs holds hints.
func waitHintsDelivered(t *testing.T, addrs []string, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		pending, errs := 0, 0
		for _, a := range addrs {
			n, err := pendingHints(a)
			if err != nil {
				errs++
			}
			pending += n
		}
		if pending == 0 && errs == 0 {
			return time.Since(start)
		}
		require.True(t, time.Since(start) < timeout, "hints still pending after %v: %d files (%d nodes not answering)", timeout, pending, errs)
		time.Sleep(time.Second)
	}
}

// nodetoolStatus maps each address to its two-letter state (UN, DN, UJ...)
// as the node at n (1-based in env's cluster) sees the ring.
func nodetoolStatus(t *testing.T, env []string, n int) map[string]string {
	t.Helper()
	out := scriptIn(t, env, []string{fmt.Sprintf("CASSANDRA_NODE=%d", n)}, "nodetool", "status")
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && len(f[0]) == 2 && strings.HasPrefix(f[1], "127.0.0.") {
			m[f[1]] = f[0]
		}
	}
	return m
}

// scriptIn runs scripts/cassandra.sh with a cluster's env (not the ring's
// defaults) plus extra env.
func scriptIn(t testing.TB, cluster, extra []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("scripts/cassandra.sh", args...)
	cmd.Dir = repoRoot
	cmd.Env = append(append(os.Environ(), cluster...), extra...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "cassandra.sh %v (%v): %s", args, extra, out)
	return string(out)
}

// waitState waits until the node at viewer sees every address in want in
// its wanted state (UN, DN).
func waitState(t *testing.T, env []string, viewer int, want map[string]string, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		got := nodetoolStatus(t, env, viewer)
		ok := true
		for a, s := range want {
			ok = ok && got[a] == s
		}
		if ok {
			return time.Since(start)
		}
		require.True(t, time.Since(start) < timeout, "node %d sees %v, want %v within %v", viewer, got, want, timeout)
		time.Sleep(2 * time.Second)
	}
}
