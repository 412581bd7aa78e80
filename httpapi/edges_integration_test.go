//go:build integration

package httpapi

import (
	"bytes"
	"fmt"
	"net"
	"strconv"
	"strings"
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
		c.BatchMax, c.BatchInflight = 2, 1 // one replica set's writes in order: the lost one last
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
