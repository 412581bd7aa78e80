//go:build integration

package httpapi

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userapi/userapi/engine"
)

func TestAPIAgainstCassandra(t *testing.T) {
	api := startLive(t)

	t.Run("create then read returns identical JSON", func(t *testing.T) {
		resp, body := api.do(t, "POST", "/users", `{"name":"John Doe","email":"john@example.com","age":30,"ignored":true}`)
		require.Equal(t, 201, resp.StatusCode, "body: %s", body)
		u := decode[userJSON](t, body)
		assert.Regexp(t, uuidRE, u.ID)
		assert.Equal(t, "/users/"+u.ID, resp.Header.Get("Location"))
		assert.Regexp(t, timestampRE, u.CreatedAt)
		assert.Equal(t, u.CreatedAt, u.UpdatedAt)
		assert.Equal(t, "John Doe", u.Name)
		assert.Equal(t, "john@example.com", u.Email)
		assert.Equal(t, 30, u.Age)

		resp, got := api.do(t, "GET", resp.Header.Get("Location"), "")
		require.Equal(t, 200, resp.StatusCode)
		assert.Equal(t, string(body), string(got), "a create and a later read return identical strings")
	})

	t.Run("unicode and escapes survive the round trip", func(t *testing.T) {
		name := "Zoë \"Q\" 用户 😀 \\ \t"
		u := api.create(t, name, "zoe@bücher.de", 0)
		_, body := api.do(t, "GET", "/users/"+u.ID, "")
		assert.Equal(t, name, decode[userJSON](t, body).Name)
	})

	t.Run("get: 404 and 400", func(t *testing.T) {
		resp, body := api.do(t, "GET", "/users/"+newUUID().String(), "")
		assert.Equal(t, 404, resp.StatusCode)
		assert.Equal(t, `{"detail":"User not found"}`, string(body))
		// Each route keeps the original's own text for a malformed id.
		for method, want := range map[string]string{
			"GET": "Invalid UUID", "PUT": "Invalid user ID format",
			"PATCH": "Invalid user ID format", "DELETE": "Invalid user ID format",
		} {
			resp, body = api.do(t, method, "/users/not-a-uuid", map[string]string{"PUT": "{}", "PATCH": "{}"}[method])
			assert.Equal(t, 400, resp.StatusCode, "%s: %s", method, body)
			assert.Equal(t, `{"detail":"`+want+`"}`, string(body), method)
		}
	})

	t.Run("create validation writes nothing", func(t *testing.T) {
		before := len(api.rowsInTable(t))
		for _, b := range []string{``, `{}`, `[]`, `{"name":"","email":"x","age":-1}`, `{"name":"a","email":"a@b.co","age":151}`} {
			resp, body := api.do(t, "POST", "/users", b)
			assert.Equal(t, 422, resp.StatusCode, "body %q: %s", b, body)
		}
		assert.Equal(t, before, len(api.rowsInTable(t)))
	})

	t.Run("update merges, keeps created_at, moves updated_at forward", func(t *testing.T) {
		u := api.create(t, "Old", "old@example.com", 40)
		last := u.UpdatedAt
		steps := []struct {
			method, body string
			want         userJSON
		}{
			{"PUT", `{"name":"New"}`, userJSON{Name: "New", Email: "old@example.com", Age: 40}},
			{"PATCH", `{"age":41,"email":null}`, userJSON{Name: "New", Email: "old@example.com", Age: 41}},
			{"PUT", `{}`, userJSON{Name: "New", Email: "old@example.com", Age: 41}},
			{"PATCH", `{"email":"new@example.com","name":null}`, userJSON{Name: "New", Email: "new@example.com", Age: 41}},
			{"PUT", `{"name":"All","email":"all@example.com","age":42}`, userJSON{Name: "All", Email: "all@example.com", Age: 42}},
		}
		// Back to back, several updates land in the same millisecond.
		for i := 0; i < 3; i++ {
			steps = append(steps, steps[len(steps)-1])
		}
		var lastBody []byte
		for _, s := range steps {
			resp, body := api.do(t, s.method, "/users/"+u.ID, s.body)
			require.Equal(t, 200, resp.StatusCode, "%s %s: %s", s.method, s.body, body)
			got := decode[userJSON](t, body)
			assert.Equal(t, u.ID, got.ID)
			assert.Equal(t, u.CreatedAt, got.CreatedAt, "created_at unchanged")
			assert.Equal(t, s.want.Name, got.Name, "%s %s", s.method, s.body)
			assert.Equal(t, s.want.Email, got.Email, "%s %s", s.method, s.body)
			assert.Equal(t, s.want.Age, got.Age, "%s %s", s.method, s.body)
			assert.Regexp(t, timestampRE, got.UpdatedAt)
			assert.Greater(t, got.UpdatedAt, last, "updated_at strictly greater (%s %s)", s.method, s.body)
			last, lastBody = got.UpdatedAt, body
		}
		_, body := api.do(t, "GET", "/users/"+u.ID, "")
		assert.Equal(t, string(lastBody), string(body), "a read returns the last update")

		resp, body := api.do(t, "PATCH", "/users/"+u.ID, `{"name":"","age":999}`)
		require.Equal(t, 422, resp.StatusCode, "body: %s", body)
		_, after := api.do(t, "GET", "/users/"+u.ID, "")
		assert.Equal(t, string(lastBody), string(after), "a rejected update changes nothing")
	})

	t.Run("update of a missing user never creates it", func(t *testing.T) {
		id := newUUID().String()
		resp, body := api.do(t, "PUT", "/users/"+id, `{"name":"Ghost","email":"g@example.com","age":1}`)
		assert.Equal(t, 404, resp.StatusCode, "body: %s", body)
		_, _, _, found := api.rawRow(t, id)
		assert.False(t, found, "no row after an update of a missing user")
		resp, _ = api.do(t, "PATCH", "/users/not-a-uuid", `{"name":"x"}`)
		assert.Equal(t, 400, resp.StatusCode)
	})

	t.Run("delete is 204 and idempotent", func(t *testing.T) {
		u := api.create(t, "Del", "del@example.com", 5)
		for i := range 2 {
			resp, body := api.do(t, "DELETE", "/users/"+u.ID, "")
			assert.Equal(t, 204, resp.StatusCode, "delete #%d", i+1)
			assert.Empty(t, body)
		}
		resp, _ := api.do(t, "GET", "/users/"+u.ID, "")
		assert.Equal(t, 404, resp.StatusCode)
		resp, _ = api.do(t, "PATCH", "/users/"+u.ID, `{"age":6}`)
		assert.Equal(t, 404, resp.StatusCode, "update after delete")
		_, _, _, found := api.rawRow(t, u.ID)
		assert.False(t, found, "the update did not bring the row back")
		resp, _ = api.do(t, "DELETE", "/users/"+newUUID().String(), "")
		assert.Equal(t, 204, resp.StatusCode, "deleting a user that never existed")
		resp, _ = api.do(t, "DELETE", "/users/xyz", "")
		assert.Equal(t, 400, resp.StatusCode)
	})

	t.Run("updates racing deletes never leave a row", func(t *testing.T) {
		const n = 40
		users := make([]userJSON, n)
		for i := range users {
			users[i] = api.create(t, fmt.Sprint("race", i), fmt.Sprintf("race%d@example.com", i), i)
		}
		var wg sync.WaitGroup
		statuses := make(chan int, 2*n)
		for _, u := range users {
			wg.Go(func() {
				resp, _ := api.do(t, "PATCH", "/users/"+u.ID, `{"name":"raced","age":99}`)
				statuses <- resp.StatusCode
			})
			wg.Go(func() {
				resp, _ := api.do(t, "DELETE", "/users/"+u.ID, "")
				statuses <- resp.StatusCode
			})
		}
		wg.Wait()
		close(statuses)
		for s := range statuses {
			assert.Contains(t, []int{200, 204, 404}, s)
		}
		for _, u := range users {
			name, email, age, found := api.rawRow(t, u.ID)
			assert.False(t, found, "user %s: row after update+delete: name=%v email=%v age=%v", u.ID, name, email, age)
		}
	})

	t.Run("batch: input order, all readable; one bad item writes nothing", func(t *testing.T) {
		resp, body := api.do(t, "POST", "/users/batch", batchBody(50, nil))
		require.Equal(t, 201, resp.StatusCode, "body: %.300s", body)
		created := decode[struct{ Created []userJSON }](t, body).Created
		require.Len(t, created, 50)
		for i, u := range created {
			assert.Equal(t, fmt.Sprint("user ", i), u.Name, "input order")
			resp, got := api.do(t, "GET", "/users/"+u.ID, "")
			require.Equal(t, 200, resp.StatusCode)
			assert.Equal(t, u, decode[userJSON](t, got))
		}

		before := api.rowsInTable(t)
		resp, body = api.do(t, "POST", "/users/batch",
			batchBody(10, map[int]string{3: `{"name":"x","email":"bad","age":1}`}))
		require.Equal(t, 422, resp.StatusCode)
		assert.Equal(t, []string{"value_error@body/users/3/email"}, decode[validationJSON](t, body).locs())
		assert.Equal(t, before, api.rowsInTable(t), "nothing written")
	})

	t.Run("list walks every row once", func(t *testing.T) {
		for i := range 23 {
			api.create(t, fmt.Sprint("walk", i), "walk@example.com", i)
		}
		want := api.rowsInTable(t)
		seen := map[string]bool{}
		next := "/users?limit=7"
		for pages := 0; next != ""; pages++ {
			require.Less(t, pages, len(want), "paging does not end")
			resp, body := api.do(t, "GET", next, "")
			require.Equal(t, 200, resp.StatusCode, "%s: %s", next, body)
			page := decode[[]userJSON](t, body)
			assert.LessOrEqual(t, len(page), 7)
			for _, u := range page {
				assert.False(t, seen[u.ID], "user %s seen twice", u.ID)
				seen[u.ID] = true
			}
			next = ""
			if tok := resp.Header.Get("X-Next-Page-State"); tok != "" {
				assert.Regexp(t, engine.PageStatePattern, tok, "the OpenAPI document's pattern holds real tokens")
				link := resp.Header.Get("Link")
				assert.Equal(t, `</users?limit=7&page_state=`+tok+`>; rel="next"`, link)
				next = strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`)
			}
		}
		assert.Equal(t, want, seen)

		resp, body := api.do(t, "GET", "/users", "")
		require.Equal(t, 200, resp.StatusCode)
		assert.Len(t, decode[[]userJSON](t, body), 10, "default limit")
		tok := resp.Header.Get("X-Next-Page-State")
		require.NotEmpty(t, tok)

		for _, bad := range []string{tok + "A", "garbage!", "AAAAAAAAAAAA", tok[:len(tok)/2]} {
			resp, body = api.do(t, "GET", "/users?page_state="+bad, "")
			assert.Equal(t, 422, resp.StatusCode, "page_state %q: %s", bad, body)
		}
		// A token nobody issued but of the documented shape is a position
		// like any other: a page, not a 422.
		madeUp := "AwAAAAAAAAAB"
		require.Regexp(t, engine.PageStatePattern, madeUp)
		resp, body = api.do(t, "GET", "/users?page_state="+madeUp, "")
		assert.Equal(t, 200, resp.StatusCode, "page_state %q: %s", madeUp, body)
		for _, q := range []string{"limit=0", "limit=1001", "limit=x"} {
			resp, _ = api.do(t, "GET", "/users?"+q, "")
			assert.Equal(t, 422, resp.StatusCode, q)
		}
	})

	t.Run("stream: JSON, NDJSON and pages", func(t *testing.T) {
		total := len(api.rowsInTable(t))
		require.Greater(t, total, 50)

		resp, body := api.do(t, "GET", "/users/stream?limit=35&fetch_size=10", "")
		require.Equal(t, 200, resp.StatusCode, "body: %.300s", body)
		s := decode[struct {
			Users    []userJSON
			Metadata map[string]any
		}](t, body)
		assert.Len(t, s.Users, 35)
		assert.Equal(t, map[string]any{"total_returned": 35.0, "pages_fetched": 4.0, "fetch_size": 10.0, "streaming_enabled": true}, s.Metadata)

		resp, body = api.do(t, "GET", "/users/stream?limit=0&fetch_size=10", "", "Accept", "application/x-ndjson")
		require.Equal(t, 200, resp.StatusCode)
		assert.Equal(t, "application/x-ndjson", resp.Header.Get("Content-Type"))
		ids := map[string]bool{}
		sc := bufio.NewScanner(strings.NewReader(string(body)))
		for sc.Scan() {
			u := decode[userJSON](t, sc.Bytes())
			assert.False(t, ids[u.ID], "user %s streamed twice", u.ID)
			ids[u.ID] = true
		}
		assert.Equal(t, api.rowsInTable(t), ids, "limit=0 streams the whole table")

		resp, body = api.do(t, "GET", "/users/stream/pages?fetch_size=10&max_pages=3", "")
		require.Equal(t, 200, resp.StatusCode, "body: %s", body)
		p := decode[struct {
			PagesProcessed     int `json:"pages_processed"`
			TotalRowsProcessed int `json:"total_rows_processed"`
			PagesInfo          []struct {
				PageNumber int       `json:"page_number"`
				RowsInPage int       `json:"rows_in_page"`
				SampleUser *userJSON `json:"sample_user"`
			} `json:"pages_info"`
			Metadata map[string]any
		}](t, body)
		assert.Equal(t, 3, p.PagesProcessed)
		assert.Equal(t, 30, p.TotalRowsProcessed)
		require.Len(t, p.PagesInfo, 3)
		assert.NotNil(t, p.PagesInfo[0].SampleUser)
		assert.Equal(t, map[string]any{"fetch_size": 10.0, "max_pages_limit": 3.0, "streaming_mode": "page_by_page"}, p.Metadata)
	})

	t.Run("performance endpoints run real probes", func(t *testing.T) {
		for _, mode := range []string{"async", "sync"} {
			resp, body := api.do(t, "GET", "/performance/"+mode+"?requests=100", "")
			require.Equal(t, 200, resp.StatusCode, "%s: %s", mode, body)
			p := decode[map[string]any](t, body)
			assert.Equal(t, 100.0, p["requests"], mode)
			assert.Equal(t, 100.0, p["successful_requests"], mode)
			assert.Equal(t, mode, p["mode"])
			assert.Greater(t, p["requests_per_second"], 0.0)
		}
	})

	t.Run("consistency header", func(t *testing.T) {
		u := api.create(t, "cl", "cl@example.com", 1)
		for _, cl := range []string{"ONE", "LOCAL_ONE", "QUORUM", "LOCAL_QUORUM", "ALL"} {
			resp, body := api.do(t, "GET", "/users/"+u.ID, "", "X-Consistency-Level", cl)
			assert.Equal(t, 200, resp.StatusCode, "read at %s: %s", cl, body)
			resp, body = api.do(t, "PATCH", "/users/"+u.ID, `{"age":2}`, "X-Consistency-Level", cl)
			assert.Equal(t, 200, resp.StatusCode, "update at %s: %s", cl, body)
		}
		resp, body := api.do(t, "GET", "/users/"+u.ID, "", "X-Consistency-Level", "TWO")
		assert.Equal(t, 422, resp.StatusCode, "body: %s", body)
	})

	t.Run("health, ready, metrics, docs", func(t *testing.T) {
		resp, body := api.do(t, "GET", "/health", "")
		require.Equal(t, 200, resp.StatusCode)
		h := decode[map[string]any](t, body)
		assert.Equal(t, "healthy", h["status"])
		assert.Equal(t, true, h["cassandra_connected"])
		resp, _ = api.do(t, "GET", "/ready", "")
		assert.Equal(t, 200, resp.StatusCode)

		resp, body = api.do(t, "GET", "/metrics", "")
		require.Equal(t, 200, resp.StatusCode)
		for _, want := range []string{
			`userapi_http_requests_total{method="POST",route="/users",status="201"}`,
			`userapi_http_request_duration_seconds_bucket{method="GET",route="/users/{user_id}"`,
			"userapi_engine_", "go_goroutines", "process_resident_memory_bytes",
		} {
			assert.Contains(t, string(body), want)
		}
		resp, _ = api.do(t, "GET", "/openapi.json", "")
		assert.Equal(t, 200, resp.StatusCode)
		resp, _ = api.do(t, "GET", "/docs", "")
		assert.Equal(t, 200, resp.StatusCode)
	})
}

// Graceful shutdown: requests in flight when Shutdown starts complete; new
// connections are refused; /ready went 503 first.
func TestShutdownFinishesInFlight(t *testing.T) {
	api := startLive(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	const n = 50
	var wg sync.WaitGroup
	results := make(chan int, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			resp, err := api.client.Post(api.url+"/users", "application/json",
				strings.NewReader(fmt.Sprintf(`{"name":"s%d","email":"s%d@example.com","age":1}`, i, i)))
			if err != nil {
				results <- 0
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			results <- resp.StatusCode
		})
	}
	close(start)
	time.Sleep(5 * time.Millisecond)
	api.srv.Drain()
	resp, _ := api.do(t, "GET", "/ready", "")
	assert.Equal(t, 503, resp.StatusCode)
	require.NoError(t, api.srv.Shutdown(ctx))
	wg.Wait()
	close(results)
	created := 0
	for s := range results {
		// A request either got in before shutdown (201) or was refused at
		// the connection (0); never a half-done 5xx.
		assert.Contains(t, []int{0, 201}, s)
		if s == 201 {
			created++
		}
	}
	assert.Equal(t, created, len(api.rowsInTable(t)), "every 201 is in Cassandra")
	_, err := http.Get(api.url + "/health")
	assert.Error(t, err, "no new connections after shutdown")
}
