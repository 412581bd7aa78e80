package cqlproxy

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"time"
)

// CQL v4 request opcodes a rule may act on.
const (
	OpQuery   byte = 0x07
	OpExecute byte = 0x0A
	OpBatch   byte = 0x0D
)

// Action is what the proxy does with one client frame.
type Action int

const (
	// Forward sends the frame on and its answer back.
	Forward Action = iota
	// ResetAfterAnswer sends the frame on, waits until Cassandra has
	// answered it (so the request was executed), drops the answer and resets
	// the client's connection (RST): the client cannot know the outcome.
	ResetAfterAnswer
)

// Frame is one request frame from the client.
type Frame struct {
	Opcode byte
	Stream int16
	Body   []byte
}

// Proxy forwards connections from Addr to a target. Rule, when set, is
// called for each client frame and may block (a test holding a frame).
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	rule  func(Frame) Action
	conns []net.Conn
}

// Start listens on a free loopback port and forwards to target (host:port).
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target}
	go p.accept()
	return p, nil
}

// Addr is the proxy's listening address.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetRule sets the function that decides each frame's fate (nil: forward).
func (p *Proxy) SetRule(rule func(Frame) Action) {
	p.mu.Lock()
	p.rule = rule
	p.mu.Unlock()
}

// DialContext connects to the proxy whatever address is asked for, so a
// driver that learns the node's own address from the cluster still goes
// through the proxy (a gocql Dialer).
func (p *Proxy) DialContext(ctx context.Context, network, _ string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, p.Addr())
}

// Close stops listening and closes every connection.
func (p *Proxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		pc := &pipe{p: p, client: c.(*net.TCPConn), up: up, doomed: map[int16]bool{}}
		go pc.toServer()
		go pc.toClient()
	}
}

// pipe is one proxied connection.
type pipe struct {
	p      *Proxy
	client *net.TCPConn
	up     net.Conn

	mu     sync.Mutex
	doomed map[int16]bool // streams whose answer resets the client instead
}

func readFrame(r io.Reader) (hdr [9]byte, body []byte, err error) {
	if _, err = io.ReadFull(r, hdr[:]); err != nil {
		return hdr, nil, err
	}
	body = make([]byte, binary.BigEndian.Uint32(hdr[5:9]))
	_, err = io.ReadFull(r, body)
	return hdr, body, err
}

func (pc *pipe) toServer() {
	defer pc.up.Close()
	for {
		hdr, body, err := readFrame(pc.client)
		if err != nil {
			return
		}
		f := Frame{Opcode: hdr[4], Stream: int16(binary.BigEndian.Uint16(hdr[2:4])), Body: body}
		pc.p.mu.Lock()
		rule := pc.p.rule
		pc.p.mu.Unlock()
		if rule != nil && rule(f) == ResetAfterAnswer {
			pc.mu.Lock()
			pc.doomed[f.Stream] = true
			pc.mu.Unlock()
		}
		if _, err := pc.up.Write(append(hdr[:], body...)); err != nil {
			return
		}
	}
}

func (pc *pipe) toClient() {
	defer pc.client.Close()
	for {
		hdr, body, err := readFrame(pc.up)
		if err != nil {
			return
		}
		stream := int16(binary.BigEndian.Uint16(hdr[2:4]))
		pc.mu.Lock()
		doomed := pc.doomed[stream]
		delete(pc.doomed, stream)
		pc.mu.Unlock()
		if doomed {
			_ = pc.client.SetLinger(0) // close sends RST: the client reads ECONNRESET
			pc.client.Close()
			pc.up.Close()
			return
		}
		if _, err := pc.client.Write(append(hdr[:], body...)); err != nil {
			return
		}
	}
}
