//go:build faults

package faults

import (
	"fmt"
	"net/http"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userapi/userapi/internal/cassandratest"
)

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[int(float64(len(d)-1)*p)]
}

func sequentialGets(t *testing.T, url, id string, n int) []time.Duration {
	var lat []time.Duration
	for i := 0; i < n; i++ {
		start := time.Now()
		st, _, err := get(url + "/users/" + id)
		require.NoError(t, err)
		require.Equal(t, 200, st)
		lat = append(lat, time.Since(start))
	}
	return lat
}

// TestOverload: a tiny pool and queue against thousands of concurrent
// connections. Excess requests must get 503 + Retry-After at once, the
// accepted ones succeed, memory stays bounded, and latency recovers.
func TestOverload(t *testing.T) {
	ks := cassandratest.NewName("faults_overload")
	s := cassandratest.Session(t)
	t.Cleanup(func() { cassandratest.Drop(s, ks) })
	srv := startServer(t, cassandratest.Hosts()[0], ks,
		"-pool-size", "2", "-queue-depth", "8", "-batch-max", "1", "-request-timeout", "5s")

	st, b, err := do("POST", srv.url+"/users", []byte(`{"name":"Hot","email":"hot@example.com","age":30}`), nil)
	require.NoError(t, err)
	require.Equal(t, 201, st, "%s", b)
	var id struct {
		ID string `json:"id"`
	}
	require.NoError(t, jsonUnmarshal(b, &id))
	// Distinct ids so that coalescing cannot absorb the spike.
	ids := []string{id.ID}
	for i := 0; i < 50; i++ {
		st, b, err := do("POST", srv.url+"/users", []byte(fmt.Sprintf(`{"name":"u%d","email":"u%d@example.com","age":%d}`, i, i, i)), nil)
		require.NoError(t, err)
		require.Equal(t, 201, st)
		var u user
		require.NoError(t, jsonUnmarshal(b, &u))
		ids = append(ids, u.ID)
	}
	baseline := sequentialGets(t, srv.url, id.ID, 50)
	_, rssBefore := srv.rss()

	const conns = 3000
	const perConn = 5
	var (
		mu        sync.Mutex
		counts    = map[int]int{}
		errs      = map[string]int{}
		lat503    []time.Duration
		lat200    []time.Duration
		noRetry   int
		noDetail  int
		wg        sync.WaitGroup
		startGate = make(chan struct{})
	)
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, IdleConnTimeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	for c := 0; c < conns; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			<-startGate
			for i := 0; i < perConn; i++ {
				start := time.Now()
				resp, err := cl.Get(srv.url + "/users/" + ids[(c+i)%len(ids)])
				el := time.Since(start)
				mu.Lock()
				if err != nil {
					errs[err.Error()]++
					mu.Unlock()
					continue
				}
				counts[resp.StatusCode]++
				switch resp.StatusCode {
				case 503:
					lat503 = append(lat503, el)
					if resp.Header.Get("Retry-After") == "" {
						noRetry++
					}
				case 200:
					lat200 = append(lat200, el)
				}
				mu.Unlock()
				body := make([]byte, 512)
				n, _ := resp.Body.Read(body)
				resp.Body.Close()
				if resp.StatusCode != 200 && !isDetail(body[:n]) {
					mu.Lock()
					noDetail++
					mu.Unlock()
				}
			}
		}(c)
	}
	var peakDuring int
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
				if _, p := srv.rss(); p > peakDuring {
					peakDuring = p
				}
			}
		}
	}()
	spikeStart := time.Now()
	close(startGate)
	wg.Wait()
	close(done)
	spike := time.Since(spikeStart)
	_, rssPeak := srv.rss()

	after := sequentialGets(t, srv.url, id.ID, 50)
	t.Logf("spike: %d connections x %d GETs in %v: statuses %v, transport errors %v", conns, perConn, spike.Round(time.Millisecond), counts, errs)
	t.Logf("503 latency p50 %v p99 %v; 200 latency p50 %v p99 %v",
		percentile(lat503, .5), percentile(lat503, .99), percentile(lat200, .5), percentile(lat200, .99))
	t.Logf("server RSS: %d KiB before, peak %d KiB with %d connections", rssBefore, rssPeak, conns)
	t.Logf("sequential GET latency p50: before %v, after the spike %v", percentile(baseline, .5), percentile(after, .5))

	assert.Empty(t, errs, "every connection got an HTTP answer")
	assert.Greater(t, counts[503], 0, "the spike overflowed pool and queue")
	assert.Greater(t, counts[200], 0, "accepted requests succeeded")
	for st := range counts {
		assert.Contains(t, []int{200, 503}, st, "only 200 or 503 (never a timeout or 500): %v", counts)
	}
	assert.Zero(t, noRetry, "every 503 carries Retry-After")
	assert.Zero(t, noDetail, "every error carries a JSON detail")
	// Bounded memory: the process must not grow per queued request; 3000
	// connections and their buffers fit well within this.
	assert.Less(t, rssPeak, 512*1024, "peak RSS %d KiB", rssPeak)
}

// TestGracefulShutdown: SIGTERM during a write load. /ready turns 503,
// in-flight requests complete, batched writes flush, the process exits 0
// within its shutdown timeout, and no 201-acknowledged user is missing.
func TestGracefulShutdown(t *testing.T) {
	ks := cassandratest.NewName("faults_shutdown")
	s := cassandratest.Session(t)
	t.Cleanup(func() { cassandratest.Drop(s, ks) })
	const shutdownTimeout = 10 * time.Second
	srv := startServer(t, cassandratest.Hosts()[0], ks, "-shutdown-timeout", shutdownTimeout.String(), "-batch-linger", "2ms")

	l := startLoad(srv.url, 16, 0)
	time.Sleep(3 * time.Second)
	var readyDuring []int
	var rmu sync.Mutex
	stopPoll := make(chan struct{})
	go func() {
		for {
			select {
			case <-stopPoll:
				return
			default:
			}
			st := ready(srv.url)
			rmu.Lock()
			readyDuring = append(readyDuring, st)
			rmu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()
	sigAt := time.Now()
	srv.signal(syscall.SIGTERM)
	var exitErr error
	select {
	case exitErr = <-srv.exit:
	case <-time.After(shutdownTimeout + 5*time.Second):
		t.Fatal("process did not exit within its shutdown timeout")
	}
	exitedIn := time.Since(sigAt)
	close(stopPoll)
	l.halt()
	require.NoError(t, exitErr, "clean exit (code 0)")

	outcomes, acked := l.snapshot()
	counts := map[string]int{}
	for _, o := range outcomes {
		if o.status == 0 {
			counts["refused/closed"]++
			continue
		}
		counts[fmt.Sprint(o.status)]++
		assert.Contains(t, []int{200, 201, 503}, o.status, "no 500s during shutdown (%s)", o.op)
	}
	rmu.Lock()
	saw503 := 0
	for _, st := range readyDuring {
		if st == 503 {
			saw503++
		}
	}
	rmu.Unlock()
	t.Logf("exited %v after SIGTERM; statuses %v; /ready polled %d times during shutdown, 503 seen %d times",
		exitedIn.Round(time.Millisecond), counts, len(readyDuring), saw503)
	assert.Greater(t, saw503, 0, "/ready turned 503 while draining")

	// Every acknowledged user is in Cassandra with the acknowledged content.
	missing := 0
	for _, u := range acked {
		var name, email string
		var age int
		uid, err := gocql.ParseUUID(u.ID)
		require.NoError(t, err)
		err = s.Query("SELECT name, email, age FROM "+ks+".users WHERE id = ?", uid).Consistency(gocql.One).Scan(&name, &email, &age)
		if err != nil || name != u.Name || email != u.Email || age != u.Age {
			missing++
			t.Errorf("acknowledged user %s: %v (%q %q %d)", u.ID, err, name, email, age)
		}
	}
	t.Logf("acknowledged creates: %d, missing: %d", len(acked), missing)
	assert.Zero(t, missing)
}
