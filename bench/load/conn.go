package load

import (
	"bufio"
	"errors"
	"net"
	"os"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// A connDoer is one worker's own connection, as wrk and ab give each
// connection to one sender. fasthttp's HostClient pool takes and returns a
// connection and sets two deadlines per request: ~15% of loadgen's CPU at
// a no-op server, taken from the server it measures on a shared machine.
// A connDoer's socket deadline moves only when it comes within Timeout of
// firing, to twice Timeout ahead; an answer later than Timeout still
// counts as a timeout.
type connDoer struct {
	c        *client
	conn     net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	deadline time.Time
}

// errLate marks an answer that came after Timeout.
var errLate = os.ErrDeadlineExceeded

// newConnDoer returns a doer for one worker; client.close closes its
// connection. TLS targets keep the pool's path (the load generator's TLS
// is for checking a setup, not for measuring).
func (c *client) newConnDoer() doer {
	if c.HostClient.IsTLS {
		return c.HostClient
	}
	d := &connDoer{c: c}
	c.mu.Lock()
	c.own = append(c.own, d)
	c.mu.Unlock()
	return d
}

// doer sends a request and reads its response: a *fasthttp.HostClient or a
// *connDoer.
type doer interface {
	Do(req *fasthttp.Request, resp *fasthttp.Response) error
}

func (d *connDoer) Do(req *fasthttp.Request, resp *fasthttp.Response) error {
	timeout := d.c.ReadTimeout // Config.Timeout, as the pool is set up
	start := time.Now()
	if d.conn == nil {
		conn, err := d.c.HostClient.Dial(d.c.HostClient.Addr)
		if err != nil {
			return err
		}
		d.conn = conn
		if d.br == nil {
			d.br = bufio.NewReaderSize(conn, 4096)
			d.bw = bufio.NewWriterSize(conn, 4096)
		} else {
			d.br.Reset(conn)
			d.bw.Reset(conn)
		}
		d.deadline = time.Time{}
	}
	if d.deadline.Sub(start) < timeout {
		d.deadline = start.Add(2 * timeout)
		if err := d.conn.SetDeadline(d.deadline); err != nil {
			return d.fail(err)
		}
	}
	// As the HostClient is set up to: the path and header names as given,
	// its Name as the User-Agent.
	req.URI().DisablePathNormalizing = true
	req.Header.DisableNormalizing()
	if len(req.Header.UserAgent()) == 0 {
		req.Header.SetUserAgent(d.c.HostClient.Name)
	}
	if err := req.Write(d.bw); err != nil {
		return d.fail(err)
	}
	if err := d.bw.Flush(); err != nil {
		return d.fail(err)
	}
	resp.Reset()
	resp.Header.DisableNormalizing()
	resp.SkipBody = req.Header.IsHead()
	if err := resp.ReadLimitBody(d.br, d.c.HostClient.MaxResponseBodySize); err != nil {
		return d.fail(err)
	}
	if req.ConnectionClose() || resp.ConnectionClose() {
		d.close()
	}
	if time.Since(start) > timeout {
		return errLate
	}
	return nil
}

// fail closes the connection (the next request dials a new one) and
// returns err.
func (d *connDoer) fail(err error) error {
	d.close()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errLate
	}
	return err
}

func (d *connDoer) close() {
	if d.conn != nil {
		_ = d.conn.Close()
		d.conn = nil
	}
}

// doers are the per-worker connections of a client, closed with it.
type doers struct {
	mu  sync.Mutex
	own []*connDoer
}

// close closes the pool's idle connections and every worker's own.
func (c *client) close() {
	c.HostClient.CloseIdleConnections()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.own {
		d.close()
	}
	c.own = nil
}
