package httpapi

import (
	"fmt"
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

	// The real token check: a malformed token never reaches the engine.
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
