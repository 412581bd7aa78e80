//go:build integration

package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userapi/userapi/engine"
	"github.com/userapi/userapi/internal/cqlproxy"
)

// startProxied is startLive with every engine connection through a
// CQL-aware proxy to the real node.
func startProxied(t *testing.T, mods ...func(*engine.Config)) (*liveAPI, *cqlproxy.Proxy) {
	t.Helper()
	var p *cqlproxy.Proxy
	api := startLive(t, append([]func(*engine.Config){func(c *engine.Config) {
		var err error
		p, err = cqlproxy.Start(net.JoinHostPort(c.Hosts[0], strconv.Itoa(max(c.Port, 9042))))
		require.NoError(t, err)
		t.Cleanup(p.Close)
		c.Dialer = p
	}}, mods...)...)
	return api, p
}

// A create whose answer the database sent and the connection lost is a 502
// saying the write may have been applied, never a 503 with Retry-After; a
// batch create that failed partway lists the users it wrote (issue 21, item 5).
func TestUnknownOutcomeIsNotRetryLater(t *testing.T) {
	api, p := startProxied(t, func(c *engine.Config) {
		c.ReconnectInterval = 100 * time.Millisecond
		c.BatchMax, c.BatchInflight, c.BatchFixed = 2, 1, true // one replica set's writes in order: the lost one last
	})
	p.SetRule(func(f cqlproxy.Frame) cqlproxy.Action {
		if bytes.Contains(f.Body, []byte("answer-lost")) {
			return cqlproxy.ResetAfterAnswer
		}
		return cqlproxy.Forward
	})

	resp, body := api.do(t, "POST", "/users", `{"name":"answer-lost","email":"lost@example.com","age":30}`)
	require.Equal(t, 502, resp.StatusCode, "%s", body)
	assert.Empty(t, resp.Header.Get("Retry-After"), "no invitation to retry")
	assert.Contains(t, decode[map[string]any](t, body)["detail"], "may have been applied")
	require.Len(t, api.rowsInTable(t), 1, "the write was applied: a retry would have made a second user")

	time.Sleep(300 * time.Millisecond) // the driver reconnects (ReconnectInterval)
	var users []string
	for i := range 5 {
		users = append(users, fmt.Sprintf(`{"name":"b%d","email":"b%d@example.com","age":%d}`, i, i, i))
	}
	users = append(users, `{"name":"answer-lost-too","email":"l@example.com","age":1}`)
	resp, body = api.do(t, "POST", "/users/batch", `{"users":[`+strings.Join(users, ",")+`]}`)
	require.Equal(t, 502, resp.StatusCode, "%s", body)
	assert.Empty(t, resp.Header.Get("Retry-After"))
	got := decode[struct {
		Detail  string     `json:"detail"`
		Created []userJSON `json:"created"`
	}](t, body)
	assert.Contains(t, got.Detail, "may have been applied")
	require.Len(t, got.Created, 5, "the written users are listed: %s", body)
	rows := api.rowsInTable(t)
	for i, u := range got.Created {
		assert.Equal(t, fmt.Sprint("b", i), u.Name)
		assert.True(t, rows[u.ID], "listed as created and in the table: %s", u.ID)
	}
}

// loadWideRows writes n users whose names escape to 600 bytes of JSON.
func loadWideRows(t *testing.T, api *liveAPI, n int) {
	t.Helper()
	name := strings.Repeat("\x01", 100)
	for done := 0; done < n; {
		in := make([]engine.NewUser, min(1000, n-done))
		for i := range in {
			in[i] = engine.NewUser{Name: name, Email: fmt.Sprintf("wide%d@example.com", done+i), Age: 1}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err := api.eng.CreateUsers(ctx, in, engine.Options{})
		cancel()
		require.NoError(t, err)
		done += len(in)
	}
}

// Streams (issue 21, item 2): clients that open streams and never read must
// not keep the engine's few walks from everyone else, and the memory of
// concurrent JSON streams is bounded by their pages, not their rows.
func TestStreamsAreBounded(t *testing.T) {
	api := startLive(t)
	loadWideRows(t, api, 10000) // 7.5 MB of NDJSON per full walk

	t.Run("clients that do not read give their walks back", func(t *testing.T) {
		// A receive buffer of a few KiB: the server's sends block once its
		// own socket buffer (at most 4 MiB here) is full.
		d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		}}
		for range 8 {
			c, err := d.Dial("tcp", strings.TrimPrefix(api.url, "http://"))
			require.NoError(t, err)
			t.Cleanup(func() { c.Close() })
			_, err = io.WriteString(c, "GET /users/stream?limit=0 HTTP/1.1\r\nHost: x\r\nAccept: application/x-ndjson\r\n\r\n")
			require.NoError(t, err)
		}
		time.Sleep(time.Second) // the first four hold every walk, blocked on their clients
		start := time.Now()
		status := 0
		for time.Since(start) < 40*time.Second {
			resp, err := api.client.Get(api.url + "/users/stream?limit=10")
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if status = resp.StatusCode; status == 200 {
				break
			}
			require.Equal(t, 503, status, "only overload while the walks are taken")
			time.Sleep(200 * time.Millisecond)
		}
		require.Equal(t, 200, status, "another client got a stream")
		t.Logf("another client got a stream %v after 8 clients stopped reading", time.Since(start).Round(time.Millisecond))
	})

	t.Run("concurrent JSON streams hold pages, not rows", func(t *testing.T) {
		time.Sleep(6 * time.Second) // the slow readers' walks ended (StreamWriteTimeout)
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		var peak atomic.Uint64
		stop := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			var m runtime.MemStats
			for {
				select {
				case <-stop:
					return
				case <-time.After(2 * time.Millisecond):
				}
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
			}
		}()
		var wg sync.WaitGroup
		for range 4 { // every walk the engine allows at once
			wg.Go(func() {
				resp, err := api.client.Get(api.url + "/users/stream?limit=0&fetch_size=1000")
				if !assert.NoError(t, err) {
					return
				}
				defer resp.Body.Close()
				assert.Equal(t, 200, resp.StatusCode)
				// Read and drop, keeping the end: the client's memory stays out of the figure.
				var tail tailWriter
				n, err := io.Copy(&tail, resp.Body)
				assert.NoError(t, err)
				assert.Greater(t, n, int64(7_000_000))
				assert.Contains(t, string(tail.b), `"total_returned":10000,`)
			})
		}
		wg.Wait()
		close(stop)
		<-sampled
		grew := int64(peak.Load()) - int64(base.HeapInuse)
		t.Logf("heap in use grew by %.1f MB at most during 4 JSON streams of 10,000 rows (7.5 MB each)", float64(grew)/(1<<20))
		// The README's bound: 4 walks of one page each (fetch_size 1000,
		// about 1 MB) and their driver frames, with room for garbage not yet
		// collected; a buffered 7.5 MB answer per stream passes it.
		assert.Less(t, grew, int64(24<<20), "streams hold pages, not rows")
	})
}

// tailWriter keeps the last 256 bytes written to it.
type tailWriter struct{ b []byte }

func (w *tailWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	if len(w.b) > 256 {
		w.b = append(w.b[:0], w.b[len(w.b)-256:]...)
	}
	return len(p), nil
}

// Shutdown ends streams within a bound of their own (StreamShutdownGrace),
// even one whose client does not read, instead of waiting for them (issue
// 21, item 1).
func TestShutdownEndsStreams(t *testing.T) {
	api := startLive(t)
	loadWideRows(t, api, 10000)
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	stuck, err := d.Dial("tcp", strings.TrimPrefix(api.url, "http://"))
	require.NoError(t, err)
	defer stuck.Close()
	_, err = io.WriteString(stuck, "GET /users/stream?limit=0 HTTP/1.1\r\nHost: x\r\nAccept: application/x-ndjson\r\n\r\n")
	require.NoError(t, err)
	// A reading client's stream ends with a last line saying why.
	resp, err := http.Get(api.url + "/users/stream?limit=0&fetch_size=10")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	var tail tailWriter
	read := make(chan struct{})
	go func() {
		defer close(read)
		_, _ = io.Copy(&tail, resp.Body)
	}()
	time.Sleep(500 * time.Millisecond)

	// A budget below a stream's write deadline (5 s): the stuck stream must
	// be ended by the shutdown, not outlasted.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	require.NoError(t, api.srv.Shutdown(ctx), "every connection closed within the budget")
	t.Logf("shutdown with a stuck and a reading stream took %v", time.Since(start).Round(time.Millisecond))
	<-read
	assert.True(t, strings.HasSuffix(string(tail.b), `],"detail":"Server shutting down, retry later"}`),
		"the JSON stream ends with the reason: %s", tail.b)
}
