package load

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"
)

// stubAPI is an in-process imitation of the user API on a loopback port:
// enough of the contract for the harness to be tested without a server.
type stubAPI struct {
	url string

	mu      sync.Mutex
	users   map[string]bool
	deleted map[string]int
	nextID  int

	requests  atomic.Int64 // every request
	mixed     atomic.Int64 // requests to /mixed
	gets      atomic.Int64
	getMiss   atomic.Int64
	creates   atomic.Int64 // users created, any route
	updates   atomic.Int64
	lists     atomic.Int64
	pageState atomic.Int64 // lists that carried a page_state
	batches   atomic.Int64
	slow      time.Duration
}

func startStub(t *testing.T) *stubAPI {
	t.Helper()
	s := &stubAPI{users: map[string]bool{}, deleted: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err, "listen on loopback")
	srv := &fasthttp.Server{Handler: s.handle, Name: "stub"}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.ShutdownWithContext(ctx)
		<-done
	})
	s.url = "http://" + ln.Addr().String()
	return s
}

func (s *stubAPI) newUser() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	id := fmt.Sprintf("00000000-0000-4000-8000-%012d", s.nextID)
	s.users[id] = true
	s.creates.Add(1)
	return id
}

func userJSON(id string) string {
	return `{"id":"` + id + `","name":"Ada Lovelace","email":"ada@example.com","age":36,` +
		`"created_at":"2025-01-01T00:00:00.000Z","updated_at":"2025-01-01T00:00:00.000Z"}`
}

func (s *stubAPI) handle(ctx *fasthttp.RequestCtx) {
	s.requests.Add(1)
	path := string(ctx.Path())
	method := string(ctx.Method())
	ctx.SetContentType("application/json")
	switch {
	case path == "/mixed":
		// A fixed rotation: of every 10 requests, 7 answer 200, 2 answer
		// 404 and 1 answers 503, whatever the concurrency.
		switch n := (s.mixed.Add(1) - 1) % 10; {
		case n < 7:
			ctx.SetStatusCode(200)
		case n < 9:
			ctx.SetStatusCode(404)
		default:
			ctx.Response.Header.Set("Retry-After", "1")
			ctx.SetStatusCode(503)
		}
		ctx.SetBodyString(`{}`)
	case path == "/slow":
		time.Sleep(s.slow)
		ctx.SetStatusCode(200)
	case path == "/users/batch" && method == "POST":
		var in struct {
			Users []json.RawMessage `json:"users"`
		}
		if err := json.Unmarshal(ctx.PostBody(), &in); err != nil || len(in.Users) == 0 || len(in.Users) > 1000 {
			ctx.SetStatusCode(422)
			return
		}
		s.batches.Add(1)
		parts := make([]string, len(in.Users))
		for i := range in.Users {
			parts[i] = userJSON(s.newUser())
		}
		ctx.SetStatusCode(201)
		ctx.SetBodyString(`{"created":[` + strings.Join(parts, ",") + `]}`)
	case path == "/users" && method == "POST":
		var in struct {
			Name  string `json:"name"`
			Email string `json:"email"`
			Age   *int   `json:"age"`
		}
		if err := json.Unmarshal(ctx.PostBody(), &in); err != nil || in.Name == "" || in.Email == "" || in.Age == nil {
			ctx.SetStatusCode(422)
			return
		}
		ctx.SetStatusCode(201)
		ctx.SetBodyString(userJSON(s.newUser()))
	case path == "/users" && method == "GET":
		s.lists.Add(1)
		limit, _ := strconv.Atoi(string(ctx.QueryArgs().Peek("limit")))
		page, _ := strconv.Atoi(string(ctx.QueryArgs().Peek("page_state")))
		if ctx.QueryArgs().Has("page_state") {
			s.pageState.Add(1)
		}
		// Three pages, then the walk starts over.
		if page < 2 {
			ctx.Response.Header.Set("X-Next-Page-State", strconv.Itoa(page+1))
		}
		parts := make([]string, limit)
		for i := range parts {
			parts[i] = userJSON(fmt.Sprintf("00000000-0000-4000-8000-%012d", i))
		}
		ctx.SetBodyString("[" + strings.Join(parts, ",") + "]")
	case strings.HasPrefix(path, "/users/"):
		id := strings.TrimPrefix(path, "/users/")
		s.mu.Lock()
		known := s.users[id]
		if method == "DELETE" {
			s.deleted[id]++
			delete(s.users, id)
		}
		s.mu.Unlock()
		switch method {
		case "GET":
			s.gets.Add(1)
			if !known {
				s.getMiss.Add(1)
				ctx.SetStatusCode(404)
				ctx.SetBodyString(`{"detail":"User not found"}`)
				return
			}
			ctx.SetBodyString(userJSON(id))
		case "PUT":
			var in map[string]any
			if err := json.Unmarshal(ctx.PostBody(), &in); err != nil || len(in) == 0 {
				ctx.SetStatusCode(422)
				return
			}
			s.updates.Add(1)
			if !known {
				ctx.SetStatusCode(404)
				return
			}
			ctx.SetBodyString(userJSON(id))
		case "DELETE":
			ctx.SetStatusCode(204)
		default:
			ctx.SetStatusCode(405)
		}
	default:
		ctx.SetStatusCode(404)
		ctx.SetBodyString(`{"detail":"Not Found"}`)
	}
}

// timesDeleted returns how many ids were deleted more than once, and how
// many deletes there were in all.
func (s *stubAPI) deleteCounts() (twice, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.deleted {
		total += n
		if n > 1 {
			twice++
		}
	}
	return twice, total
}
