//go:build integration

package engine

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestQueriesFallBackToTheOtherConnections: after an outage the direct and
// the coalescing connections reconnect on their own, up to a reconnect
// interval apart. Here the direct set (which every query picks first) loses
// its connections for good; every kind of query must still be answered,
// by the coalescing set, instead of failing with ErrUnavailable.
func TestQueriesFallBackToTheOtherConnections(t *testing.T) {
	e := newTestEngine(t, func(c *Config) { c.DirectBelow = 1 << 20 })
	require.NotNil(t, e.direct, "the direct connections are on by default")

	p := newCutProxy(t, net.JoinHostPort(e.cfg.Hosts[0], strconv.Itoa(e.cfg.Port)))
	cluster, err := e.clusterConfig()
	require.NoError(t, err)
	cluster.WriteCoalesceWaitTime = 0
	cluster.Hosts = []string{p.addr.String()}
	cluster.AddressTranslator = gocql.AddressTranslatorFunc(func(net.IP, int) (net.IP, int) {
		return p.addr.IP, p.addr.Port // every connection of this set goes through the proxy
	})
	proxied, err := cluster.CreateSession()
	require.NoError(t, err)
	orig := e.direct
	e.direct = proxied // before any query: workers see it through the pool's queue
	t.Cleanup(func() { proxied.Close(); orig.Close() })

	ctx := reqCtx(t)
	u, err := e.CreateUser(ctx, NewUser{Name: "before", Email: "before@x.io", Age: 1}, Options{})
	require.NoError(t, err)
	require.Greater(t, p.accepted(), 0, "the direct set ran through the proxy")

	p.cut()
	require.Eventually(t, func() bool {
		return errors.Is(e.ping(proxied), gocql.ErrNoConnections)
	}, 10*time.Second, 20*time.Millisecond, "the direct set has no connection left")

	got, err := e.GetUser(ctx, u.ID, Options{})
	require.NoError(t, err, "get")
	assert.Equal(t, u, got)
	v, err := e.CreateUser(ctx, NewUser{Name: "after", Email: "after@x.io", Age: 2}, Options{})
	require.NoError(t, err, "create")
	age := 3
	_, err = e.UpdateUser(ctx, v.ID, UserPatch{Age: &age}, Options{})
	require.NoError(t, err, "update")
	batch := make([]NewUser, 8)
	for i := range batch {
		batch[i] = NewUser{Name: fmt.Sprint("b", i), Email: fmt.Sprint("b", i, "@x.io"), Age: i}
	}
	created, err := e.CreateUsers(ctx, batch, Options{})
	require.NoError(t, err, "batch create")
	page, err := e.ListUsers(ctx, 100, "", Options{})
	require.NoError(t, err, "list")
	assert.Len(t, page.Users, 10)
	require.NoError(t, e.ProbeRead(ctx), "probe")
	require.NoError(t, e.DeleteUser(ctx, u.ID, Options{}), "delete")

	// Concurrent reads, so that some go as read groups (readgroup.go).
	var wg sync.WaitGroup
	for r := 0; r < 32; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				c := created[(r+i)%len(created)]
				got, err := e.GetUser(ctx, c.ID, Options{})
				if !assert.NoError(t, err, "concurrent get") {
					return
				}
				assert.Equal(t, c, got)
			}
		}(r)
	}
	wg.Wait()
	assert.True(t, e.Connected(), "the coalescing set reaches Cassandra, so the engine does")
}

// cutProxy forwards TCP connections to a target until cut, which closes
// its listener and every connection it forwards.
type cutProxy struct {
	addr *net.TCPAddr
	ln   net.Listener

	mu    sync.Mutex
	conns []net.Conn
	n     int
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &cutProxy{addr: ln.Addr().(*net.TCPAddr), ln: ln}
	t.Cleanup(p.cut)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.DialTimeout("tcp", target, 5*time.Second)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.n++
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
	return p
}

func (p *cutProxy) accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

func (p *cutProxy) cut() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}
