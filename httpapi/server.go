package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fasthttp/router"
	"github.com/valyala/bytebufferpool"
	"github.com/valyala/fasthttp"

	"github.com/userapi/userapi/engine"
)

// Store is what the handlers need from the engine; *engine.Engine
// implements it. It is declared here, by its consumer, so that handler
// tests can run against an in-memory fake.
type Store interface {
	CreateUser(ctx context.Context, in engine.NewUser, opt engine.Options) (engine.User, error)
	CreateUsers(ctx context.Context, in []engine.NewUser, opt engine.Options) ([]engine.User, error)
	GetUser(ctx context.Context, id engine.UUID, opt engine.Options) (engine.User, error)
	ListUsers(ctx context.Context, limit int, pageState string, opt engine.Options) (engine.Page, error)
	UpdateUser(ctx context.Context, id engine.UUID, patch engine.UserPatch, opt engine.Options) (engine.User, error)
	DeleteUser(ctx context.Context, id engine.UUID, opt engine.Options) error
	StreamUsers(ctx context.Context, fetchSize, limit int, opt engine.Options, fn func(page []engine.User) error) (pages int, err error)
	ProbeRead(ctx context.Context) error
	Connected() bool
	WriteMetrics(w io.Writer)
}

// Config configures a Server. Zero durations and sizes mean the defaults
// noted on each field.
type Config struct {
	Store  Store
	Logger *slog.Logger // default slog.Default()

	// RequestTimeout bounds each request's engine work: queueing, batching
	// and the query. fasthttp's own ctx.Done only closes at shutdown, so
	// every handler derives its deadline from this. Default 5s.
	RequestTimeout time.Duration
	// StreamTimeout bounds a whole /users/stream or /users/stream/pages walk,
	// which may legitimately outlast RequestTimeout. Default: WriteTimeout.
	StreamTimeout time.Duration
	// StreamWriteTimeout is how long a stream may wait for its client to
	// take in one page: past it the stream ends and its walk, one of the few
	// the engine runs at once, is free for another client. Default 5s.
	StreamWriteTimeout time.Duration
	// StreamShutdownGrace is how long, once Shutdown began, a stream's
	// client has to take in its last line before the connection is cut.
	// Default 1s.
	StreamShutdownGrace time.Duration

	// APIToken, when set, is required as "Authorization: Bearer <token>" on
	// every path except /health, /ready and /metrics, and, unless DocsAuth,
	// /docs and /openapi.json.
	APIToken string
	// DocsAuth puts /docs (with its assets) and /openapi.json behind the
	// token too. Off by default, as in FastAPI: a browser cannot send the
	// header to open the page, and the page's Authorize button adds the
	// token to its try-it-out calls.
	DocsAuth bool

	// Connection limits. Defaults: ReadTimeout 10s (a slow client cannot
	// hold a connection longer to send one request), WriteTimeout 60s (also
	// the longest stream), IdleTimeout 10s (uvicorn's is 5s; equal to
	// ReadTimeout, a busy connection's read deadline moves in steps, see
	// conn.go), MaxHeaderBytes 8 KiB, MaxBodyBytes 1 MiB, Concurrency 256Ki
	// connections. Socket deadlines fire up to a second late (a tenth of the
	// shortest timeout when that is under 10s).
	ReadTimeout    time.Duration
	WriteTimeout   time.Duration
	IdleTimeout    time.Duration
	MaxHeaderBytes int
	MaxBodyBytes   int
	Concurrency    int
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 5 * time.Second
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 10 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 60 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 10 * time.Second
	}
	if c.StreamTimeout <= 0 {
		c.StreamTimeout = c.WriteTimeout
	}
	if c.StreamWriteTimeout <= 0 {
		c.StreamWriteTimeout = 5 * time.Second
	}
	if c.StreamShutdownGrace <= 0 {
		c.StreamShutdownGrace = time.Second
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = 8 << 10
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.Concurrency <= 0 {
		c.Concurrency = fasthttp.DefaultConcurrency
	}
	return c
}

// Server is the HTTP API: routes, validation, encoding and the mapping of
// engine errors to statuses, on a fasthttp.Server.
type Server struct {
	cfg      Config
	store    Store
	log      *slog.Logger
	metrics  *serverMetrics
	router   *router.Router
	http     *fasthttp.Server
	draining atomic.Bool
	streams  streams // the streams running, for Shutdown to end

	// validPageState rejects a malformed page_state with a 422
	// before any work is queued; tests of the fake store replace it.
	validPageState func(string) bool

	tokenHash [32]byte // sha256 of APIToken, compared in constant time

	// getUserRoute is GET /users/{user_id} as registered, for the fast path.
	getUserRoute fasthttp.RequestHandler
	openAPI      []byte
	docs         *docs
}

// New builds a Server; it does not listen yet.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("httpapi: Config.Store is nil")
	}
	cfg = cfg.withDefaults()
	enableMetricMetadata()
	s := &Server{cfg: cfg, store: cfg.Store, log: cfg.Logger, metrics: newServerMetrics(),
		validPageState: engine.ValidPageState}
	if cfg.APIToken != "" {
		s.tokenHash = sha256.Sum256([]byte(cfg.APIToken))
	}
	var err error
	if s.docs, err = newDocs(); err != nil {
		return nil, fmt.Errorf("httpapi: docs assets: %w", err)
	}
	if s.openAPI, err = openAPIDocument(!cfg.DocsAuth, s.docs.names()); err != nil {
		return nil, fmt.Errorf("httpapi: openapi document: %w", err)
	}
	s.routes()
	s.http = &fasthttp.Server{
		Handler:                      s.serve,
		ErrorHandler:                 s.errorHandler,
		Name:                         "userapi",
		ReadTimeout:                  cfg.ReadTimeout,
		WriteTimeout:                 cfg.WriteTimeout,
		IdleTimeout:                  cfg.IdleTimeout,
		ReadBufferSize:               cfg.MaxHeaderBytes,
		MaxRequestBodySize:           cfg.MaxBodyBytes,
		Concurrency:                  cfg.Concurrency,
		NoDefaultContentType:         true,
		NoDefaultDate:                false,
		DisablePreParseMultipartForm: true,
		CloseOnShutdown:              true,
		Logger:                       fasthttpLogger{s.log},
	}
	return s, nil
}

// routes registers every endpoint. For GET, /users/stream wins over
// /users/{user_id}; as in FastAPI, other methods on /users/stream or
// /users/batch reach the {user_id} routes and get a 400 for the id.
func (s *Server) routes() {
	r := router.New()
	r.RedirectTrailingSlash = true // as FastAPI does for /users/
	r.RedirectFixedPath = false    // a cleaned-up path is a different request: 404
	r.HandleOPTIONS = false        // no CORS here; OPTIONS is a 405 as in FastAPI
	r.HandleMethodNotAllowed = true
	r.NotFound = s.notFound
	r.MethodNotAllowed = s.methodNotAllowed
	r.PanicHandler = s.panicked
	s.router = r

	s.handle("GET", "/health", s.health)
	s.handle("GET", "/ready", s.ready)
	s.handle("GET", "/metrics", s.writeMetrics)
	s.handle("GET", "/openapi.json", s.openAPIHandler)
	s.handle("GET", "/docs", s.docsPage)
	s.handle("GET", "/docs/{file}", s.docsAsset)

	s.handle("POST", "/users", s.createUser)
	s.handle("GET", "/users", s.listUsers)
	s.handle("POST", "/users/batch", s.createUsers)
	s.handle("GET", "/users/stream", s.streamUsers)
	s.handle("GET", "/users/stream/pages", s.streamPages)
	s.getUserRoute = s.handle("GET", "/users/{user_id}", s.getUser)
	s.handle("PUT", "/users/{user_id}", s.updateUser)
	s.handle("PATCH", "/users/{user_id}", s.updateUser)
	s.handle("DELETE", "/users/{user_id}", s.deleteUser)

	s.handle("GET", "/performance/async", s.performanceAsync)
	s.handle("GET", "/performance/sync", s.performanceSync)
}

// handlerFunc gets the route pattern for its logs and metrics.
type handlerFunc func(ctx *fasthttp.RequestCtx, route string)

// handle registers h with request counting, latency and in-flight metrics,
// and returns the wrapped handler.
func (s *Server) handle(method, pattern string, h handlerFunc) fasthttp.RequestHandler {
	rm := s.metrics.route(method, pattern)
	wrapped := func(ctx *fasthttp.RequestCtx) {
		start := time.Now()
		s.metrics.inFlight.Add(1)
		defer func() {
			if p := recover(); p != nil {
				s.panicked(ctx, p)
			}
			s.metrics.inFlight.Add(-1)
			rm.observe(ctx.Response.StatusCode(), time.Since(start))
		}()
		h(ctx, pattern)
	}
	s.router.Handle(method, pattern, wrapped)
	return wrapped
}

// Handler returns the request handler, for tests and custom listeners.
func (s *Server) Handler() fasthttp.RequestHandler { return s.serve }

// Serve serves on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	return s.http.Serve(coarseListener{ln, slackFor(s.http.ReadTimeout, s.http.WriteTimeout, s.http.IdleTimeout)})
}

// ListenAndServe listens on addr (host:port) and serves until Shutdown.
func (s *Server) ListenAndServe(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Drain makes /ready answer 503 so load balancers stop sending traffic;
// everything else keeps working until Shutdown.
func (s *Server) Drain() { s.draining.Store(true) }

// Shutdown stops accepting connections, ends every stream (streams.end:
// a client still reading gets a last {"detail"} within StreamShutdownGrace,
// one that does not read is cut then), and waits, until ctx ends, for the
// other requests in flight to be answered. If ctx ends first, the requests
// still running go on: Wait waits for them.
func (s *Server) Shutdown(ctx context.Context) error {
	s.Drain()
	done := make(chan error, 1)
	go func() { done <- s.http.ShutdownWithContext(ctx) }() // closes the listeners first
	s.streams.end(s.cfg.StreamShutdownGrace)
	return <-done
}

// Wait waits, until ctx ends, for every connection to close: after a
// Shutdown whose deadline passed, for requests that were still waiting for
// the engine to be answered.
func (s *Server) Wait(ctx context.Context) error {
	for s.http.GetOpenConnectionsCount() > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("httpapi: %d connections still open: %w", s.http.GetOpenConnectionsCount(), ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// serve is the root handler: bearer token check, then routing. While
// draining, every answer closes its connection, so that clients open new
// ones (refused once the listener closes, before anything is sent) rather
// than send on a kept-alive one that Shutdown may close under them.
func (s *Server) serve(ctx *fasthttp.RequestCtx) {
	if s.draining.Load() {
		ctx.SetConnectionClose()
	}
	if s.cfg.APIToken != "" && !s.publicPath(ctx.Request.URI().PathOriginal()) && !s.authorized(ctx) {
		ctx.Response.Header.Set(fasthttp.HeaderWWWAuthenticate, "Bearer")
		writeDetail(ctx, fasthttp.StatusUnauthorized, detailUnauthorized)
		s.metrics.record(routeUnauthorized, fasthttp.StatusUnauthorized, 0)
		return
	}
	// The hot path: GET /users/<uuid> skips the router, which copies the
	// path parameter and boxes it into a user value (3 of 7 allocations per
	// request in BenchmarkGetUser). Same handler, same answer.
	if ctx.IsGet() {
		if p := ctx.Request.URI().PathOriginal(); len(p) == len(usersPrefix)+36 && bytes.HasPrefix(p, usersPrefix) {
			if _, err := engine.ParseUUIDBytes(p[len(usersPrefix):]); err == nil {
				s.getUserRoute(ctx)
				return
			}
		}
	}
	s.router.Handler(ctx)
}

var usersPrefix = []byte("/users/")

// publicPath: the probes and metrics scrapers run without the token, and
// so do the docs unless DocsAuth.
func (s *Server) publicPath(p []byte) bool {
	switch string(p) {
	case "/health", "/ready", "/metrics":
		return true
	case "/docs", "/openapi.json":
		return !s.cfg.DocsAuth
	}
	return !s.cfg.DocsAuth && bytes.HasPrefix(p, docsPrefix)
}

var docsPrefix = []byte("/docs/")

var bearerPrefix = []byte("bearer ")

// authorized compares SHA-256 digests in constant time, so neither the
// token's bytes nor its length leak through timing.
func (s *Server) authorized(ctx *fasthttp.RequestCtx) bool {
	h := ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)
	if len(h) < len(bearerPrefix) || !strings.EqualFold(string(h[:len(bearerPrefix)]), string(bearerPrefix)) {
		return false
	}
	got := sha256.Sum256(h[len(bearerPrefix):])
	return subtle.ConstantTimeCompare(got[:], s.tokenHash[:]) == 1
}

func (s *Server) notFound(ctx *fasthttp.RequestCtx) {
	writeDetail(ctx, fasthttp.StatusNotFound, detailNotFound)
	s.metrics.record(routeNotFound, fasthttp.StatusNotFound, 0)
}

func (s *Server) methodNotAllowed(ctx *fasthttp.RequestCtx) {
	// The router lists OPTIONS among the allowed methods even with
	// HandleOPTIONS off; OPTIONS is answered 405 here, so drop it.
	allow := string(ctx.Response.Header.Peek(fasthttp.HeaderAllow))
	allow = strings.TrimSuffix(strings.ReplaceAll(allow, "OPTIONS, ", ""), ", OPTIONS")
	ctx.Response.Header.Set(fasthttp.HeaderAllow, allow)
	writeDetail(ctx, fasthttp.StatusMethodNotAllowed, detailMethodNotAllowed)
	s.metrics.record(routeMethodNotAllowed, fasthttp.StatusMethodNotAllowed, 0)
}

// panicked answers 500 for a handler panic: one bad request must not take
// the server down (fasthttp itself does not recover).
func (s *Server) panicked(ctx *fasthttp.RequestCtx, p any) {
	s.log.Error("handler panic", "path", string(ctx.Path()), "panic", fmt.Sprint(p))
	ctx.Response.Reset()
	writeDetail(ctx, fasthttp.StatusInternalServerError, detailInternal)
}

// deadline bounds a stream's engine work with a context the handler can
// cancel early (fasthttp's ctx.Done closes only at shutdown). Single
// requests use the cheaper deadlines.after (deadline.go).
func deadline(timeout time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), timeout)
}

func acquireBuf() *bytebufferpool.ByteBuffer  { return bytebufferpool.Get() }
func releaseBuf(b *bytebufferpool.ByteBuffer) { bytebufferpool.Put(b) }

// fasthttpLogger sends fasthttp's own messages (accept errors and the like)
// to slog.
type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Warn(fmt.Sprintf(format, args...), "component", "fasthttp")
}
