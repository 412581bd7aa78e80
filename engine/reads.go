package engine

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/gocql/gocql"
)

// Reads: GetUser with read coalescing, and the query of one read that a
// worker runs (runGet). Grouped reads are in readgroup.go.

// flights coalesces concurrent reads of one id (at one consistency level)
// without ever answering a reader from a query sent before it arrived, so a
// read that starts after a write was acknowledged sees that write:
//
//   - with no query of the id in flight, a reader becomes the leader and is
//     admitted at once;
//   - while one is in flight, the first reader to arrive becomes the next
//     leader, not admitted, and later readers join it as followers;
//   - when the query in flight completes, its worker sends the next one
//     (Engine.run), for every reader that arrived meanwhile.
//
// So at most one query per id is in flight and one waits, whatever the
// number of readers. A reader waits at most for the query in flight plus its
// own; the next query runs under the latest deadline of its readers
// (groupContext), so none inherits an earlier one.
type flights struct {
	mu sync.Mutex
	m  map[flightKey]flight
}

type flightKey struct {
	id UUID
	cl gocql.Consistency
}

type flight struct {
	running *task // leader of the query in flight
	next    *task // leader of the query that waits for it, with its followers
}

// GetUser reads one user; concurrent reads of one id share a query.
func (e *Engine) GetUser(ctx context.Context, id UUID, opt Options) (User, error) {
	t := acquireTask(ctx, kindGet, e.consistency(opt))
	defer t.release()
	t.id = id
	e.metrics.reads.Inc()
	if e.closing.Load() { // a reader joining a flight is never admitted: refuse it here
		return User{}, e.refuse(t, ErrClosed)
	}
	key := flightKey{id, t.cl}
	e.flights.mu.Lock()
	f, busy := e.flights.m[key]
	switch {
	case !busy:
		e.flights.m[key] = flight{running: t}
		e.flights.mu.Unlock()
		// A refused leader is failed by admit, which advances the flight and
		// fails the readers that queued behind it meanwhile.
		if err := e.doInLine(e.reads, t); err != nil {
			return User{}, err
		}
	case f.next == nil:
		f.next = t // the flight's line holds the executor's hold
		e.flights.m[key] = f
		e.flights.mu.Unlock()
		if err := t.wait(); err != nil {
			return User{}, err
		}
	default:
		f.next.followers = append(f.next.followers, t)
		e.flights.mu.Unlock()
		e.metrics.coalesced.Inc()
		if err := t.wait(); err != nil {
			return User{}, err
		}
	}
	return t.user, nil
}

// advance moves the flight of t, whose query ended, on to its next leader,
// now the one in flight, and returns it for the caller to run (or fail); nil
// ends the flight (and is all it does when t leads no flight). After it
// returns no reader can join t, so its followers list is final.
func (fs *flights) advance(t *task) *task {
	key := flightKey{t.id, t.cl}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f, ok := fs.m[key]
	if !ok || f.running != t {
		return nil
	}
	if f.next == nil {
		delete(fs.m, key)
		return nil
	}
	fs.m[key] = flight{running: f.next}
	return f.next
}

// unpaged turns paging off for queries whose rows are bounded by their ids
// (one partition, one row each): with gocql's default page size (5000)
// Cassandra runs even these through its query pager. Groups of 16 ids at 4
// queries in flight straight to the dev node, alternating (3 rounds):
// 53-75K ids/s at 21-31 us of Cassandra CPU per id unpaged against 47-54K at
// 30-35 us paged.
const unpaged = 0

// readRow reads the row of t.id into t.user under ctx.
func (e *Engine) readRow(ctx context.Context, t *task) error {
	start := time.Now()
	var id gocql.UUID
	u := &t.user
	err := e.onSessions(func(s *gocql.Session) error {
		q := s.Query(e.stmts.get, gocql.UUID(t.id)).WithContext(ctx).Consistency(t.cl).Idempotent(true).
			PageSize(unpaged)
		defer q.Release() // back to gocql's pool: one allocation less per query
		return q.Scan(&id, &u.Name, &u.Email, &u.Age, &u.CreatedAt, &u.UpdatedAt)
	})
	e.metrics.observe("get", start, err)
	u.ID = UUID(id)
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return err
}

// runGet sends one query for a read and the readers that joined it
// (GetUser), under the latest of their deadlines, and returns what runs
// next: the next query of the same id, which readers that arrived meanwhile
// joined, or, when t ran in a read line (readgroup.go), the line's next
// query (that next query of the id waits in the line).
func (e *Engine) runGet(t *task) *task {
	now := time.Now()
	dropExpired(&t.followers, now)
	var err error
	if len(t.followers) == 0 && t.expired(now) {
		e.metrics.expired.Inc()
		err = errExpired
	} else {
		ctx, cancel := groupContext(t)
		err = classify("get", e.readRow(ctx, t))
		if cancel != nil {
			cancel()
		}
	}
	runningUnit, key := t.runningUnit, t.line
	next := e.flights.advance(t)
	if runningUnit && next != nil {
		e.reads.enqueue(key, next)
		next = nil
	}
	finishAll(&t.followers, &t.user, err)
	t.finish(err)
	if runningUnit {
		return e.reads.next(key, answered(err))
	}
	return next
}

// answered is how many reads a lone read's outcome answered for the
// tuner: a row or a miss is an answer, a failure is none.
func answered(err error) int {
	if err == nil || errors.Is(err, ErrNotFound) {
		return 1
	}
	return 0
}
