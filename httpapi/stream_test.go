package httpapi

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userapi/userapi/engine"
)

func TestStreamUsers(t *testing.T) {
	store := newFakeStore()
	ts := startServer(t, store)
	for i := range 35 {
		store.add(engine.User{ID: newUUID(), Name: fmt.Sprint("u", i), Email: "u@b.co", Age: i})
	}
	type streamJSON struct {
		Users    []userJSON
		Metadata struct {
			TotalReturned    int  `json:"total_returned"`
			PagesFetched     int  `json:"pages_fetched"`
			FetchSize        int  `json:"fetch_size"`
			StreamingEnabled bool `json:"streaming_enabled"`
		}
	}
	resp, body := ts.do(t, "GET", "/users/stream?limit=25&fetch_size=10", "")
	require.Equal(t, 200, resp.StatusCode, "body: %s", body)
	s := decode[streamJSON](t, body)
	assert.Len(t, s.Users, 25)
	assert.Equal(t, 25, s.Metadata.TotalReturned)
	assert.Equal(t, 3, s.Metadata.PagesFetched)
	assert.Equal(t, 10, s.Metadata.FetchSize)
	assert.True(t, s.Metadata.StreamingEnabled)
	assert.NotEmpty(t, s.Users[24].Name, "rows were copied before the page was reused")

	resp, body = ts.do(t, "GET", "/users/stream?limit=0", "")
	require.Equal(t, 200, resp.StatusCode)
	assert.Len(t, decode[streamJSON](t, body).Users, 35, "limit=0: all")

	resp, body = ts.do(t, "GET", "/users/stream?limit=30&fetch_size=10", "", "Accept", "application/x-ndjson")
	require.Equal(t, 200, resp.StatusCode, "body: %s", body)
	assert.Equal(t, "application/x-ndjson", resp.Header.Get("Content-Type"))
	lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	require.Len(t, lines, 30)
	ids := map[string]bool{}
	for _, l := range lines {
		u := decode[userJSON](t, []byte(l))
		assert.NotEmpty(t, u.Name)
		ids[u.ID] = true
	}
	assert.Len(t, ids, 30, "distinct users")

	for q, want := range map[string]string{
		"limit=-1":        "greater_than_equal@query/limit",
		"limit=100001":    "less_than_equal@query/limit",
		"fetch_size=9":    "greater_than_equal@query/fetch_size",
		"fetch_size=1001": "less_than_equal@query/fetch_size",
	} {
		resp, body = ts.do(t, "GET", "/users/stream?"+q, "")
		require.Equal(t, 422, resp.StatusCode, "%s: %s", q, body)
		assert.Equal(t, []string{want}, decode[validationJSON](t, body).locs(), q)
	}

	// An error before the first row is a proper status, in both forms.
	store.setErr(engine.ErrOverloaded)
	for _, accept := range []string{"application/json", "application/x-ndjson"} {
		resp, body = ts.do(t, "GET", "/users/stream", "", "Accept", accept)
		assert.Equal(t, 503, resp.StatusCode, "accept %s: %s", accept, body)
		assert.Equal(t, "1", resp.Header.Get("Retry-After"))
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		assert.Equal(t, "Server overloaded: query pool and queue are full (raise -pool-size/-queue-depth or add instances); retry later", decode[detailJSON](t, body).Detail)
	}
}

// A stream that fails after rows were sent ends with a {"detail"} line.
func TestStreamNDJSONErrorMidway(t *testing.T) {
	store := &failingStream{fakeStore: newFakeStore(), after: 2}
	for i := range 50 {
		store.add(engine.User{ID: newUUID(), Name: fmt.Sprint("u", i), Email: "u@b.co"})
	}
	ts := startServer(t, store)
	resp, body := ts.do(t, "GET", "/users/stream?fetch_size=10", "", "Accept", "application/x-ndjson")
	require.Equal(t, 200, resp.StatusCode)
	lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	require.Len(t, lines, 21, "two pages, then the error line")
	assert.Equal(t, `{"detail":"Database unavailable, retry later"}`, lines[20])
}

type failingStream struct {
	*fakeStore
	after int
}

func (f *failingStream) StreamUsers(ctx context.Context, fetchSize, limit int, opt engine.Options, fn func([]engine.User) error) (int, error) {
	n := 0
	pages, err := f.fakeStore.StreamUsers(ctx, fetchSize, limit, opt, func(p []engine.User) error {
		if n == f.after {
			return engine.ErrUnavailable
		}
		n++
		return fn(p)
	})
	return pages, err
}

// A client that goes away mid-stream ends the walk: the writer goroutine
// sees the failed write and returns.
func TestStreamNDJSONClientGone(t *testing.T) {
	store := &slowStream{fakeStore: newFakeStore(), walked: make(chan error, 1)}
	for i := range 20 {
		store.add(engine.User{ID: newUUID(), Name: fmt.Sprint("u", i), Email: "u@b.co"})
	}
	ts := startServer(t, store)
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.url, "http://"))
	require.NoError(t, err)
	_, err = fmt.Fprintf(conn, "GET /users/stream?fetch_size=10&limit=0 HTTP/1.1\r\nHost: x\r\nAccept: application/x-ndjson\r\n\r\n")
	require.NoError(t, err)
	line, err := bufio.NewReader(conn).ReadString('\n')
	require.NoError(t, err)
	assert.Contains(t, line, "200")
	require.NoError(t, conn.Close())
	select {
	case err := <-store.walked:
		assert.Error(t, err, "the walk ends with the write error")
	case <-time.After(10 * time.Second):
		t.Fatal("stream writer did not stop after the client left")
	}
}

// slowStream delivers pages forever, slowly, until fn fails.
type slowStream struct {
	*fakeStore
	walked chan error
}

func (f *slowStream) StreamUsers(ctx context.Context, fetchSize, _ int, _ engine.Options, fn func([]engine.User) error) (int, error) {
	page := make([]engine.User, fetchSize)
	for i := range page {
		page[i] = engine.User{ID: newUUID(), Name: strings.Repeat("x", 100), Email: "a@b.co"}
	}
	for n := 1; ; n++ {
		if err := fn(page); err != nil {
			f.walked <- err
			return n, err
		}
		if err := ctx.Err(); err != nil {
			f.walked <- err
			return n, err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStreamPages(t *testing.T) {
	store := newFakeStore()
	ts := startServer(t, store)
	for i := range 45 {
		store.add(engine.User{ID: newUUID(), Name: fmt.Sprint("u", i), Email: fmt.Sprint("u", i, "@b.co"), Age: i})
	}
	type pagesJSON struct {
		PagesProcessed     int `json:"pages_processed"`
		TotalRowsProcessed int `json:"total_rows_processed"`
		PagesInfo          []struct {
			PageNumber int `json:"page_number"`
			RowsInPage int `json:"rows_in_page"`
			SampleUser *struct {
				ID, Name, Email string
			} `json:"sample_user"`
		} `json:"pages_info"`
		Metadata struct {
			FetchSize     int    `json:"fetch_size"`
			MaxPagesLimit int    `json:"max_pages_limit"`
			StreamingMode string `json:"streaming_mode"`
		}
	}
	resp, body := ts.do(t, "GET", "/users/stream/pages?fetch_size=10&max_pages=3", "")
	require.Equal(t, 200, resp.StatusCode, "body: %s", body)
	p := decode[pagesJSON](t, body)
	assert.Equal(t, 3, p.PagesProcessed)
	assert.Equal(t, 30, p.TotalRowsProcessed)
	require.Len(t, p.PagesInfo, 3)
	for i, pi := range p.PagesInfo {
		assert.Equal(t, i+1, pi.PageNumber)
		assert.Equal(t, 10, pi.RowsInPage)
		require.NotNil(t, pi.SampleUser)
		assert.Regexp(t, uuidRE, pi.SampleUser.ID)
		assert.NotEmpty(t, pi.SampleUser.Email)
	}
	assert.Equal(t, 10, p.Metadata.FetchSize)
	assert.Equal(t, 3, p.Metadata.MaxPagesLimit)
	assert.Equal(t, "page_by_page", p.Metadata.StreamingMode)
	assert.NotContains(t, string(body), `"age"`, "samples carry id, name and email only")

	resp, body = ts.do(t, "GET", "/users/stream/pages?fetch_size=10&max_pages=0&limit=0", "")
	require.Equal(t, 200, resp.StatusCode)
	p = decode[pagesJSON](t, body)
	assert.Equal(t, 5, p.PagesProcessed)
	assert.Equal(t, 45, p.TotalRowsProcessed)
	assert.Equal(t, 5, p.PagesInfo[4].RowsInPage)

	resp, body = ts.do(t, "GET", "/users/stream/pages?max_pages=101", "")
	require.Equal(t, 422, resp.StatusCode)
	assert.Equal(t, []string{"less_than_equal@query/max_pages"}, decode[validationJSON](t, body).locs())
}
