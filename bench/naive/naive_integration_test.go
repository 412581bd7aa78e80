//go:build integration

package naive

import (
	"context"
	"encoding/json"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"github.com/userapi/userapi/internal/cassandratest"
)

// The baseline answers the routes the suite drives with the API's shapes,
// against the real node.
func TestNaiveContract(t *testing.T) {
	ks := cassandratest.NewName("naive")
	t.Cleanup(func() { cassandratest.Drop(cassandratest.Session(t), ks) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, ln, Config{Hosts: cassandratest.Hosts(), Keyspace: ks}) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-served, "a clean stop")
	})
	base := "http://" + ln.Addr().String()

	do := func(method, path, body string) (int, map[string]any) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.Header.SetMethod(method)
		req.SetRequestURI(base + path)
		if body != "" {
			req.Header.SetContentType("application/json")
			req.SetBodyString(body)
		}
		require.NoError(t, fasthttp.DoTimeout(req, resp, 30*time.Second), "%s %s", method, path)
		var m map[string]any
		if len(resp.Body()) > 0 {
			require.NoError(t, json.Unmarshal(resp.Body(), &m), "%s %s: JSON body %q", method, path, resp.Body())
		}
		return resp.StatusCode(), m
	}
	require.Eventually(t, func() bool {
		st, _, err := fasthttp.Get(nil, base+"/ready")
		return err == nil && st == 200
	}, time.Minute, 100*time.Millisecond, "/ready")

	st, created := do("POST", "/users", `{"name":"Ada","email":"ada@example.com","age":36}`)
	require.Equal(t, 201, st, "create: %v", created)
	for _, k := range []string{"id", "name", "email", "age", "created_at", "updated_at"} {
		assert.Contains(t, created, k, "create answers the API's user fields")
	}
	id, _ := created["id"].(string)
	st, got := do("GET", "/users/"+id, "")
	assert.Equal(t, 200, st, "get")
	assert.Equal(t, created, got, "get returns what create answered")

	for _, tc := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/users/9b2c1c7e-6c59-4d0e-9a57-0f3b8d1f7a10", "", 404},
		{"GET", "/users/not-a-uuid", "", 400},
		{"POST", "/users", `{"name":"","email":"x"}`, 422},
		{"POST", "/users/batch", `{"users":[]}`, 404},
	} {
		st, body := do(tc.method, tc.path, tc.body)
		assert.Equal(t, tc.status, st, "%s %s", tc.method, tc.path)
		assert.Contains(t, body, "detail", "%s %s: FastAPI's error shape", tc.method, tc.path)
	}
}
