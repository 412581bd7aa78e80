package httpapi

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"github.com/userapi/userapi/engine"
)

// Fuzz tests for every decoder of outside input: bodies, the id path
// segment, query strings. Run one with e.g.
//
//	go test -run '^$' -fuzz FuzzDecodeNewUser -fuzztime 30s ./httpapi

var bodySeeds = []string{
	``, ` `, `{}`, `[]`, `null`, `"x"`, `{"name":"a","email":"a@b.co","age":1}`,
	`{"name":"a","email":"a@b.co","age":1.0}`, `{"name":"a","email":"a@b.co","age":"1"}`,
	`{"name":"","email":"x","age":-1}`, `{"name":null,"email":null,"age":null}`,
	`{"\u006eame":"\ud83d\ude00","email":"a@b.co","age":1e2}`, `{"name":"a","name":"b"}`,
	`{"users":[{"name":"a","email":"a@b.co","age":1},7,{}]}`, `{"users":[]}`, `{"users":{}}`,
	`{"x":[[[[{}]]]],"age":99999999999999999999999}`, "{\"name\":\"\xff\"}", `{"name":"a\u0000"}`,
	`{"email":"a@b..co"}`, `{"email":"@b.co"}`, `{"email":"a@-b.co"}`, `{"email":"a@b.123"}`,
}

func FuzzDecodeNewUser(f *testing.F) {
	for _, s := range bodySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var errs problems
		i, ok := parseBody(body, &errs)
		if !ok {
			require.Len(t, errs, 1, "a rejected body is one problem")
			require.True(t, json.Valid(errs.appendJSON(nil)))
			return
		}
		u := decodeNewUser(body, i, []any{"body"}, &errs)
		require.True(t, json.Valid(errs.appendJSON(nil)), "422 body is JSON")
		if len(errs) > 0 {
			return
		}
		// Accepted: the body is a JSON object, and each value agrees with
		// encoding/json's reading of it.
		var m map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(body, &m), "accepted body %q", body)
		checkNewUser(t, u)
		var name, email string
		require.NoError(t, json.Unmarshal(m["name"], &name))
		require.NoError(t, json.Unmarshal(m["email"], &email))
		require.Equal(t, name, u.Name, "body %q", body)
		require.Equal(t, email, u.Email, "body %q", body)
	})
}

func checkNewUser(t *testing.T, u engine.NewUser) {
	t.Helper()
	require.True(t, utf8.ValidString(u.Name))
	n := utf8.RuneCountInString(u.Name)
	require.True(t, n >= 1 && n <= maxNameChars, "name %q", u.Name)
	require.Empty(t, emailProblem(u.Email), "email %q", u.Email)
	require.True(t, u.Age >= minAge && u.Age <= maxAge, "age %d", u.Age)
}

func FuzzDecodePatch(f *testing.F) {
	for _, s := range bodySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var errs problems
		i, ok := parseBody(body, &errs)
		if !ok {
			return
		}
		p := decodePatch(body, i, &errs)
		require.True(t, json.Valid(errs.appendJSON(nil)))
		if len(errs) > 0 {
			return
		}
		if p.Name != nil {
			n := utf8.RuneCountInString(*p.Name)
			require.True(t, n >= 1 && n <= maxNameChars)
		}
		if p.Email != nil {
			require.Empty(t, emailProblem(*p.Email))
		}
		if p.Age != nil {
			require.True(t, *p.Age >= minAge && *p.Age <= maxAge)
		}
	})
}

func FuzzDecodeBatch(f *testing.F) {
	for _, s := range bodySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var errs problems
		users := decodeBatch(body, &errs)
		require.True(t, json.Valid(errs.appendJSON(nil)))
		if len(errs) > 0 {
			return
		}
		require.True(t, len(users) >= 1 && len(users) <= maxBatchUsers)
		for _, u := range users {
			checkNewUser(t, u)
		}
	})
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a", `"\`, "\x00\x1f\x7f", "é😀", "\xff\xfe", "\u2028<>&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := appendString(nil, s)
		var back string
		require.NoError(t, json.Unmarshal(out, &back), "output %q", out)
		if utf8.ValidString(s) {
			require.Equal(t, s, back)
		}
	})
}

// fuzzServer answers requests in memory, with no network.
func fuzzServer(t testing.TB) fasthttp.RequestHandler {
	store := newFakeStore()
	store.add(engine.User{ID: engine.UUID{1}, Name: "a", Email: "a@b.co", Age: 1})
	srv, err := New(Config{Store: store, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	return srv.Handler()
}

func serveFuzz(t *testing.T, h fasthttp.RequestHandler, method, uri string, body []byte, headers ...string) *fasthttp.RequestCtx {
	ctx := &fasthttp.RequestCtx{}
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(uri)
	for i := 0; i+1 < len(headers); i += 2 {
		ctx.Request.Header.Set(headers[i], headers[i+1])
	}
	ctx.Request.SetBody(body)
	h(ctx)
	status := ctx.Response.StatusCode()
	require.Less(t, status, 500, "%s %q -> %d %s", method, uri, status, ctx.Response.Body())
	if len(ctx.Response.Body()) > 0 && status != 200 {
		require.True(t, json.Valid(ctx.Response.Body()), "%s %q -> %s", method, uri, ctx.Response.Body())
	}
	return ctx
}

// FuzzUserPath: any id segment is a 200, 400, 404, 405 or redirect, with
// a JSON body; never a 5xx.
func FuzzUserPath(f *testing.F) {
	for _, s := range []string{"01000000-0000-0000-0000-000000000000", "abc", "", "..", "%00", "a/b",
		"01000000-0000-0000-0000-00000000000G", "01000000-0000-0000-0000-0000000000000", "batch", "stream"} {
		f.Add(s, "GET")
	}
	f.Add("x", "PUT")
	f.Add("x", "DELETE")
	h := fuzzServer(f)
	f.Fuzz(func(t *testing.T, seg, method string) {
		switch method {
		case "GET", "PUT", "PATCH", "DELETE", "POST":
		default:
			method = "GET"
		}
		ctx := serveFuzz(t, h, method, "/users/"+seg, []byte(`{}`))
		switch ctx.Response.StatusCode() {
		case 200, 204, 301, 308, 400, 404, 405, 422:
		default:
			t.Fatalf("%s /users/%q: unexpected status %d", method, seg, ctx.Response.StatusCode())
		}
	})
}

// FuzzQuery: any query string on the paging endpoints is a 200 or a 422.
func FuzzQuery(f *testing.F) {
	for _, s := range []string{"limit=10", "limit=0", "limit=-1", "limit=abc", "limit=1&limit=2",
		"page_state=AAAA", "page_state=%ff%00", "limit=99999999999999999999", "fetch_size=10&max_pages=0",
		"requests=1", "limit=%20%2010%20"} {
		f.Add(s)
	}
	h := fuzzServer(f)
	f.Fuzz(func(t *testing.T, q string) {
		for _, p := range []string{"/users", "/users/stream", "/users/stream/pages", "/performance/sync"} {
			uri := p + "?" + q
			if _, err := url.ParseRequestURI(uri); err != nil {
				uri = p + "?" + url.PathEscape(q)
			}
			ctx := serveFuzz(t, h, "GET", uri, nil)
			code := ctx.Response.StatusCode()
			require.True(t, code == 200 || code == 422, "%s -> %d %s", uri, code, ctx.Response.Body())
		}
	})
}

// FuzzConsistencyHeader: any header value is accepted or a 422.
func FuzzConsistencyHeader(f *testing.F) {
	for _, s := range []string{"ONE", "local_quorum", " ALL ", "", "SERIAL", "\x00"} {
		f.Add(s)
	}
	h := fuzzServer(f)
	f.Fuzz(func(t *testing.T, v string) {
		if strings.ContainsAny(v, "\r\n") {
			return // not a header value a client can send
		}
		ctx := serveFuzz(t, h, "GET", "/users/01000000-0000-0000-0000-000000000000", nil, "X-Consistency-Level", v)
		code := ctx.Response.StatusCode()
		require.True(t, code == 200 || code == 422, "%q -> %d", v, code)
	})
}

// FuzzTimeoutHeader: any X-Request-Timeout value is served or a 422 whose
// entry quotes the value; a parsed deadline is never past the bound.
func FuzzTimeoutHeader(f *testing.F) {
	for _, s := range []string{"0.1", "10", "1e-9", "0", "-1", "nan", "inf", "1e309", "0x1p-2", "", " 3 "} {
		f.Add(s)
	}
	h := fuzzServer(f)
	f.Fuzz(func(t *testing.T, v string) {
		if d, typ, _ := parseTimeout([]byte(v), time.Second); typ == "" {
			require.True(t, d > 0 && d <= time.Second, "%q -> %v", v, d)
		}
		if strings.ContainsAny(v, "\r\n") {
			return // not a header value a client can send
		}
		ctx := serveFuzz(t, h, "GET", "/users/01000000-0000-0000-0000-000000000000", nil, "X-Request-Timeout", v)
		code := ctx.Response.StatusCode()
		require.True(t, code == 200 || code == 422 || code == 504, "%q -> %d", v, code)
	})
}
