package engine

import (
	"context"
	"time"

	"github.com/gocql/gocql"
)

// Health: the background probe behind Connected (/health, /ready), and
// ProbeRead, the unit of work of the /performance endpoints, which runs
// through the pool like any request.

// healthLoop probes Cassandra every second, off the pool so that overload
// never looks like an outage. Cassandra counts as reachable while either set
// of connections reaches it: queries fall back to the set that does.
func (e *Engine) healthLoop() {
	defer e.loops.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-tick.C:
		}
		err := e.ping(e.session)
		if err != nil && e.direct != nil {
			err = e.ping(e.direct) // queries go to whichever set has connections (see sessions)
		}
		was := e.connected.Swap(err == nil)
		if was != (err == nil) {
			if err != nil {
				e.log.Warn("cassandra unreachable", "err", err)
			} else {
				e.log.Info("cassandra reachable again")
			}
		}
	}
}

// ping runs the health probe's query on session s.
func (e *Engine) ping(s *gocql.Session) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var v string
	return s.Query(e.stmts.ping).WithContext(ctx).Consistency(gocql.One).Idempotent(true).Scan(&v)
}

// Connected reports whether the last health probe (run every second in the
// background) reached Cassandra.
func (e *Engine) Connected() bool { return e.connected.Load() }

// ProbeRead runs one `SELECT ... LIMIT 1` through the pool: the unit of work
// of the /performance endpoints.
func (e *Engine) ProbeRead(ctx context.Context) error {
	t := acquireTask(ctx, kindProbe, e.consistency(Options{}))
	defer t.release()
	return e.do(t)
}

// runProbe runs ProbeRead's query.
func (e *Engine) runProbe(t *task) error {
	start := time.Now()
	err := e.onSessions(func(s *gocql.Session) error {
		iter := s.Query(e.stmts.probe).WithContext(t.ctx).Consistency(t.cl).Idempotent(true).Iter()
		var id gocql.UUID
		iter.Scan(&id)
		return iter.Close()
	})
	e.metrics.observe("probe", start, err)
	return classify("probe", err)
}
