package httpapi

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userapi/userapi/engine"
)

func TestEngineErrorMapping(t *testing.T) {
	store := newFakeStore()
	ts := startServer(t, store)
	wrapped := func(kind error) error { return &engine.Error{Kind: kind, Op: "test", Cause: errDriver} }
	for _, tc := range []struct {
		err    error
		status int
		retry  bool
		detail string
	}{
		{wrapped(engine.ErrOverloaded), 503, true, "Server overloaded: query pool and queue are full (raise -pool-size/-queue-depth or add instances); retry later"},
		{wrapped(engine.ErrUnavailable), 503, true, "Database unavailable, retry later"},
		{wrapped(engine.ErrClosed), 503, true, "Server shutting down, retry later"},
		{wrapped(engine.ErrTimeout), 504, false, "Database request timed out"},
		{wrapped(engine.ErrNotFound), 404, false, "User not found"},
		{wrapped(engine.ErrInvalid), 400, false, "Invalid request"},
		{errDriver, 500, false, "Internal server error"},
		{fmt.Errorf("wrapped: %w", errDriver), 500, false, "Internal server error"},
	} {
		store.setErr(tc.err)
		for _, r := range []struct{ method, path, body string }{
			{"GET", "/users/" + newUUID().String(), ""},
			{"POST", "/users", `{"name":"a","email":"a@b.co","age":1}`},
			{"GET", "/users", ""},
			{"PUT", "/users/" + newUUID().String(), `{}`},
			{"DELETE", "/users/" + newUUID().String(), ""},
			{"POST", "/users/batch", batchBody(2, nil)},
			{"GET", "/users/stream/pages", ""},
		} {
			resp, body := ts.do(t, r.method, r.path, r.body)
			assert.Equal(t, tc.status, resp.StatusCode, "%v on %s %s", tc.err, r.method, r.path)
			assert.Equal(t, tc.detail, decode[detailJSON](t, body).Detail, "%v on %s %s", tc.err, r.method, r.path)
			assert.NotContains(t, string(body), "secret", "driver text must not reach the client")
			if tc.retry {
				assert.Equal(t, "1", resp.Header.Get("Retry-After"), "%v", tc.err)
			} else {
				assert.Empty(t, resp.Header.Get("Retry-After"), "%v", tc.err)
			}
		}
	}
}

func TestRouting(t *testing.T) {
	ts := startServer(t, newFakeStore())
	for _, tc := range []struct {
		method, path string
		status       int
		body, allow  string
	}{
		{"GET", "/nope", 404, `{"detail":"Not Found"}`, ""},
		{"GET", "/users/a/b", 404, `{"detail":"Not Found"}`, ""},
		{"GET", "/users/../health", 404, `{"detail":"Not Found"}`, ""},
		{"GET", "/", 404, `{"detail":"Not Found"}`, ""},
		{"DELETE", "/users", 405, `{"detail":"Method Not Allowed"}`, "GET, POST"},
		{"GET", "/users/batch", 400, `{"detail":"Invalid UUID"}`, ""},
		{"DELETE", "/users/batch", 400, `{"detail":"Invalid user ID format"}`, ""},
		{"POST", "/health", 405, `{"detail":"Method Not Allowed"}`, "GET"},
		{"OPTIONS", "/users", 405, `{"detail":"Method Not Allowed"}`, "GET, POST"},
		{"POST", "/users/" + newUUID().String(), 405, `{"detail":"Method Not Allowed"}`, "DELETE, GET, PATCH, PUT"},
		{"DELETE", "/users/stream/pages", 405, `{"detail":"Method Not Allowed"}`, "GET"},
	} {
		resp, body := ts.do(t, tc.method, tc.path, "")
		assert.Equal(t, tc.status, resp.StatusCode, "%s %s", tc.method, tc.path)
		assert.Equal(t, tc.body, string(body), "%s %s", tc.method, tc.path)
		assert.Equal(t, tc.allow, resp.Header.Get("Allow"), "%s %s", tc.method, tc.path)
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"), "%s %s", tc.method, tc.path)
	}
	resp, _ := ts.do(t, "GET", "/users/?limit=3", "")
	assert.Equal(t, 301, resp.StatusCode, "trailing slash redirects, as FastAPI does")
	assert.True(t, strings.HasSuffix(resp.Header.Get("Location"), "/users?limit=3"), resp.Header.Get("Location"))
	// As in FastAPI, a static segment is only special for its own method:
	// PUT /users/stream is an update of the user "stream".
	resp, body := ts.do(t, "PUT", "/users/stream", "{}")
	assert.Equal(t, 400, resp.StatusCode, "body: %s", body)
}

// rawRequest writes req on a fresh connection and returns the response.
func rawRequest(t *testing.T, ts *testServer, req string, bodyBytes int) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.url, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = io.WriteString(conn, req)
	require.NoError(t, err)
	if bodyBytes > 0 {
		// The server may answer and close before all of it is sent.
		go func() { _, _ = conn.Write(make([]byte, bodyBytes)) }()
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestLimits(t *testing.T) {
	ts := startServer(t, newFakeStore(), func(c *Config) { c.ReadTimeout = 500 * time.Millisecond })

	resp, body := rawRequest(t, ts, "POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10485760\r\n\r\n", 10<<20)
	assert.Equal(t, 413, resp.StatusCode, "declared 10 MiB body: %s", body)
	assert.Equal(t, `{"detail":"Request body too large"}`, string(body))

	chunk := strings.Repeat("a", 64<<10)
	var chunked strings.Builder
	for range 20 {
		fmt.Fprintf(&chunked, "%x\r\n%s\r\n", len(chunk), chunk)
	}
	chunked.WriteString("0\r\n\r\n")
	resp, body = rawRequest(t, ts, "POST /users/batch HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"+chunked.String(), 0)
	assert.Equal(t, 413, resp.StatusCode, "chunked 1.25 MiB body: %s", body)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))

	// Exactly 1 MiB is still accepted (and then judged as JSON).
	resp, _ = rawRequest(t, ts, "POST /users HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n"+strings.Repeat(" ", 1<<20), 0)
	assert.Equal(t, 422, resp.StatusCode)

	resp, body = rawRequest(t, ts, "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("b", 16<<10)+"\r\n\r\n", 0)
	assert.Equal(t, 431, resp.StatusCode, "16 KiB header: %s", body)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))

	resp, body = rawRequest(t, ts, "NONSENSE\r\n\r\n", 0)
	assert.Equal(t, 400, resp.StatusCode, "garbage request line: %s", body)

	// A slow client is cut off at ReadTimeout instead of holding the
	// connection: send half a request, then nothing.
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.url, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "GET /health HTTP/1.1\r\nHost: x\r\n")
	require.NoError(t, err)
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.ReadAll(conn)
	assert.NoError(t, err, "the server closes the connection")
	assert.Less(t, time.Since(start), 5*time.Second, "slow client held the connection")
}

func TestAuth(t *testing.T) {
	store := newFakeStore()
	ts := startServer(t, store, func(c *Config) { c.APIToken = "s3cret-token" })
	for _, tc := range []struct {
		path, auth string
		status     int
	}{
		{"/users", "", 401},
		{"/users", "Bearer wrong", 401},
		{"/users", "Bearer s3cret-token-and-more", 401},
		{"/users", "Basic s3cret-token", 401},
		{"/users", "Bearer", 401},
		{"/users", "Bearer s3cret-token", 200},
		{"/users", "bearer s3cret-token", 200},
		{"/openapi.json", "", 200},
		{"/docs", "", 200},
		{"/docs/swagger-ui.css", "", 200},
		{"/docs/nope", "", 404},
		{"/nope", "", 401},
		{"/docsx", "", 401},
		{"/users/stream", "", 401},
		{"/health", "", 200},
		{"/ready", "", 200},
		{"/metrics", "", 200},
	} {
		resp, body := ts.do(t, "GET", tc.path, "", "Authorization", tc.auth)
		assert.Equal(t, tc.status, resp.StatusCode, "%s with %q: %s", tc.path, tc.auth, body)
		if tc.status == 401 {
			assert.Equal(t, `{"detail":"Not authenticated"}`, string(body))
			assert.Equal(t, "Bearer", resp.Header.Get("WWW-Authenticate"))
		}
	}
}

// With DocsAuth the docs need the token like the API; the probes do not.
func TestDocsAuth(t *testing.T) {
	ts := startServer(t, newFakeStore(), func(c *Config) { c.APIToken, c.DocsAuth = "s3cret-token", true })
	for _, path := range []string{"/openapi.json", "/docs", "/docs/swagger-ui.css", "/users"} {
		resp, body := ts.do(t, "GET", path, "")
		assert.Equal(t, 401, resp.StatusCode, "%s without the token: %s", path, body)
		resp, body = ts.do(t, "GET", path, "", "Authorization", "Bearer s3cret-token")
		assert.Equal(t, 200, resp.StatusCode, "%s with the token: %s", path, body)
	}
	for _, path := range []string{"/health", "/ready", "/metrics"} {
		resp, _ := ts.do(t, "GET", path, "")
		assert.Equal(t, 200, resp.StatusCode, path)
	}
	// The document says which operations need the token.
	_, body := ts.do(t, "GET", "/openapi.json", "", "Authorization", "Bearer s3cret-token")
	assert.Equal(t, []string{"/health", "/metrics", "/ready"}, openOperations(t, body))
	open := startServer(t, newFakeStore(), func(c *Config) { c.APIToken = "s3cret-token" })
	_, body = open.do(t, "GET", "/openapi.json", "")
	assert.Equal(t, []string{"/docs", "/docs/{file}", "/health", "/metrics", "/openapi.json", "/ready"}, openOperations(t, body))
}

// openOperations lists the paths whose GET declares no security.
func openOperations(t *testing.T, doc []byte) []string {
	t.Helper()
	var d struct {
		Paths map[string]map[string]struct {
			Security *[]any `json:"security"`
		} `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(doc, &d))
	var out []string
	for p, ops := range d.Paths {
		if s := ops["get"].Security; s != nil && len(*s) == 0 {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

func TestDocs(t *testing.T) {
	ts := startServer(t, newFakeStore())
	resp, body := ts.do(t, "GET", "/docs", "")
	require.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	page := string(body)
	for _, ref := range []string{`src="docs/swagger-ui-bundle.js"`, `href="docs/swagger-ui.css"`, `url: "openapi.json"`} {
		assert.Contains(t, page, ref)
	}
	assert.NotContains(t, page, "://", "no CDN")

	for file, ctype := range map[string]string{
		"swagger-ui-bundle.js": "text/javascript; charset=utf-8",
		"swagger-ui.css":       "text/css; charset=utf-8",
		"favicon-32x32.png":    "image/png",
		"LICENSE":              "text/plain; charset=utf-8",
	} {
		resp, body := ts.do(t, "GET", "/docs/"+file, "")
		require.Equal(t, 200, resp.StatusCode, file)
		assert.Equal(t, ctype, resp.Header.Get("Content-Type"), file)
		assert.NotEmpty(t, body, file)
	}

	// With Accept-Encoding set by hand, net/http leaves the gzip to us.
	resp, body = ts.do(t, "GET", "/docs/swagger-ui-bundle.js", "", "Accept-Encoding", "gzip")
	require.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
	zr, err := gzip.NewReader(strings.NewReader(string(body)))
	require.NoError(t, err)
	plain, err := io.ReadAll(zr)
	require.NoError(t, err)
	assert.Contains(t, string(plain), "SwaggerUIBundle")
	assert.Less(t, len(body), len(plain)/2)

	resp, body = ts.do(t, "GET", "/docs/swagger-ui-bundle.js.map", "")
	assert.Equal(t, 404, resp.StatusCode)
	assert.Equal(t, `{"detail":"Not Found"}`, string(body))
}

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	ts := startServer(t, newFakeStore())
	resp, body := ts.do(t, "GET", "/openapi.json", "")
	require.Equal(t, 200, resp.StatusCode)
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(body, &doc))
	assert.Equal(t, "3.1.0", doc.OpenAPI)

	registered := map[string]bool{}
	for method, paths := range ts.srv.router.List() {
		for _, p := range paths {
			registered[strings.ToLower(method)+" "+p] = true
		}
	}
	documented := map[string]bool{}
	for p, ops := range doc.Paths {
		for method, op := range ops {
			documented[method+" "+p] = true
			assert.NotEmpty(t, op["responses"], "%s %s has no responses", method, p)
		}
	}
	assert.Equal(t, registered, documented, "routes and OpenAPI paths differ")
}

// A panicking store is a 500, and the server keeps serving.
func TestPanicIsA500(t *testing.T) {
	ts := startServer(t, panicStore{newFakeStore()})
	resp, body := ts.do(t, "GET", "/users/"+newUUID().String(), "")
	assert.Equal(t, 500, resp.StatusCode)
	assert.Equal(t, `{"detail":"Internal server error"}`, string(body))
	resp, _ = ts.do(t, "GET", "/health", "")
	assert.Equal(t, 200, resp.StatusCode)
}

type panicStore struct{ *fakeStore }

func (panicStore) GetUser(context.Context, engine.UUID, engine.Options) (engine.User, error) {
	panic("boom")
}

// The request deadline reaches the engine: a store that waits for its
// context answers 504 after RequestTimeout.
func TestRequestTimeout(t *testing.T) {
	ts := startServer(t, blockingStore{newFakeStore()}, func(c *Config) { c.RequestTimeout = 100 * time.Millisecond })
	start := time.Now()
	resp, body := ts.do(t, "GET", "/users/"+newUUID().String(), "")
	assert.Equal(t, 504, resp.StatusCode, "body: %s", body)
	assert.Less(t, time.Since(start), 2*time.Second)
}

type blockingStore struct{ *fakeStore }

func (blockingStore) GetUser(ctx context.Context, _ engine.UUID, _ engine.Options) (engine.User, error) {
	<-ctx.Done()
	return engine.User{}, &engine.Error{Kind: engine.ErrTimeout, Op: "get", Cause: ctx.Err()}
}

// A client that sends its whole body before it reads (Python's urllib and
// requests do) must get the 413, not a broken pipe or a reset: the server
// closes its side and reads what the client still sends before it closes
// the connection (issue 21, item 8).
func TestTooLargeBodySentWholeGets413(t *testing.T) {
	ts := startServer(t, newFakeStore())
	for _, size := range []int{2 << 20, 8 << 20} {
		for try := range 3 {
			conn, err := net.Dial("tcp", strings.TrimPrefix(ts.url, "http://"))
			require.NoError(t, err)
			_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
			_, err = fmt.Fprintf(conn, "POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", size)
			require.NoError(t, err)
			_, err = conn.Write(make([]byte, size)) // all of it, then read: no goroutine
			require.NoError(t, err, "%d bytes, try %d: the whole body is sent", size, try)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			require.NoError(t, err, "%d bytes, try %d: the answer is read", size, try)
			body, _ := io.ReadAll(resp.Body)
			assert.Equal(t, 413, resp.StatusCode)
			assert.Equal(t, `{"detail":"Request body too large"}`, string(body))
			conn.Close()
		}
	}
}
