package engine

import (
	"sync"
	"time"

	"github.com/gocql/gocql"
)

// Read grouping: reads of distinct ids that queue up go to Cassandra
// together, as one `SELECT ... WHERE id IN ?` per replica set, instead of
// one query each. gocql spends most of a read's client CPU per query (a
// frame built, written and parsed, a stream taken and given back), not per
// row, and Cassandra parses and dispatches one request instead of several.
//
// A line per replica set (and consistency level) lets ReadGroupInflight
// queries run at once. While it has room, a read is admitted like any task,
// alone: at low load nothing waits and nothing changes. A read arriving at a
// full line waits in it, holding a place in the pool's queue, and the worker
// that ends a query of that line takes up to ReadGroupMax waiting reads as
// its next query (Engine.run): grouping needs no timer, no goroutine of its
// own and no extra hand-off, and groups grow only as reads queue up.
//
// Every id of a group shares one replica set, and the query is routed by its
// first id, so it goes to a replica of all of them. A group answers each of
// its reads as the single query would: the row, or ErrNotFound when the row
// is not among those returned; an error of the query fails every read of it.

// readLines holds the lines; nil on the Engine when grouping is off.
type readLines struct {
	max        int             // reads per grouped query
	inflight   int             // queries of a line in flight before reads wait
	replicaSet func(int64) int // the batcher's grouping of a token
	queue      *gate           // the pool's: a waiting read holds a place in it

	mu sync.Mutex
	m  map[int]*readLine
}

type readLine struct {
	running int     // queries in flight (or admitted to the pool) in this line
	waiting []*task // read leaders waiting for one of them to end, oldest first
}

func newReadLines(max, inflight int, replicaSet func(int64) int, queue *gate) *readLines {
	return &readLines{max: max, inflight: inflight, replicaSet: replicaSet, queue: queue, m: make(map[int]*readLine)}
}

// read admits the leader of a read and waits for it: alone while its line
// has room, else in the line until a worker takes it into a group.
func (e *Engine) read(t *task) error {
	if e.reads == nil {
		return e.do(t)
	}
	rl := e.reads
	t.token = Token(t.id)
	t.line = groupKey(rl.replicaSet(t.token), t.cl)
	rl.mu.Lock()
	l := rl.m[t.line]
	if l == nil {
		l = &readLine{}
		rl.m[t.line] = l
	}
	if l.running < rl.inflight {
		l.running++
		rl.mu.Unlock()
		t.inLine = true // a refused admission leaves the line in fail
		return e.do(t)
	}
	var err error
	switch {
	case e.closing.Load():
		err = ErrClosed
	case t.ctx.Err() != nil:
		err = t.ctx.Err()
	case !rl.queue.reserve(1): // the same bound as a queued task's
		err = ErrOverloaded
	}
	if err != nil {
		rl.mu.Unlock()
		return e.refuse(t, err)
	}
	t.lineHeld = true
	l.waiting = append(l.waiting, t)
	rl.mu.Unlock()
	return t.wait()
}

// wait puts t, an admitted read (the next query of a hot id, which a
// running query of line key made the flight's running one), at the end of
// the line. The query that ends next takes it, or, if that one fails, the
// unit leaveLine hands on: a read in the line is never lost.
func (rl *readLines) wait(key int, t *task) {
	rl.mu.Lock()
	t.line = key
	l := rl.m[key]
	l.waiting = append(l.waiting, t)
	rl.mu.Unlock()
}

// next ends one query of line key and returns the line's next query, now
// counted as running there, for the caller to run: one waiting read alone,
// several as a group, or nil when none waits.
func (rl *readLines) next(key int) *task {
	rl.mu.Lock()
	l := rl.m[key]
	l.running--
	if len(l.waiting) == 0 {
		if l.running == 0 {
			delete(rl.m, key) // rings change; keep the map small
		}
		rl.mu.Unlock()
		return nil
	}
	n := min(len(l.waiting), rl.max)
	members := make([]*task, n)
	copy(members, l.waiting)
	rest := copy(l.waiting, l.waiting[n:])
	clear(l.waiting[rest:])
	l.waiting = l.waiting[:rest]
	l.running++
	rl.mu.Unlock()
	return rl.unit(key, members)
}

// unit makes the task that runs members as one query: the read itself when
// it is alone, else a group task. Their places in the pool's queue go back:
// the unit runs on the worker that took it.
func (rl *readLines) unit(key int, members []*task) *task {
	held := 0
	for _, t := range members {
		if t.lineHeld {
			t.lineHeld = false
			held++
		}
	}
	rl.queue.unreserve(held)
	if len(members) == 1 {
		t := members[0]
		t.inLine = true
		return t
	}
	g := acquireTask(members[0].ctx, kindReadGroup, members[0].cl)
	g.refs.Store(1) // no caller waits on a group, only its members' callers
	g.batch, g.line, g.inLine = members, key, true
	return g
}

// leaveLine ends the line's query t was, after t failed, and hands the
// line's next query to the pool (failing it, and so on, if the pool refuses).
func (e *Engine) leaveLine(t *task) {
	key := t.line
	t.inLine = false
	u := e.reads.next(key)
	if u == nil {
		return
	}
	_ = e.refuse(u, e.pool.submit(u)) // a refused unit is failed, and leaves the line in turn
}

// runReadGroup sends one IN query for the reads of group g and answers
// each; it returns the line's next query. The next query of each id, which
// readers joined meanwhile, goes into the line at once (wait), so a panic
// here loses none: the guard fails g, and leaveLine hands the line on.
func (e *Engine) runReadGroup(g *task) *task {
	now, key := time.Now(), g.line
	landed := func(t *task) {
		if n := e.land(t); n != nil {
			e.reads.wait(key, n)
		}
	}
	// A read whose callers all gave up is answered now and left out, taken
	// off g before it is completed.
	for i := 0; i < len(g.batch); {
		t := g.batch[i]
		dropExpired(&t.followers, now)
		if len(t.followers) > 0 || !t.expired(now) {
			i++
			continue
		}
		last := len(g.batch) - 1
		g.batch[i], g.batch[last] = g.batch[last], nil
		g.batch = g.batch[:last]
		e.metrics.expired.Inc()
		landed(t)
		t.finish(errExpired)
	}
	if len(g.batch) == 1 {
		// Alone after all: the plain query, as the line's running one in
		// g's place, run by the worker loop (so the panic guard sees it).
		t := g.batch[0]
		g.batch = g.batch[:0]
		t.inLine = true
		g.finish(nil)
		return t
	}
	if len(g.batch) > 0 {
		err := e.readRows(g)
		e.metrics.readGroupSize.Update(float64(len(g.batch)))
		for len(g.batch) > 0 { // the panic guard in runOne fails what is left
			t := g.batch[len(g.batch)-1]
			g.batch = g.batch[:len(g.batch)-1]
			terr := err
			if terr == nil && !t.found {
				terr = errNotFoundGroup
			}
			landed(t)
			finishAll(&t.followers, &t.user, terr)
			t.finish(terr)
		}
	}
	g.finish(nil)
	return e.reads.next(key)
}

var errNotFoundGroup = classify("get", gocql.ErrNotFound)

// readRows reads the rows of g's reads with one IN query, under the latest
// deadline of them and their followers, and sets each read's user and found.
func (e *Engine) readRows(g *task) error {
	ctx, cancel := groupContext(g.batch...)
	if cancel != nil {
		defer cancel()
	}
	ids := make([]gocql.UUID, len(g.batch))
	for i, t := range g.batch {
		ids[i] = gocql.UUID(t.id)
	}
	start := time.Now()
	iter := e.sessionFor().Query(e.stmts.getMany, ids).WithContext(ctx).Consistency(g.cl).
		Idempotent(true).RoutingKey(ids[0][:]).Iter()
	var (
		id gocql.UUID
		u  User
	)
	for iter.Scan(&id, &u.Name, &u.Email, &u.Age, &u.CreatedAt, &u.UpdatedAt) {
		u.ID = UUID(id)
		u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
		for _, t := range g.batch {
			if t.id == u.ID {
				t.user, t.found = u, true
			}
		}
	}
	err := iter.Close()
	e.metrics.observe("get_group", start, err)
	return classify("get", err)
}
