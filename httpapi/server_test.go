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
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userapi/userapi/engine"
)

func TestCreateUser(t *testing.T) {
	store := newFakeStore()
	ts := startServer(t, store)

	resp, body := ts.do(t, "POST", "/users", `{"name":"John Doe","email":"john@example.com","age":30,"extra":[1,{"x":null}]}`)
	require.Equal(t, 201, resp.StatusCode, "body: %s", body)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	u := decode[userJSON](t, body)
	assert.Regexp(t, uuidRE, u.ID)
	assert.Equal(t, "/users/"+u.ID, resp.Header.Get("Location"))
	assert.Equal(t, userJSON{ID: u.ID, Name: "John Doe", Email: "john@example.com", Age: 30,
		CreatedAt: "2024-01-10T12:00:00.001Z", UpdatedAt: "2024-01-10T12:00:00.001Z"}, u)
	// Field order is the original's response model.
	assert.True(t, strings.HasPrefix(string(body), `{"id":"`), "body: %s", body)
	assert.Contains(t, string(body), `","name":"John Doe","email":"john@example.com","age":30,"created_at":"`)
}

func TestCreateUserAccepts(t *testing.T) {
	ts := startServer(t, newFakeStore())
	for _, tc := range []struct {
		name, body string
		want       userJSON
	}{
		{"age as integral float", `{"name":"a","email":"a@b.co","age":30.0}`, userJSON{Name: "a", Email: "a@b.co", Age: 30}},
		{"age as numeric string", `{"name":"a","email":"a@b.co","age":"42"}`, userJSON{Name: "a", Email: "a@b.co", Age: 42}},
		{"bounds", `{"name":"a","email":"a@b.co","age":0}`, userJSON{Name: "a", Email: "a@b.co", Age: 0}},
		{"upper bound", `{"name":"a","email":"a@b.co","age":150}`, userJSON{Name: "a", Email: "a@b.co", Age: 150}},
		{"100 two-byte characters", `{"name":"` + strings.Repeat("é", 100) + `","email":"a@b.co","age":1}`,
			userJSON{Name: strings.Repeat("é", 100), Email: "a@b.co", Age: 1}},
		{"escaped key and value", `{"\u006eame":"a\"b\\c\n\u00e9\ud83d\ude00","email":"a@b.co","age":1}`,
			userJSON{Name: "a\"b\\c\né😀", Email: "a@b.co", Age: 1}},
		{"duplicate key: last wins", `{"name":"x","name":"y","email":"a@b.co","age":1}`, userJSON{Name: "y", Email: "a@b.co", Age: 1}},
		{"whitespace around", " \n{ \"name\" : \"a\" , \"email\" : \"a+tag@sub.example.org\" , \"age\" : 7 } \n",
			userJSON{Name: "a", Email: "a+tag@sub.example.org", Age: 7}},
		{"control character in name", `{"name":"a\u0000b\u001f","email":"a@b.co","age":1}`, userJSON{Name: "a\x00b\x1f", Email: "a@b.co", Age: 1}},
		{"internationalised domain", `{"name":"a","email":"a@bücher.de","age":1}`, userJSON{Name: "a", Email: "a@bücher.de", Age: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := ts.do(t, "POST", "/users", tc.body)
			require.Equal(t, 201, resp.StatusCode, "body %s -> %s", tc.body, body)
			u := decode[userJSON](t, body)
			u.ID, u.CreatedAt, u.UpdatedAt = "", "", ""
			assert.Equal(t, tc.want, u, "body %s", tc.body)
		})
	}
}

func TestCreateUserValidation(t *testing.T) {
	store := newFakeStore()
	ts := startServer(t, store)
	deep := `{"x":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `,"name":"a","email":"a@b.co","age":1}`
	for _, tc := range []struct {
		name, body string
		want       []string
	}{
		{"empty body", ``, []string{"missing@body"}},
		{"whitespace body", "  \n", []string{"missing@body"}},
		{"malformed", `{"name":`, []string{"json_invalid@body/8"}},
		{"trailing garbage", `{"name":"a","email":"a@b.co","age":1} x`, []string{"json_invalid@body/38"}},
		{"array body", `[]`, []string{"model_attributes_type@body"}},
		{"string body", `"x"`, []string{"model_attributes_type@body"}},
		{"null body", `null`, []string{"model_attributes_type@body"}},
		{"empty object", `{}`, []string{"missing@body/name", "missing@body/email", "missing@body/age"}},
		{"field names are case-sensitive", `{"NAME":"a","email":"a@b.co","age":1}`, []string{"missing@body/name"}},
		{"empty name", `{"name":"","email":"a@b.co","age":1}`, []string{"string_too_short@body/name"}},
		{"long name", `{"name":"` + strings.Repeat("x", 101) + `","email":"a@b.co","age":1}`, []string{"string_too_long@body/name"}},
		{"numeric name", `{"name":5,"email":"a@b.co","age":1}`, []string{"string_type@body/name"}},
		{"null name", `{"name":null,"email":"a@b.co","age":1}`, []string{"string_type@body/name"}},
		{"bad email", `{"name":"a","email":"nope","age":1}`, []string{"value_error@body/email"}},
		{"two @", `{"name":"a","email":"a@b@c.co","age":1}`, []string{"value_error@body/email"}},
		{"no dot in domain", `{"name":"a","email":"a@localhost","age":1}`, []string{"value_error@body/email"}},
		{"space in email", `{"name":"a","email":"a b@c.co","age":1}`, []string{"value_error@body/email"}},
		{"NUL in email", `{"name":"a","email":"a\u0000@c.co","age":1}`, []string{"value_error@body/email"}},
		{"email object", `{"name":"a","email":{},"age":1}`, []string{"string_type@body/email"}},
		{"negative age", `{"name":"a","email":"a@b.co","age":-1}`, []string{"greater_than_equal@body/age"}},
		{"old age", `{"name":"a","email":"a@b.co","age":151}`, []string{"less_than_equal@body/age"}},
		{"huge age", `{"name":"a","email":"a@b.co","age":1e400}`, []string{"less_than_equal@body/age"}},
		{"huge integer age", `{"name":"a","email":"a@b.co","age":123456789012345678901234567890}`, []string{"less_than_equal@body/age"}},
		{"huge negative age", `{"name":"a","email":"a@b.co","age":-123456789012345678901234567890}`, []string{"greater_than_equal@body/age"}},
		{"fractional age", `{"name":"a","email":"a@b.co","age":1.5}`, []string{"int_from_float@body/age"}},
		{"word age", `{"name":"a","email":"a@b.co","age":"old"}`, []string{"int_parsing@body/age"}},
		{"bool age", `{"name":"a","email":"a@b.co","age":true}`, []string{"int_type@body/age"}},
		{"null age", `{"name":"a","email":"a@b.co","age":null}`, []string{"int_type@body/age"}},
		{"every field wrong", `{"name":"","email":"x","age":-5}`,
			[]string{"string_too_short@body/name", "value_error@body/email", "greater_than_equal@body/age"}},
		{"invalid UTF-8", "{\"name\":\"\xff\",\"email\":\"a@b.co\",\"age\":1}", []string{"json_invalid@body/9"}},
		{"raw control character", "{\"name\":\"a\x01\",\"email\":\"a@b.co\",\"age\":1}", []string{"json_invalid@body/10"}},
		{"deep nesting", deep, []string{"json_invalid@body/10006"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store.resetCalls()
			resp, body := ts.do(t, "POST", "/users", tc.body)
			require.Equal(t, 422, resp.StatusCode, "body %.80q -> %.300s", tc.body, body)
			v := decode[validationJSON](t, body)
			got := v.locs()
			if strings.HasPrefix(tc.want[0], "json_invalid") {
				// The offset is informative only; the shape is the contract.
				require.Len(t, got, 1, "body %.80q", tc.body)
				assert.True(t, strings.HasPrefix(got[0], "json_invalid@body/"), "got %v", got)
			} else {
				assert.Equal(t, tc.want, got, "body %.80q", tc.body)
			}
			for _, d := range v.Detail {
				assert.NotEmpty(t, d.Msg, "body %.80q", tc.body)
			}
			assert.Zero(t, store.callCount(), "the engine must not be called for an invalid request")
		})
	}
}

func TestGetUser(t *testing.T) {
	store := newFakeStore()
	ts := startServer(t, store)
	created := time.Date(2024, 2, 29, 23, 59, 59, 999_000_000, time.UTC)
	u := engine.User{ID: newUUID(), Name: "Jane", Email: "jane@example.com", Age: 31, CreatedAt: created, UpdatedAt: created.Add(time.Millisecond)}
	store.add(u)
	id := u.ID.String()

	resp, body := ts.do(t, "GET", "/users/"+id, "")
	require.Equal(t, 200, resp.StatusCode, "body: %s", body)
	assert.Equal(t, userJSON{ID: id, Name: "Jane", Email: "jane@example.com", Age: 31,
		CreatedAt: "2024-02-29T23:59:59.999Z", UpdatedAt: "2024-03-01T00:00:00.000Z"}, decode[userJSON](t, body))

	resp, body = ts.do(t, "GET", "/users/"+strings.ToUpper(id), "")
	assert.Equal(t, 200, resp.StatusCode, "upper-case UUID: %s", body)

	resp, body = ts.do(t, "GET", "/users/%"+fmt.Sprintf("%x", id[0])+id[1:], "")
	assert.Equal(t, 200, resp.StatusCode, "percent-encoded UUID means the same id: %s", body)

	resp, body = ts.do(t, "GET", "/users/"+newUUID().String(), "")
	assert.Equal(t, 404, resp.StatusCode)
	assert.Equal(t, `{"detail":"User not found"}`, string(body))

	for _, bad := range []string{"abc", "not-a-uuid", id[:35], id + "0", strings.ReplaceAll(id, "-", ""),
		"%2e%2e", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz", "batch"} {
		resp, body = ts.do(t, "GET", "/users/"+bad, "")
		assert.Equal(t, 400, resp.StatusCode, "id %q: %s", bad, body)
		assert.Equal(t, `{"detail":"Invalid UUID"}`, string(body), "GET of id %q: the original's text for this route", bad)
	}
}

func TestConsistencyHeader(t *testing.T) {
	store := newFakeStore()
	ts := startServer(t, store)
	id := newUUID()
	store.add(engine.User{ID: id, Name: "a", Email: "a@b.co"})
	for v, want := range map[string]engine.Consistency{
		"ONE": engine.One, "local_one": engine.LocalOne, "QUORUM": engine.Quorum,
		"LOCAL_QUORUM": engine.LocalQuorum, "ALL": engine.All, " each_quorum ": engine.EachQuorum,
	} {
		resp, body := ts.do(t, "GET", "/users/"+id.String(), "", "X-Consistency-Level", v)
		require.Equal(t, 200, resp.StatusCode, "level %q: %s", v, body)
		assert.Equal(t, want, store.lastOptions().Consistency, "level %q", v)
	}
	for _, v := range []string{"TWO", "SERIAL", "", "ONE,ALL"} {
		store.resetCalls()
		resp, body := ts.do(t, "GET", "/users/"+id.String(), "", "X-Consistency-Level", v)
		require.Equal(t, 422, resp.StatusCode, "level %q: %s", v, body)
		assert.Equal(t, []string{"enum@header/x-consistency-level"}, decode[validationJSON](t, body).locs())
		assert.Zero(t, store.callCount())
	}
	// A bad header and a bad body are reported together, as FastAPI does.
	resp, body := ts.do(t, "POST", "/users", `{}`, "X-Consistency-Level", "TWO")
	require.Equal(t, 422, resp.StatusCode)
	assert.Len(t, decode[validationJSON](t, body).Detail, 4)
}

func TestListUsers(t *testing.T) {
	store := newFakeStore()
	ts := startServer(t, store)
	ts.srv.validPageState = func(s string) bool { _, err := strconv.Atoi(s); return s == "" || err == nil }
	for i := range 25 {
		store.add(engine.User{ID: newUUID(), Name: fmt.Sprint("u", i), Email: "u@b.co", Age: i})
	}

	resp, body := ts.do(t, "GET", "/users", "")
	require.Equal(t, 200, resp.StatusCode)
	assert.Len(t, decode[[]userJSON](t, body), 10, "default limit")
	assert.Equal(t, "10", resp.Header.Get("X-Next-Page-State"))
	assert.Equal(t, `</users?limit=10&page_state=10>; rel="next"`, resp.Header.Get("Link"))

	seen := map[string]bool{}
	next := "/users?limit=7"
	for pages := 0; next != ""; pages++ {
		require.Less(t, pages, 10, "paging does not end")
		resp, body = ts.do(t, "GET", next, "")
		require.Equal(t, 200, resp.StatusCode, "%s: %s", next, body)
		for _, u := range decode[[]userJSON](t, body) {
			assert.False(t, seen[u.ID], "user %s seen twice", u.ID)
			seen[u.ID] = true
		}
		next = ""
		if link := resp.Header.Get("Link"); link != "" {
			next = strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`)
		}
	}
	assert.Len(t, seen, 25)

	resp, body = ts.do(t, "GET", "/users?limit=1000", "")
	require.Equal(t, 200, resp.StatusCode)
	assert.Len(t, decode[[]userJSON](t, body), 25)
	assert.Empty(t, resp.Header.Get("X-Next-Page-State"))
	assert.Empty(t, resp.Header.Get("Link"))

	for q, want := range map[string]string{
		"limit=0":                       "greater_than_equal@query/limit",
		"limit=1001":                    "less_than_equal@query/limit",
		"limit=-5":                      "greater_than_equal@query/limit",
		"limit=abc":                     "int_parsing@query/limit",
		"limit=":                        "int_parsing@query/limit",
		"limit=1.5":                     "int_parsing@query/limit",
		"limit=99999999999999999999999": "less_than_equal@query/limit",
	} {
		resp, body = ts.do(t, "GET", "/users?"+q, "")
		require.Equal(t, 422, resp.StatusCode, "%s: %s", q, body)
		assert.Equal(t, []string{want}, decode[validationJSON](t, body).locs(), q)
	}

	// The real token check: a tampered token never reaches the engine.
	ts.srv.validPageState = engine.ValidPageState
	store.resetCalls()
	resp, body = ts.do(t, "GET", "/users?page_state=AAAAAAAAAAAAAAAA", "")
	require.Equal(t, 422, resp.StatusCode, "body: %s", body)
	assert.Equal(t, []string{"value_error@query/page_state"}, decode[validationJSON](t, body).locs())
	assert.Zero(t, store.callCount())
}

func TestUpdateUser(t *testing.T) {
	store := newFakeStore()
	ts := startServer(t, store)
	created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	u := engine.User{ID: newUUID(), Name: "Old", Email: "old@example.com", Age: 40, CreatedAt: created, UpdatedAt: created}
	store.add(u)
	path := "/users/" + u.ID.String()

	var last string
	for _, tc := range []struct {
		method, body string
		name, email  string
		age          int
	}{
		{"PUT", `{"name":"New"}`, "New", "old@example.com", 40},
		{"PATCH", `{"age":41,"email":null}`, "New", "old@example.com", 41},
		{"PUT", `{}`, "New", "old@example.com", 41},
		{"PATCH", `{"name":null,"email":"new@example.com","age":null,"id":"ignored"}`, "New", "new@example.com", 41},
		{"PUT", `{"name":"Full","email":"full@example.com","age":"42"}`, "Full", "full@example.com", 42},
	} {
		resp, body := ts.do(t, tc.method, path, tc.body)
		require.Equal(t, 200, resp.StatusCode, "%s %s: %s", tc.method, tc.body, body)
		got := decode[userJSON](t, body)
		assert.Equal(t, userJSON{ID: u.ID.String(), Name: tc.name, Email: tc.email, Age: tc.age,
			CreatedAt: "2024-01-01T00:00:00.000Z", UpdatedAt: got.UpdatedAt}, got, "%s %s", tc.method, tc.body)
		assert.Regexp(t, timestampRE, got.UpdatedAt)
		assert.Greater(t, got.UpdatedAt, last, "updated_at moves forward")
		last = got.UpdatedAt
	}

	store.resetCalls()
	resp, body := ts.do(t, "PATCH", path, `{"name":"","age":200}`)
	require.Equal(t, 422, resp.StatusCode, "body: %s", body)
	assert.Equal(t, []string{"string_too_short@body/name", "less_than_equal@body/age"}, decode[validationJSON](t, body).locs())
	assert.Zero(t, store.callCount(), "a rejected update changes nothing")

	for _, bad := range []string{"", "[1]", "nope"} {
		resp, body = ts.do(t, "PUT", path, bad)
		assert.Equal(t, 422, resp.StatusCode, "body %q: %s", bad, body)
	}

	resp, body = ts.do(t, "PUT", "/users/"+newUUID().String(), `{"name":"x"}`)
	assert.Equal(t, 404, resp.StatusCode)
	assert.Equal(t, `{"detail":"User not found"}`, string(body))

	resp, body = ts.do(t, "PATCH", "/users/nope", `{"name":"x"}`)
	assert.Equal(t, 400, resp.StatusCode)
	assert.Equal(t, `{"detail":"Invalid user ID format"}`, string(body))

	// FastAPI validates the body before the handler checks the id.
	resp, _ = ts.do(t, "PATCH", "/users/nope", `{"name":""}`)
	assert.Equal(t, 422, resp.StatusCode)
}

func TestDeleteUser(t *testing.T) {
	store := newFakeStore()
	ts := startServer(t, store)
	id := newUUID()
	store.add(engine.User{ID: id, Name: "a", Email: "a@b.co"})
	for i := range 2 {
		resp, body := ts.do(t, "DELETE", "/users/"+id.String(), "")
		assert.Equal(t, 204, resp.StatusCode, "delete #%d", i+1)
		assert.Empty(t, body, "delete #%d", i+1)
		assert.Empty(t, resp.Header.Get("Content-Type"))
	}
	resp, _ := ts.do(t, "GET", "/users/"+id.String(), "")
	assert.Equal(t, 404, resp.StatusCode)
	resp, body := ts.do(t, "DELETE", "/users/xyz", "")
	assert.Equal(t, 400, resp.StatusCode)
	assert.Equal(t, `{"detail":"Invalid user ID format"}`, string(body))
}

func batchBody(n int, bad map[int]string) string {
	var b strings.Builder
	b.WriteString(`{"users":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		if v, ok := bad[i]; ok {
			b.WriteString(v)
			continue
		}
		fmt.Fprintf(&b, `{"name":"user %d","email":"u%d@example.com","age":%d}`, i, i, i%151)
	}
	b.WriteString(`]}`)
	return b.String()
}

func TestCreateUsersBatch(t *testing.T) {
	store := newFakeStore()
	ts := startServer(t, store)

	resp, body := ts.do(t, "POST", "/users/batch", batchBody(3, nil))
	require.Equal(t, 201, resp.StatusCode, "body: %s", body)
	got := decode[struct{ Created []userJSON }](t, body)
	require.Len(t, got.Created, 3)
	for i, u := range got.Created {
		assert.Equal(t, fmt.Sprint("user ", i), u.Name, "input order")
		assert.Regexp(t, uuidRE, u.ID)
	}

	resp, body = ts.do(t, "POST", "/users/batch", batchBody(1000, nil))
	require.Equal(t, 201, resp.StatusCode)
	assert.Len(t, decode[struct{ Created []userJSON }](t, body).Created, 1000)

	for _, tc := range []struct {
		name, body string
		want       []string
	}{
		{"bad item", batchBody(5, map[int]string{3: `{"name":"x","email":"nope","age":1}`}), []string{"value_error@body/users/3/email"}},
		{"two bad items", batchBody(5, map[int]string{0: `{"name":"x","email":"a@b.co"}`, 4: `7`}),
			[]string{"missing@body/users/0/age", "model_attributes_type@body/users/4"}},
		{"empty list", `{"users":[]}`, []string{"too_short@body/users"}},
		{"too many", batchBody(1001, nil), []string{"too_long@body/users"}},
		{"not a list", `{"users":{"name":"a"}}`, []string{"list_type@body/users"}},
		{"missing", `{"people":[]}`, []string{"missing@body/users"}},
		{"array body", `[{"name":"a","email":"a@b.co","age":1}]`, []string{"model_attributes_type@body"}},
		{"empty body", ``, []string{"missing@body"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store.resetCalls()
			resp, body := ts.do(t, "POST", "/users/batch", tc.body)
			require.Equal(t, 422, resp.StatusCode, "body: %.300s", body)
			assert.Equal(t, tc.want, decode[validationJSON](t, body).locs())
			assert.Zero(t, store.callCount(), "nothing is written when any item is invalid")
		})
	}
}

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

func TestPerformance(t *testing.T) {
	store := newFakeStore()
	ts := startServer(t, store)
	type perfJSON struct {
		TotalTime          float64 `json:"total_time"`
		Requests           int     `json:"requests"`
		SuccessfulRequests int     `json:"successful_requests"`
		AvgTimePerRequest  float64 `json:"avg_time_per_request"`
		RequestsPerSecond  float64 `json:"requests_per_second"`
		Mode               string  `json:"mode"`
	}
	for _, mode := range []string{"async", "sync"} {
		store.resetCalls()
		resp, body := ts.do(t, "GET", "/performance/"+mode+"?requests=50", "")
		require.Equal(t, 200, resp.StatusCode, "%s: %s", mode, body)
		p := decode[perfJSON](t, body)
		assert.Equal(t, 50, p.Requests, mode)
		assert.Equal(t, 50, p.SuccessfulRequests, mode)
		assert.Equal(t, mode, p.Mode)
		assert.Greater(t, p.TotalTime, 0.0)
		assert.Greater(t, p.RequestsPerSecond, 0.0)
		assert.InDelta(t, p.TotalTime/50, p.AvgTimePerRequest, 1e-6)
		assert.Equal(t, 50, store.callCount(), "%s: one probe per request", mode)

		resp, body = ts.do(t, "GET", "/performance/"+mode, "")
		require.Equal(t, 200, resp.StatusCode)
		assert.Equal(t, 100, decode[perfJSON](t, body).Requests, "default")

		for _, q := range []string{"0", "1001", "x"} {
			resp, _ = ts.do(t, "GET", "/performance/"+mode+"?requests="+q, "")
			assert.Equal(t, 422, resp.StatusCode, "%s requests=%s", mode, q)
		}
	}
	store.setErr(engine.ErrUnavailable)
	resp, body := ts.do(t, "GET", "/performance/async?requests=5", "")
	assert.Equal(t, 503, resp.StatusCode, "no probe succeeded: %s", body)
}

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

func TestHealthAndReady(t *testing.T) {
	store := newFakeStore()
	ts := startServer(t, store)
	type healthJSON struct {
		Status             string `json:"status"`
		CassandraConnected bool   `json:"cassandra_connected"`
		Timestamp          string `json:"timestamp"`
	}
	resp, body := ts.do(t, "GET", "/health", "")
	require.Equal(t, 200, resp.StatusCode)
	h := decode[healthJSON](t, body)
	assert.Equal(t, "healthy", h.Status)
	assert.True(t, h.CassandraConnected)
	assert.Regexp(t, timestampRE, h.Timestamp)
	resp, _ = ts.do(t, "GET", "/ready", "")
	assert.Equal(t, 200, resp.StatusCode)

	store.mu.Lock()
	store.down = true
	store.mu.Unlock()
	resp, body = ts.do(t, "GET", "/health", "")
	require.Equal(t, 200, resp.StatusCode, "health reports, it does not fail")
	h = decode[healthJSON](t, body)
	assert.Equal(t, "unhealthy", h.Status)
	assert.False(t, h.CassandraConnected)
	resp, body = ts.do(t, "GET", "/ready", "")
	assert.Equal(t, 503, resp.StatusCode, "body: %s", body)

	store.mu.Lock()
	store.down = false
	store.mu.Unlock()
	ts.srv.Drain()
	resp, body = ts.do(t, "GET", "/ready", "")
	assert.Equal(t, 503, resp.StatusCode)
	assert.Equal(t, "Server is draining", decode[detailJSON](t, body).Detail)
	resp, _ = ts.do(t, "GET", "/users", "")
	assert.Equal(t, 200, resp.StatusCode, "draining still serves")
}

func TestMetricsEndpoint(t *testing.T) {
	store := newFakeStore()
	ts := startServer(t, store)
	id := newUUID()
	store.add(engine.User{ID: id, Name: "a", Email: "a@b.co"})
	ts.do(t, "GET", "/users/"+id.String(), "")
	ts.do(t, "GET", "/users/"+newUUID().String(), "")
	ts.do(t, "GET", "/nowhere", "")
	resp, body := ts.do(t, "GET", "/metrics", "")
	require.Equal(t, 200, resp.StatusCode)
	assert.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain"))
	text := string(body)
	for _, want := range []string{
		`userapi_http_requests_total{method="GET",route="/users/{user_id}",status="200"} 1`,
		`userapi_http_requests_total{method="GET",route="/users/{user_id}",status="404"} 1`,
		`userapi_http_requests_total{method="",route="unmatched",status="404"} 1`,
		`userapi_http_request_duration_seconds_bucket{method="GET",route="/users/{user_id}",le="+Inf"} 2`,
		`userapi_http_request_duration_seconds_count{method="GET",route="/users/{user_id}"} 2`,
		`userapi_http_requests_in_flight `,
		"go_goroutines ",
		"process_resident_memory_bytes ",
		"fake_engine_users 1",
	} {
		assert.Contains(t, text, want)
	}
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
