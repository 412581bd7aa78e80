package engine

import (
	"context"
	"time"

	"github.com/gocql/gocql"
)

// Read grouping: reads of distinct ids that queue up go to Cassandra
// together, as one `SELECT ... WHERE id IN ?` per replica set, instead of
// one query each. gocql spends most of a read's client CPU per query (a
// frame built, written and parsed, a stream taken and given back), not per
// row, and Cassandra parses and dispatches one request instead of several.
//
// Reads use the lines of lines.go: while the read tuner keeps reads grouped,
// ReadGroupInflight queries of a replica set run at once, and the worker
// that ends one takes up to ReadGroupMax reads waiting in the line as one
// IN query (sending reads at once, the tuner lets the pool's size run).
//
// Every id of a group shares one replica set, and the query is routed by its
// first id, so it goes to a replica of all of them. A group answers each of
// its reads as the single query would: the row, or ErrNotFound when the row
// is not among those returned; an error of the query fails every read of it.

// runReadGroup sends one IN query for the reads of group g and answers
// each; it returns the line's next query. The next query of each id, which
// readers joined meanwhile, goes into the line at once (lines.enqueue), so a
// panic here loses none: the guard fails g, and leaveLine starts the line's
// next unit.
func (e *Engine) runReadGroup(g *task) *task {
	now, key := time.Now(), g.line
	advance := func(t *task) { // t's flight, its next query queued in g's line
		if n := e.flights.advance(t); n != nil {
			e.reads.enqueue(key, n)
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
		advance(t)
		t.finish(errExpired)
	}
	if len(g.batch) == 1 {
		// Alone after all: the plain query, as the line's running one in
		// g's place, run by the worker loop (so the panic guard sees it).
		t := g.batch[0]
		g.batch = g.batch[:0]
		t.runningUnit = true
		g.finish(nil)
		return t
	}
	n := 0 // reads answered, for the tuner
	if len(g.batch) > 0 {
		err := e.readRows(g)
		if err == nil {
			n = len(g.batch)
		}
		e.metrics.readGroupSize.Update(float64(len(g.batch)))
		for len(g.batch) > 0 { // the panic guard in runOne fails what is left
			t := g.batch[len(g.batch)-1]
			g.batch = g.batch[:len(g.batch)-1]
			terr := err
			if terr == nil && !t.found {
				terr = errNotFoundGroup
			}
			advance(t)
			finishAll(&t.followers, &t.user, terr)
			t.finish(terr)
		}
	}
	g.finish(nil)
	return e.reads.next(key, n)
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
	err := e.onSessions(func(s *gocql.Session) error { return e.scanGroup(ctx, s, g, ids) })
	e.metrics.observe("get_group", start, err)
	return classify("get", err)
}

// scanGroup runs the IN query of g's ids on session s.
func (e *Engine) scanGroup(ctx context.Context, s *gocql.Session, g *task, ids []gocql.UUID) error {
	q := s.Query(e.stmts.getMany, ids).WithContext(ctx).Consistency(g.cl).
		Idempotent(true).RoutingKey(ids[0][:]).PageSize(unpaged)
	defer q.Release()
	iter := q.Iter()
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
	return iter.Close()
}
