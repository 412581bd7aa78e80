package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testServer is a real Server on a loopback port, driven by net/http's
// client: an independent HTTP implementation checks what fasthttp sends.
type testServer struct {
	url    string
	srv    *Server
	client *http.Client
}

func startServer(t testing.TB, store Store, mods ...func(*Config)) *testServer {
	t.Helper()
	cfg := Config{
		Store:          store,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		RequestTimeout: 5 * time.Second,
	}
	for _, m := range mods {
		m(&cfg)
	}
	srv, err := New(cfg)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	return &testServer{
		url: "http://" + ln.Addr().String(),
		srv: srv,
		client: &http.Client{
			Timeout: 30 * time.Second,
			// Redirects are part of the contract under test, not followed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// do sends one request; headers come as name, value pairs.
func (ts *testServer) do(t testing.TB, method, path, body string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, ts.url+path, r)
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := ts.client.Do(req)
	require.NoError(t, err, "%s %s", method, path)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

// decode unmarshals a JSON body, failing the test with the body on error.
func decode[T any](t testing.TB, body []byte) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(body, &v), "body: %s", body)
	return v
}

type userJSON struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Email     string `json:"email"`
	Age       int    `json:"age"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

type detailJSON struct {
	Detail string `json:"detail"`
}

type validationJSON struct {
	Detail []struct {
		Loc  []any  `json:"loc"`
		Msg  string `json:"msg"`
		Type string `json:"type"`
	} `json:"detail"`
}

// locs renders each problem as "type@loc/loc" for compact assertions.
func (v validationJSON) locs() []string {
	var out []string
	for _, d := range v.Detail {
		parts := make([]string, len(d.Loc))
		for i, l := range d.Loc {
			b, _ := json.Marshal(l)
			parts[i] = strings.Trim(string(b), `"`)
		}
		out = append(out, d.Type+"@"+strings.Join(parts, "/"))
	}
	return out
}

var (
	timestampRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	uuidRE      = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)
