package httpapi

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/userapi/userapi/engine"
)

// fakeStore is an in-memory Store for tests of pure HTTP behaviour:
// validation, routing, encoding, error mapping. The contract against
// Cassandra is tested with the real engine in the integration tests.
type fakeStore struct {
	mu    sync.Mutex
	users map[engine.UUID]engine.User
	err   error // when set, every data method fails with it
	calls int   // data method calls, to prove validation stops early
	down  bool
	last  engine.Options
	now   time.Time
}

func newFakeStore() *fakeStore {
	return &fakeStore{users: map[engine.UUID]engine.User{}, now: time.Date(2024, 1, 10, 12, 0, 0, 0, time.UTC)}
}

func (f *fakeStore) begin(opt engine.Options) error {
	f.calls++
	f.last = opt
	return f.err
}

// tick returns a fresh millisecond timestamp, always later than the last.
func (f *fakeStore) tick() time.Time {
	f.now = f.now.Add(time.Millisecond)
	return f.now
}

func newUUID() engine.UUID {
	var id engine.UUID
	_, _ = rand.Read(id[:])
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	return id
}

func (f *fakeStore) CreateUser(_ context.Context, in engine.NewUser, opt engine.Options) (engine.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(opt); err != nil {
		return engine.User{}, err
	}
	t := f.tick()
	u := engine.User{ID: newUUID(), Name: in.Name, Email: in.Email, Age: in.Age, CreatedAt: t, UpdatedAt: t}
	f.users[u.ID] = u
	return u, nil
}

func (f *fakeStore) CreateUsers(ctx context.Context, in []engine.NewUser, opt engine.Options) ([]engine.User, error) {
	out := make([]engine.User, 0, len(in))
	for _, n := range in {
		u, err := f.CreateUser(ctx, n, opt)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

func (f *fakeStore) GetUser(_ context.Context, id engine.UUID, opt engine.Options) (engine.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(opt); err != nil {
		return engine.User{}, err
	}
	u, ok := f.users[id]
	if !ok {
		return engine.User{}, engine.ErrNotFound
	}
	return u, nil
}

// sorted returns the users in a stable order for paging.
func (f *fakeStore) sorted() []engine.User {
	all := make([]engine.User, 0, len(f.users))
	for _, u := range f.users {
		all = append(all, u)
	}
	sort.Slice(all, func(i, j int) bool { return string(all[i].ID[:]) < string(all[j].ID[:]) })
	return all
}

func (f *fakeStore) ListUsers(_ context.Context, limit int, pageState string, opt engine.Options) (engine.Page, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(opt); err != nil {
		return engine.Page{}, err
	}
	start := 0
	if pageState != "" {
		// The fake's tokens are offsets; the HTTP layer only passes them on.
		n, err := strconv.Atoi(pageState)
		if err != nil {
			return engine.Page{}, engine.ErrInvalid
		}
		start = n
	}
	all := f.sorted()
	if start > len(all) {
		start = len(all)
	}
	end := min(start+limit, len(all))
	p := engine.Page{Users: all[start:end]}
	if end < len(all) {
		p.Next = strconv.Itoa(end)
	}
	return p, nil
}

func (f *fakeStore) UpdateUser(_ context.Context, id engine.UUID, patch engine.UserPatch, opt engine.Options) (engine.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(opt); err != nil {
		return engine.User{}, err
	}
	u, ok := f.users[id]
	if !ok {
		return engine.User{}, engine.ErrNotFound
	}
	if patch.Name != nil {
		u.Name = *patch.Name
	}
	if patch.Email != nil {
		u.Email = *patch.Email
	}
	if patch.Age != nil {
		u.Age = *patch.Age
	}
	u.UpdatedAt = f.tick()
	f.users[id] = u
	return u, nil
}

func (f *fakeStore) DeleteUser(_ context.Context, id engine.UUID, opt engine.Options) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(opt); err != nil {
		return err
	}
	delete(f.users, id)
	return nil
}

func (f *fakeStore) StreamUsers(ctx context.Context, fetchSize, limit int, opt engine.Options, fn func([]engine.User) error) (int, error) {
	f.mu.Lock()
	if err := f.begin(opt); err != nil {
		f.mu.Unlock()
		return 0, err
	}
	all := f.sorted()
	f.mu.Unlock()
	if limit > 0 && limit < len(all) {
		all = all[:limit]
	}
	page := make([]engine.User, 0, fetchSize)
	pages := 0
	for i := 0; i < len(all); i += fetchSize {
		if err := ctx.Err(); err != nil {
			return pages, err
		}
		pages++
		page = append(page[:0], all[i:min(i+fetchSize, len(all))]...)
		if err := fn(page); err != nil {
			return pages, err
		}
		clear(page) // like the engine, the slice is reused: catch a caller keeping it
	}
	return pages, nil
}

func (f *fakeStore) ProbeRead(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.begin(engine.Options{})
}

func (f *fakeStore) Connected() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.down
}

func (f *fakeStore) WriteMetrics(w io.Writer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fmt.Fprintf(w, "# HELP fake_engine_users Users in the fake store.\n# TYPE fake_engine_users gauge\nfake_engine_users %d\n", len(f.users))
}

func (f *fakeStore) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeStore) resetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = 0
}

func (f *fakeStore) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fakeStore) lastOptions() engine.Options {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

func (f *fakeStore) add(u engine.User) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[u.ID] = u
}

var errDriver = errors.New("gocql: no response received from cassandra within timeout (secret driver text)")
