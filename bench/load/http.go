package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// Run drives the HTTP load that cfg describes and returns what it measured.
// It returns an error only when the run cannot start (bad config, target
// not loopback, warm-up failed); failed requests are counted in the Result.
// When ctx ends the run stops early and the partial Result is returned.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(cfg.URL) // withDefaults checked it
	if !cfg.AllowRemote {
		if err := CheckLoopback(ctx, u.Hostname()); err != nil {
			return nil, err
		}
	}
	ctx, undo := applyLimits(ctx, cfg.Threads, cfg.TimeLimit)
	defer undo()

	c := newClient(cfg, u)
	defer c.close()
	var (
		ops          []string
		newWorker    func(int) (worker, error)
		plainWorkers []*plainWorker
		warmed       int64
		scen         *apiScenario
	)
	if cfg.Scenario == Plain {
		ops = []string{strings.ToLower(cfg.Method)}
		// plan.run makes the workers one after another before starting any.
		newWorker = func(int) (worker, error) {
			w := newPlainWorker(cfg, c.newConnDoer())
			plainWorkers = append(plainWorkers, w)
			return w, nil
		}
		if cfg.Warmup > 0 {
			warmed = warmPlain(ctx, cfg, c)
		}
	} else {
		if scen, err = newAPIScenario(ctx, cfg, c, u); err != nil {
			return nil, err
		}
		ops = scen.ops.names()
		newWorker = scen.newWorker
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("warm-up did not finish: %w", ctx.Err())
	}
	// The measured workers send on connections of their own (connDoer):
	// the warm-up's pooled ones would only sit idle on the server.
	c.HostClient.CloseIdleConnections()

	read0, written0, conns0 := c.net.read.Load(), c.net.written.Load(), c.net.dials.Load()
	res, err := cfg.measured(ctx, ops, newWorker)
	if err != nil {
		return nil, err
	}
	res.BytesRead = c.net.read.Load() - read0
	res.BytesWritten = c.net.written.Load() - written0
	res.Connections = c.net.dials.Load() - conns0
	res.Setup = warmed
	if scen != nil {
		res.Setup = scen.setup.Load()
	}
	res.Mode = "http"
	res.Target = cfg.URL
	res.Method = cfg.Method
	res.KeepAlive = cfg.KeepAlive
	res.DocumentPath = u.RequestURI()
	for _, w := range plainWorkers {
		if w.seen {
			res.ServerSoftware, res.DocumentLength = w.server, w.docLen
			break
		}
	}
	return res, nil
}

// CheckLoopback refuses a host that is not (or does not resolve only to)
// a loopback address: a load generator pointed at the wrong host by a
// typo is a denial of service.
func CheckLoopback(ctx context.Context, host string) error {
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() {
			return FieldError("URL", "%s is not a loopback address (127.0.0.0/8, ::1); remote targets need AllowRemote", host)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", host, err)
	}
	for _, ip := range ips {
		if !ip.IP.IsLoopback() {
			return FieldError("URL", "%s resolves to %s, not a loopback address; remote targets need AllowRemote", host, ip.IP)
		}
	}
	return nil
}

// netStats counts bytes on the wire and connections opened, as ab's
// "Total transferred" and wrk's "MB read" do.
type netStats struct {
	read, written, dials atomic.Int64
}

type countingConn struct {
	net.Conn
	st *netStats
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.st.read.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.st.written.Add(int64(n))
	return n, err
}

type client struct {
	*fasthttp.HostClient
	net *netStats
	doers
}

func newClient(cfg Config, u *url.URL) *client {
	st := &netStats{}
	addr := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	dialer := &net.Dialer{Timeout: cfg.Timeout}
	hc := &fasthttp.HostClient{
		Addr:  addr,
		Name:  "loadgen",
		IsTLS: u.Scheme == "https",
		Dial: func(addr string) (net.Conn, error) {
			conn, err := dialer.Dial("tcp", addr)
			if err != nil {
				return nil, err
			}
			st.dials.Add(1)
			return &countingConn{Conn: conn, st: st}, nil
		},
		// One connection per worker, as wrk and ab do; warm-up goroutines
		// borrow the same ones.
		MaxConns:           cfg.Concurrency,
		MaxConnWaitTimeout: cfg.Timeout,
		// Long enough that a slow fixed-rate run keeps its connections
		// (as wrk does), short enough that the pool's cleaner goroutine
		// exits soon after Run has closed them.
		MaxIdleConnDuration: time.Minute,
		ReadTimeout:         cfg.Timeout,
		WriteTimeout:        cfg.Timeout,
		// A load generator must count a failure, not retry it away.
		MaxIdemponentCallAttempts:     1,
		DisableHeaderNamesNormalizing: true,
		DisablePathNormalizing:        true,
		MaxResponseBodySize:           64 << 20,
	}
	return &client{HostClient: hc, net: st}
}

// applyHeaders sets what every request of the run carries.
func applyHeaders(req *fasthttp.Request, cfg Config) {
	for _, h := range cfg.Headers {
		if strings.EqualFold(h.Key, "Host") {
			req.Header.SetHost(h.Value)
			continue
		}
		req.Header.Set(h.Key, h.Value)
	}
	if !cfg.KeepAlive {
		req.SetConnectionClose()
	}
}

// plainWorker repeats one request, ab- and wrk-style.
type plainWorker struct {
	c    doer
	req  *fasthttp.Request
	resp *fasthttp.Response

	seen   bool
	server string
	docLen int
}

func newPlainWorker(cfg Config, c doer) *plainWorker {
	req := &fasthttp.Request{}
	req.SetRequestURI(cfg.URL)
	req.Header.SetMethod(cfg.Method)
	if cfg.Body != nil {
		req.SetBody(cfg.Body)
		req.Header.SetContentType(cfg.ContentType)
	}
	applyHeaders(req, cfg)
	return &plainWorker{c: c, req: req, resp: &fasthttp.Response{}}
}

func (w *plainWorker) next() (int, error) { return 0, nil }

func (w *plainWorker) do() (int, int, error) {
	if err := w.c.Do(w.req, w.resp); err != nil {
		return 0, 0, err
	}
	n := len(w.resp.Body())
	if !w.seen {
		w.seen = true
		w.server = string(w.resp.Header.Server())
		w.docLen = n
	}
	return w.resp.StatusCode(), n, nil
}

// warmPlain sends cfg.Warmup unmeasured requests to open connections and
// warm the server; it returns how many it sent.
func warmPlain(ctx context.Context, cfg Config, c *client) int64 {
	var sent atomic.Int64
	var wg sync.WaitGroup
	for range min(cfg.Concurrency, cfg.Warmup) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newPlainWorker(cfg, c.HostClient)
			for ctx.Err() == nil && sent.Add(1) <= int64(cfg.Warmup) {
				_, _, _ = w.do()
			}
		}()
	}
	wg.Wait()
	return min(sent.Load(), int64(cfg.Warmup))
}

// Error kinds, after wrk's socket error columns plus what ab calls
// exceptions.
const (
	ErrKindConnect = "connect" // could not open a connection
	ErrKindRead    = "read"    // connection closed or reset before the answer
	ErrKindWrite   = "write"   // could not send the request
	ErrKindTimeout = "timeout" // no answer within Timeout
	ErrKindSetup   = "setup"   // could not prepare the request (e.g. no ids left)
	ErrKindOther   = "other"
	// Raw mode's kinds mirror the engine's taxonomy.
	ErrKindUnavailable = "unavailable"
	ErrKindOverloaded  = "overloaded"
)

// errSetup marks worker.next failures.
var errSetup = errors.New("setup")

func errorKind(err error) string {
	var ne net.Error
	var op *net.OpError
	switch {
	case errors.Is(err, errSetup):
		return ErrKindSetup
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrDialTimeout),
		errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return ErrKindTimeout
	case errors.As(err, &op) && op.Op == "dial", errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, fasthttp.ErrNoFreeConns):
		return ErrKindConnect
	case errors.Is(err, syscall.EPIPE):
		return ErrKindWrite
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, fasthttp.ErrConnectionClosed):
		return ErrKindRead
	case errors.As(err, &ne) && ne.Timeout():
		return ErrKindTimeout
	}
	if k := rawErrorKind(err); k != "" {
		return k
	}
	return ErrKindOther
}

// applyLimits runs the load on threads OS threads (0: all) and within
// limit (0: none); undo restores GOMAXPROCS and releases the timer.
func applyLimits(ctx context.Context, threads int, limit time.Duration) (context.Context, func()) {
	prev := -1
	if threads > 0 {
		prev = runtime.GOMAXPROCS(threads)
	}
	cancel := context.CancelFunc(func() {})
	if limit > 0 {
		ctx, cancel = context.WithTimeout(ctx, limit)
	}
	return ctx, func() {
		cancel()
		if prev > 0 {
			runtime.GOMAXPROCS(prev)
		}
	}
}
