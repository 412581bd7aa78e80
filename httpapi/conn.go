package httpapi

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Socket deadlines that move in steps.
//
// fasthttp sets up to three socket deadlines per request on a keep-alive
// connection (idle before the first byte, read after it, write before the
// answer). Each is a runtime timer change behind the poller's lock: 6% of
// the server's CPU per GET by id in the profile of the one-P server. A
// coarseConn lets a deadline stand when the new one would move it forward
// by less than the step, and when it does move it, sets it a step later
// than asked; so a busy connection changes each deadline about once a step
// instead of on every request. A deadline fires at most one step late and
// never early; one moved back, or cleared, applies at once.

// deadlineSlack is the step for timeouts of at least 10 s; shorter ones
// (tests) get a tenth of the shortest.
const deadlineSlack = time.Second

func slackFor(timeouts ...time.Duration) time.Duration {
	s := deadlineSlack
	for _, t := range timeouts {
		if t > 0 && t/10 < s {
			s = t / 10
		}
	}
	return s
}

type coarseListener struct {
	net.Listener
	slack time.Duration
}

func (l coarseListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &coarseConn{Conn: c, slack: l.slack}, nil
}

type coarseConn struct {
	net.Conn
	slack time.Duration

	// linger: the server answered before reading the whole request (a body
	// over the limit), so Close lingers (lingeringClose).
	linger atomic.Bool

	mu          sync.Mutex // net.Conn allows concurrent calls
	read, write steppedDeadline
}

// steppedDeadline is one direction's deadline: what the socket has and
// what was last asked for.
type steppedDeadline struct {
	set, asked time.Time
}

// next returns the deadline to give the socket for t, and whether it must
// be given at all.
func (d *steppedDeadline) next(t time.Time, slack time.Duration) (time.Time, bool) {
	forward := !t.Before(d.asked)
	d.asked = t
	if t.IsZero() {
		if d.set.IsZero() {
			return t, false
		}
		d.set = t
		return t, true
	}
	if forward && !d.set.IsZero() && !d.set.Before(t) && d.set.Sub(t) <= slack {
		return d.set, false
	}
	d.set = t.Add(slack)
	return d.set, true
}

func (c *coarseConn) SetReadDeadline(t time.Time) error {
	return c.step(&c.read, t, c.Conn.SetReadDeadline)
}

func (c *coarseConn) SetWriteDeadline(t time.Time) error {
	return c.step(&c.write, t, c.Conn.SetWriteDeadline)
}

// step gives the socket, through set, the deadline d.next decides for t.
func (c *coarseConn) step(d *steppedDeadline, t time.Time, set func(time.Time) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if at, apply := d.next(t, c.slack); apply {
		return set(at)
	}
	return nil
}

// SetWriteDeadlineExact sets the write deadline to t itself, without the
// step: for a deadline that must not fire late (Shutdown ending streams).
func (c *coarseConn) SetWriteDeadlineExact(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.write.set, c.write.asked = t, t
	return c.Conn.SetWriteDeadline(t)
}

func (c *coarseConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// Lingering close, as web servers do when they answer before reading the
// whole request: closing a socket with unread data sends a reset, and a
// client still sending its body (Python's urllib and requests send it all
// before reading) gets a broken pipe instead of the 413 already on its way.
// So after such an answer the connection's write side is shut (the client
// sees the answer end), and what the client still sends is read and thrown
// away until it pauses for lingerIdle, lingerMax passes or lingerBytes were
// read, before the socket closes. It runs on a goroutine of its own, so the
// server's connection slot is free at once.
const (
	lingerIdle  = 500 * time.Millisecond
	lingerMax   = 5 * time.Second
	lingerBytes = 32 << 20
)

// lingerOnClose marks conn (as the server's ErrorHandler gets it) so that
// its Close lingers.
func lingerOnClose(conn net.Conn) {
	if c, ok := conn.(*coarseConn); ok {
		c.linger.Store(true)
	}
}

func (c *coarseConn) Close() error {
	tcp, ok := c.Conn.(*net.TCPConn)
	if !c.linger.Load() || !ok {
		return c.Conn.Close()
	}
	if err := tcp.CloseWrite(); err != nil {
		return tcp.Close()
	}
	go lingeringClose(tcp)
	return nil
}

func lingeringClose(c *net.TCPConn) {
	defer c.Close()
	end := time.Now().Add(lingerMax)
	buf := make([]byte, 32<<10)
	for read := 0; read < lingerBytes; {
		d := time.Now().Add(lingerIdle)
		if d.After(end) {
			d = end
		}
		_ = c.SetReadDeadline(d)
		n, err := c.Read(buf)
		read += n
		if err != nil {
			return // EOF, a pause, the end of the budget, or the client gone
		}
	}
}
