package httpapi

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userapi/userapi/engine"
)

func TestParseTimeout(t *testing.T) {
	const bound = 5 * time.Second
	for in, want := range map[string]time.Duration{
		"0.1": 100 * time.Millisecond, "10": bound, "5": bound, "4.5": 4500 * time.Millisecond,
		" 2 ": 2 * time.Second, "1e-3": time.Millisecond, "+1": time.Second, ".25": 250 * time.Millisecond,
		"1e-12": time.Nanosecond, "1e300": bound,
	} {
		d, typ, msg := parseTimeout([]byte(in), bound)
		assert.Empty(t, typ, "%q: %s", in, msg)
		assert.Equal(t, want, d, "%q", in)
	}
	for in, want := range map[string]string{
		"": "float_parsing", "abc": "float_parsing", "1s": "float_parsing", "0x10": "float_parsing",
		"1,5": "float_parsing", "1_0": "float_parsing", "--1": "float_parsing",
		"nan": "finite_number", "NaN": "finite_number", "inf": "finite_number", "-Infinity": "finite_number",
		"1e400": "finite_number",
		"0":     "greater_than", "-1": "greater_than", "-0.0": "greater_than", "1e-400": "greater_than",
	} {
		_, typ, _ := parseTimeout([]byte(in), bound)
		assert.Equal(t, want, typ, "%q", in)
	}
}

// deadlineStore records how much time each call's context had left.
type deadlineStore struct {
	*fakeStore
	mu   sync.Mutex
	left time.Duration
}

func (d *deadlineStore) note(ctx context.Context) {
	dl, ok := ctx.Deadline()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.left = -1
	if ok {
		d.left = time.Until(dl)
	}
}

func (d *deadlineStore) lastLeft() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.left
}

func (d *deadlineStore) CreateUser(ctx context.Context, in engine.NewUser, opt engine.Options) (engine.User, error) {
	d.note(ctx)
	return d.fakeStore.CreateUser(ctx, in, opt)
}

func (d *deadlineStore) CreateUsers(ctx context.Context, in []engine.NewUser, opt engine.Options) ([]engine.User, error) {
	d.note(ctx)
	return d.fakeStore.CreateUsers(ctx, in, opt)
}

func (d *deadlineStore) GetUser(ctx context.Context, id engine.UUID, opt engine.Options) (engine.User, error) {
	d.note(ctx)
	return d.fakeStore.GetUser(ctx, id, opt)
}

func (d *deadlineStore) ListUsers(ctx context.Context, limit int, state string, opt engine.Options) (engine.Page, error) {
	d.note(ctx)
	return d.fakeStore.ListUsers(ctx, limit, state, opt)
}

func (d *deadlineStore) UpdateUser(ctx context.Context, id engine.UUID, p engine.UserPatch, opt engine.Options) (engine.User, error) {
	d.note(ctx)
	return d.fakeStore.UpdateUser(ctx, id, p, opt)
}

func (d *deadlineStore) DeleteUser(ctx context.Context, id engine.UUID, opt engine.Options) error {
	d.note(ctx)
	return d.fakeStore.DeleteUser(ctx, id, opt)
}

func (d *deadlineStore) StreamUsers(ctx context.Context, fetch, limit int, opt engine.Options, fn func([]engine.User) error) (int, error) {
	d.note(ctx)
	return d.fakeStore.StreamUsers(ctx, fetch, limit, opt, fn)
}

func (d *deadlineStore) ProbeRead(ctx context.Context) error {
	d.note(ctx)
	return d.fakeStore.ProbeRead(ctx)
}

// X-Request-Timeout sets the deadline the store sees on every engine-backed
// route, capped by the route's own bound.
func TestRequestTimeoutHeaderReachesStore(t *testing.T) {
	store := &deadlineStore{fakeStore: newFakeStore()}
	id := newUUID()
	store.add(engine.User{ID: id, Name: "a", Email: "a@b.co", Age: 1})
	const reqTimeout, streamTimeout = 2 * time.Second, 20 * time.Second
	ts := startServer(t, store, func(c *Config) { c.RequestTimeout, c.StreamTimeout = reqTimeout, streamTimeout })
	user := "/users/" + id.String()
	routes := []struct {
		method, path, body string
		bound              time.Duration
	}{
		{"POST", "/users", `{"name":"a","email":"a@b.co","age":1}`, reqTimeout},
		{"POST", "/users/batch", `{"users":[{"name":"a","email":"a@b.co","age":1}]}`, reqTimeout},
		{"GET", user, "", reqTimeout},
		{"GET", "/users", "", reqTimeout},
		{"PUT", user, `{"age":2}`, reqTimeout},
		{"PATCH", user, `{"age":3}`, reqTimeout},
		{"GET", "/users/stream", "", streamTimeout},
		{"GET", "/users/stream/pages", "", streamTimeout},
		{"GET", "/performance/async?requests=1", "", reqTimeout},
		{"GET", "/performance/sync?requests=1", "", reqTimeout},
		{"DELETE", "/users/" + newUUID().String(), "", reqTimeout},
	}
	for _, r := range routes {
		for header, want := range map[string]time.Duration{"": r.bound, "0.5": 500 * time.Millisecond, "1000": r.bound} {
			var h []string
			if header != "" {
				h = []string{"X-Request-Timeout", header}
			}
			resp, body := ts.do(t, r.method, r.path, r.body, h...)
			require.Less(t, resp.StatusCode, 300, "%s %s with %q: %s", r.method, r.path, header, body)
			left := store.lastLeft()
			assert.LessOrEqual(t, left, want, "%s %s with %q", r.method, r.path, header)
			assert.Greater(t, left, want-time.Second, "%s %s with %q", r.method, r.path, header)
		}
	}
}

// Past the client's deadline the answer is a 504, long before the server's.
func TestRequestTimeoutHeaderAnswers504(t *testing.T) {
	ts := startServer(t, blockingStore{newFakeStore()}, func(c *Config) { c.RequestTimeout = 10 * time.Second })
	start := time.Now()
	resp, body := ts.do(t, "GET", "/users/"+newUUID().String(), "", "X-Request-Timeout", "0.1")
	took := time.Since(start)
	assert.Equal(t, 504, resp.StatusCode, "body: %s", body)
	assert.Equal(t, `{"detail":"Database request timed out"}`, string(body))
	assert.GreaterOrEqual(t, took, 100*time.Millisecond)
	assert.Less(t, took, 3*time.Second, "the header, not -request-timeout, set the deadline")
}

// A malformed, zero, negative or non-finite value is a 422 in FastAPI's
// shape, before any engine work, on every engine-backed route.
func TestRequestTimeoutHeaderValidation(t *testing.T) {
	store := newFakeStore()
	ts := startServer(t, store)
	type entry struct {
		Type  string `json:"type"`
		Loc   []any  `json:"loc"`
		Msg   string `json:"msg"`
		Input string `json:"input"`
	}
	for value, want := range map[string]entry{
		"abc":  {"float_parsing", []any{"header", "x-request-timeout"}, "Input should be a valid number, unable to parse string as a number", "abc"},
		"0":    {"greater_than", []any{"header", "x-request-timeout"}, "Input should be greater than 0", "0"},
		"-2.5": {"greater_than", []any{"header", "x-request-timeout"}, "Input should be greater than 0", "-2.5"},
		"nan":  {"finite_number", []any{"header", "x-request-timeout"}, "Input should be a finite number", "nan"},
		"inf":  {"finite_number", []any{"header", "x-request-timeout"}, "Input should be a finite number", "inf"},
	} {
		for _, path := range []string{"/users/" + newUUID().String(), "/users", "/users/stream", "/performance/sync"} {
			store.resetCalls()
			resp, body := ts.do(t, "GET", path, "", "X-Request-Timeout", value)
			require.Equal(t, 422, resp.StatusCode, "%s with %q: %s", path, value, body)
			got := decode[struct{ Detail []entry }](t, body)
			assert.Equal(t, []entry{want}, got.Detail, "%s with %q", path, value)
			assert.Zero(t, store.callCount(), "%s with %q reached the store", path, value)
		}
	}
	// Reported together with other problems, as FastAPI does.
	resp, body := ts.do(t, "POST", "/users", `{}`, "X-Request-Timeout", "soon", "X-Consistency-Level", "TWO")
	require.Equal(t, 422, resp.StatusCode)
	assert.Equal(t, []string{"enum@header/x-consistency-level", "float_parsing@header/x-request-timeout",
		"missing@body/name", "missing@body/email", "missing@body/age"}, decode[validationJSON](t, body).locs())
	// The header is for engine work: routes without any ignore it.
	for _, path := range []string{"/health", "/ready", "/metrics", "/openapi.json"} {
		resp, _ := ts.do(t, "GET", path, "", "X-Request-Timeout", "abc")
		assert.Equal(t, 200, resp.StatusCode, path)
	}
}
