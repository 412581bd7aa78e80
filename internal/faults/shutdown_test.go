//go:build faults

package faults

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userapi/userapi/internal/cassandratest"
)

// TestGracefulShutdownWithStuckStream (issue 21, item 1): SIGTERM while one
// client holds an NDJSON stream of the whole table without reading it and
// 16 clients create users. Shutdown runs in phases with budgets of their
// own: the stream is ended, every create the server accepted is answered
// (and every 201 is in Cassandra), and the process exits 0.
func TestGracefulShutdownWithStuckStream(t *testing.T) {
	ks := cassandratest.NewName("faults_stuck")
	s := cassandratest.Session(t)
	t.Cleanup(func() { cassandratest.Drop(s, ks) })
	// Shorter than a stream's write deadline (5 s): the stuck stream must be
	// ended by the shutdown, not outlasted.
	const shutdownTimeout = 2 * time.Second
	srv := startServer(t, cassandratest.Hosts()[0], ks, "-shutdown-timeout", shutdownTimeout.String())

	// 10,000 users whose names escape to 600 bytes: 7.5 MB of NDJSON, more
	// than the sockets between server and client hold.
	name := strings.Repeat(`\u0001`, 100)
	for b := 0; b < 10; b++ {
		var items []string
		for i := 0; i < 1000; i++ {
			items = append(items, fmt.Sprintf(`{"name":"%s","email":"wide%d_%d@example.com","age":1}`, name, b, i))
		}
		st, body, err := do("POST", srv.url+"/users/batch", []byte(`{"users":[`+strings.Join(items, ",")+`]}`), nil)
		require.NoError(t, err)
		require.Equal(t, 201, st, "%.300s", body)
	}
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	stuck, err := d.Dial("tcp", strings.TrimPrefix(srv.url, "http://"))
	require.NoError(t, err)
	defer stuck.Close()
	_, err = io.WriteString(stuck, "GET /users/stream?limit=0 HTTP/1.1\r\nHost: x\r\nAccept: application/x-ndjson\r\n\r\n")
	require.NoError(t, err)

	type create struct {
		email  string
		status int
		err    error
	}
	var (
		mu      sync.Mutex
		creates []create
		acked   = map[string]string{} // email -> id
		wg      sync.WaitGroup
		stop    = make(chan struct{})
	)
	cl := &http.Client{Timeout: 60 * time.Second}
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				email := fmt.Sprintf("w%d_%d@example.com", w, i)
				resp, err := cl.Post(srv.url+"/users", "application/json",
					bytes.NewReader([]byte(fmt.Sprintf(`{"name":"writer","email":%q,"age":2}`, email))))
				c := create{email: email, err: err}
				if err == nil {
					c.status = resp.StatusCode
					var u user
					b, rerr := io.ReadAll(resp.Body)
					resp.Body.Close()
					if rerr != nil {
						c.err = rerr
					} else if c.status == 201 && json.Unmarshal(b, &u) == nil {
						mu.Lock()
						acked[email] = u.ID
						mu.Unlock()
					}
				}
				mu.Lock()
				creates = append(creates, c)
				mu.Unlock()
				if c.err != nil && errors.Is(c.err, syscall.ECONNREFUSED) {
					return // the listener closed: nothing was sent
				}
			}
		}(w)
	}
	time.Sleep(2 * time.Second)
	sigAt := time.Now()
	srv.signal(syscall.SIGTERM)
	var exitErr error
	select {
	case exitErr = <-srv.exit:
	case <-time.After(shutdownTimeout + 20*time.Second):
		t.Fatal("process did not exit within its shutdown budgets")
	}
	exitedIn := time.Since(sigAt)
	close(stop)
	wg.Wait()
	assert.NoError(t, exitErr, "clean exit (code 0)")

	// What is in the table, by email.
	stored := map[string]string{}
	iter := s.Query("SELECT id, email FROM " + ks + ".users").PageSize(5000).Iter()
	var id gocql.UUID
	var email string
	for iter.Scan(&id, &email) {
		stored[email] = id.String()
	}
	require.NoError(t, iter.Close())

	counts := map[string]int{}
	for _, c := range creates {
		switch {
		case c.err == nil:
			counts[fmt.Sprint(c.status)]++
			assert.Contains(t, []int{201, 503}, c.status, "%s: a create is written (201) or refused whole (503)", c.email)
			if c.status == 503 {
				assert.Empty(t, stored[c.email], "%s: a 503 wrote nothing", c.email)
			}
		case errors.Is(c.err, syscall.ECONNREFUSED):
			counts["refused at connect"]++
		default:
			counts["no answer: "+c.err.Error()]++
			// A request the server never read was never applied; one it
			// applied must have been answered.
			assert.Empty(t, stored[c.email], "%s: written but never answered (%v)", c.email, c.err)
		}
	}
	for e, id := range acked {
		assert.Equal(t, id, stored[e], "acknowledged create of %s is in Cassandra", e)
	}
	t.Logf("exited %v after SIGTERM; creates: %v; acknowledged %d", exitedIn.Round(time.Millisecond), counts, len(acked))
	t.Logf("server log tail:\n%s", tail(srv.p.Logs(), 3000))
}
