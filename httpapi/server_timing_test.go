package httpapi

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"github.com/userapi/userapi/engine"
)

// The GET-by-id path is the hot one. These measure what the HTTP layer
// itself costs per request, against an in-memory store: routing, metrics,
// id parsing, the request deadline, encoding.

func hotPathServer(tb testing.TB) (*Server, *fasthttp.RequestCtx) {
	store := newFakeStore()
	now := time.Now().UTC().Truncate(time.Millisecond)
	u := engine.User{ID: newUUID(), Name: "Jane Doe", Email: "jane@example.com", Age: 31, CreatedAt: now, UpdatedAt: now}
	store.add(u)
	srv, err := New(Config{Store: store, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(tb, err)
	ctx := &fasthttp.RequestCtx{}
	ctx.Request.Header.SetMethod("GET")
	ctx.Request.SetRequestURI("/users/" + u.ID.String())
	return srv, ctx
}

// serveOnce runs the handler as fasthttp's server loop would for one
// request on a kept-alive connection: the response and user values are
// reset, the request is kept.
func serveOnce(h fasthttp.RequestHandler, ctx *fasthttp.RequestCtx) {
	ctx.Response.Reset()
	ctx.ResetUserValues()
	h(ctx)
}

// maxGetUserAllocs pins the GET-by-id path. What remains is the request's
// deadline context (deadline.go: 32 bytes, no timer; context.WithTimeout
// cost 4). Raise it only with a reason.
const maxGetUserAllocs = 1

func TestGetUserAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector adds allocations")
	}
	srv, ctx := hotPathServer(t)
	h := srv.Handler()
	serveOnce(h, ctx)
	require.Equal(t, 200, ctx.Response.StatusCode(), "body: %s", ctx.Response.Body())
	allocs := testing.AllocsPerRun(1000, func() { serveOnce(h, ctx) })
	t.Logf("GET /users/{id}: %.1f allocs/request", allocs)
	require.LessOrEqual(t, allocs, float64(maxGetUserAllocs))
}

func BenchmarkGetUser(b *testing.B) {
	srv, ctx := hotPathServer(b)
	h := srv.Handler()
	b.ReportAllocs()
	for b.Loop() {
		serveOnce(h, ctx)
	}
	if ctx.Response.StatusCode() != 200 {
		b.Fatalf("status %d", ctx.Response.StatusCode())
	}
}

func BenchmarkAppendUser(b *testing.B) {
	now := time.Now()
	u := engine.User{ID: newUUID(), Name: "Jane Doe", Email: "jane@example.com", Age: 31, CreatedAt: now, UpdatedAt: now}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendUser(buf[:0], &u)
	}
}

func BenchmarkDecodeNewUser(b *testing.B) {
	body := []byte(`{"name":"Jane Doe","email":"jane@example.com","age":31}`)
	b.ReportAllocs()
	for b.Loop() {
		var errs problems
		i, ok := parseBody(body, &errs)
		if !ok {
			b.Fatal(errs)
		}
		_ = decodeNewUser(body, i, []any{"body"}, &errs)
	}
}
