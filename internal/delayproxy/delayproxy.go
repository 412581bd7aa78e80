// Package delayproxy is a TCP proxy that holds every byte for a fixed time
// in each direction: a network between the API and Cassandra on one
// machine, for benchmarks (these machines have no netem).
//
// It adds latency, not a bandwidth limit: bytes read at time t are written
// on at t + the one-way delay, in order, however many are in flight, as a
// long link would carry them. Each connection gets two pumps; a pump's
// reader stamps each chunk as it arrives and its writer sleeps until the
// chunk is due. Timers on an idle Go runtime may fire up to about a
// millisecond late, so short delays are floors, not exact values; the
// latency each chunk really got is in Stats.
package delayproxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy forwards connections accepted on its listener to one target.
type Proxy struct {
	ln     net.Listener
	target string
	delay  time.Duration

	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool

	chunks   atomic.Int64
	lateness atomic.Int64 // summed nanoseconds by which chunks went out after due
}

// Start listens on listen (host:port; port 0 picks one) and forwards every
// connection to target, each direction delayed by oneWay.
func Start(listen, target string, oneWay time.Duration) (*Proxy, error) {
	if oneWay < 0 {
		return nil, errors.New("delayproxy: negative delay")
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, delay: oneWay, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the address the proxy listens on.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Stats reports the chunks forwarded and the mean time they went out after
// they were due (timer lateness).
func (p *Proxy) Stats() (chunks int64, meanLate time.Duration) {
	n := p.chunks.Load()
	if n == 0 {
		return 0, 0
	}
	return n, time.Duration(p.lateness.Load() / n)
}

// Close stops accepting, cuts every connection and waits for the pumps.
func (p *Proxy) Close() error {
	err := p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	if !p.track(client) {
		return
	}
	defer p.untrack(client)
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return
	}
	if !p.track(server) {
		return
	}
	defer p.untrack(server)
	done := make(chan struct{}, 2)
	go func() { p.pump(server, client); done <- struct{}{} }()
	go func() { p.pump(client, server); done <- struct{}{} }()
	<-done // one side ended: cut both
	client.Close()
	server.Close()
	<-done
}

type chunk struct {
	b   []byte
	due time.Time
}

// pump copies src to dst, each chunk held until its delay has passed.
func (p *Proxy) pump(dst, src net.Conn) {
	q := make(chan chunk, 1024)
	go func() {
		defer close(q)
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				// A copy of what was read, not a fresh 32 KiB per read: a
				// suite forwards ~10^5 chunks of a few hundred bytes, and
				// the proxy shares the cores it measures.
				q <- chunk{append([]byte(nil), buf[:n]...), time.Now().Add(p.delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		if d := time.Until(c.due); d > 0 {
			time.Sleep(d)
		}
		p.chunks.Add(1)
		p.lateness.Add(int64(time.Since(c.due)))
		if _, err := dst.Write(c.b); err != nil {
			src.Close() // unblocks the reader
			for range q {
			}
			return
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	} else {
		_, _ = io.Copy(io.Discard, src)
	}
}
