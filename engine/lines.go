package engine

import (
	"sync"
	"time"

	"github.com/gocql/gocql"
)

// Lines: how reads and writes are grouped per replica set without a
// goroutine, timer or hand-off of their own.
//
// A line per replica set (and consistency level) lets limit() units run at
// once (the tuner's choice, or `inflight`), a unit being one query: a lone task, or several as one grouped
// query (an IN read, readgroup.go; an UNLOGGED batch, batch.go).
// While its line has room a task is admitted like any other, alone: at low
// load nothing waits and nothing changes. A task arriving at a full line
// waits in it, holding a place in the pool's queue (so overload still
// answers ErrOverloaded at once, and the queue bounds everything waiting),
// and the worker that ends a unit of that line takes up to `max` waiting
// tasks as its next unit (Engine.run). Units grow only as work queues up.
//
// Every member of a unit shares one replica set, and the unit's query is
// routed by its first member's key, so it goes to a replica of all of them.
//
// Writes may linger: with linger > 0 a write waits in its line even when
// the line has room, until max writes gather or linger passes (a timer per
// line, armed by the first waiting write), for fuller batches at moderate
// load. Writes waiting behind a running unit never linger: the worker that
// ends it takes them at once.
type lines struct {
	kind       taskKind        // what a unit of several members is: kindReadGroup or kindBatch
	max        int             // members per unit
	maxBytes   int             // writes only: estimated bytes per unit (writeSize); 0: no cap
	inflight   int             // units of a line in flight before tasks wait
	linger     time.Duration   // writes only: how long a partial unit may wait for company
	replicaSet func(int64) int // the grouping of a token (Engine.batchReplicaSet)
	queue      *gate           // the pool's: a waiting task holds a place in it
	submit     func(u unit)    // hands a unit to the pool, failing it if refused (Engine.submitUnit)
	tuner      *tuner          // picks size and limit as it goes (tuner.go)

	mu     sync.Mutex
	m      map[int]*lineState
	timers uint64 // linger timers armed so far: names each one
}

type lineState struct {
	running int         // units in flight (or admitted to the pool) in this line
	waiting []*task     // tasks waiting for a unit to end (or for linger), oldest first
	timer   *time.Timer // linger: armed while writes wait with room to run
	timerID uint64      // which one (lines.timers) timer is
}

// newLines makes the lines of e's reads (kindReadGroup) or writes
// (kindBatch); replicaSet groups tokens, the pool's queue bounds the waiting.
func (e *Engine) newLines(kind taskKind, max, maxBytes, inflight int, linger time.Duration) *lines {
	return &lines{
		kind: kind, max: max, maxBytes: maxBytes, inflight: inflight, linger: linger,
		replicaSet: e.batchReplicaSet, queue: e.pool.gate, submit: e.submitUnit,
		m: make(map[int]*lineState),
	}
}

// size is the most members a unit may take now.
func (ls *lines) size() int {
	if ls.tuner != nil {
		return ls.tuner.size()
	}
	return ls.max
}

// limit is the most units of one line that may run at once now.
func (ls *lines) limit() int {
	if ls.tuner != nil {
		return ls.tuner.limit()
	}
	return ls.inflight
}

// lineKey is the line of a replica set and consistency level.
func lineKey(set int, cl gocql.Consistency) int { return set<<4 | int(cl)&0xf }

// linesOf is the lines a task of t's kind runs in (nil: none).
func (e *Engine) linesOf(t *task) *lines {
	if t.kind == kindWrite || t.kind == kindBatch {
		return e.writes
	}
	return e.reads
}

func (ls *lines) state(key int) *lineState {
	l := ls.m[key]
	if l == nil {
		l = &lineState{}
		ls.m[key] = l
	}
	return l
}

// locate sets t's token and line: hashing and the ring lookup, done before
// taking ls.mu so the lock covers only the line's counts.
func (ls *lines) locate(t *task) {
	t.token = Token(t.id)
	t.line = lineKey(ls.replicaSet(t.token), t.cl)
}

// placeLocked reports whether t, located, may run alone now (counted as one
// of its line's running units) or must wait in the line. Under ls.mu.
func (ls *lines) placeLocked(t *task) (l *lineState, alone bool) {
	l = ls.state(t.line)
	if l.running < ls.limit() && ls.linger == 0 {
		l.running++
		t.runningUnit = true
		return l, true
	}
	return l, false
}

// enter admits t through its line without blocking: alone to the pool while
// the line has room (and nothing lingers), else into the line. On error t
// has been failed (Engine.admit); the caller waits with t.wait either way.
func (e *Engine) enter(ls *lines, t *task) error {
	ls.locate(t)
	ls.mu.Lock()
	l, alone := ls.placeLocked(t)
	if alone {
		ls.mu.Unlock()
		return e.admit(t) // a refused admission leaves the line in fail
	}
	var err error
	switch {
	case e.closing.Load(): // checked under mu: Close's flush sees every task that passed it
		err = ErrClosed
	case t.ctx.Err() != nil:
		err = t.ctx.Err()
	case !ls.queue.reserve(1): // the same bound as a queued task's
		err = ErrOverloaded
	}
	if err != nil {
		ls.mu.Unlock()
		return e.refuse(t, err)
	}
	t.holdsQueuePlace = true
	u := ls.queueLocked(l, t)
	ls.mu.Unlock()
	ls.submit(u)
	return nil
}

// unit is the task that runs some waiting members of a line as one query,
// and how many places in the pool's queue they held and still hold: a unit
// handed to the pool keeps one of them, so an admitted task is never
// refused for overload on its way to a worker.
type unit struct {
	t    *task
	held int
}

// enterAll admits writes whose places in the pool's queue admitWrites
// reserved: each goes alone to the pool while its line has room (giving its
// place back as it starts), else waits in its line on its place. The caller
// has checked the engine is not closing, and Close waits for the hand-over
// (Engine.admitting), so all of them run, or fail only after admission.
func (e *Engine) enterAll(ls *lines, ts []*task) {
	var alone []*task
	var units []unit
	for _, t := range ts {
		ls.locate(t)
	}
	ls.mu.Lock()
	for _, t := range ts {
		l, runs := ls.placeLocked(t)
		if runs {
			alone = append(alone, t)
			continue
		}
		t.holdsQueuePlace = true
		if u := ls.queueLocked(l, t); u.t != nil {
			units = append(units, u)
		}
	}
	ls.mu.Unlock()
	for _, t := range alone {
		_ = e.refuse(t, e.pool.submitReserved(t))
	}
	for _, u := range units {
		ls.submit(u)
	}
}

// queueLocked puts t, holding its place in the queue, at the end of line l
// and returns a unit to submit when lingering writes fill one (or none).
// Under ls.mu.
func (ls *lines) queueLocked(l *lineState, t *task) unit {
	key := t.line
	l.waiting = append(l.waiting, t)
	if ls.linger == 0 || l.running >= ls.limit() {
		return unit{} // a running unit's worker takes it
	}
	if len(l.waiting) >= ls.size() || ls.unitLen(l.waiting) < len(l.waiting) {
		if l.timer != nil {
			l.timer.Stop()
			l.timer = nil
		}
		return ls.take(key, l)
	}
	if l.timer == nil {
		ls.timers++
		id := ls.timers
		l.timer, l.timerID = time.AfterFunc(ls.linger, func() { ls.lingered(key, id) }), id
	}
	return unit{}
}

// lingered sends what waits in line key once its linger passed, if the line
// has room (else the worker of a running unit takes it).
func (ls *lines) lingered(key int, id uint64) {
	ls.mu.Lock()
	l := ls.m[key]
	if l == nil || l.timer == nil || l.timerID != id { // stopped, or another timer's line
		ls.mu.Unlock()
		return
	}
	l.timer = nil
	var u unit
	switch {
	case l.running < ls.limit() && len(l.waiting) > 0:
		u = ls.take(key, l)
	case l.running == 0 && len(l.waiting) == 0:
		delete(ls.m, key)
	}
	ls.mu.Unlock()
	ls.submit(u)
}

// flush sends every lingering line's writes at once, within the in-flight
// cap (Close, before the pool stops taking work).
func (ls *lines) flush() {
	var units []unit
	ls.mu.Lock()
	for key, l := range ls.m {
		if l.timer != nil {
			l.timer.Stop()
			l.timer = nil
		}
		for l.running < ls.limit() && len(l.waiting) > 0 {
			units = append(units, ls.take(key, l))
		}
	}
	ls.mu.Unlock()
	for _, u := range units {
		ls.submit(u)
	}
}

// enqueue puts t, an admitted task (the next query of a hot id, which a
// running query of line key made the flight's running one), at the end of
// the line; it never blocks (unlike task.wait). The unit that ends next
// takes it, or, if that one fails, the unit leaveLine starts: a task in the
// line is never lost.
func (ls *lines) enqueue(key int, t *task) {
	ls.mu.Lock()
	t.line = key
	l := ls.m[key]
	l.waiting = append(l.waiting, t)
	ls.mu.Unlock()
}

// next ends one unit of line key, which did rows (for the tuner: writes
// acknowledged, reads answered), and returns the line's next unit, now counted as running
// there, for the caller (the worker that ran the ended one) to run: one
// waiting task alone, several as a group, or nil when none waits. Its
// members' places in the pool's queue go back.
func (ls *lines) next(key, rows int) *task {
	u := ls.endUnit(key)
	if ls.tuner != nil {
		ls.tuner.done(rows)
	}
	ls.queue.unreserve(u.held)
	return u.t
}

// endUnit ends one unit of line key and takes the line's next unit, if any,
// its members still holding their places.
//
// A line running more units than its limit allows (the tuner lowered it)
// takes none: the units still running end, down to the limit, and each of
// those takes the next, so a new limit holds within one round of units.
// The last running unit always takes one (every limit is at least 1), so no
// waiting task is left behind.
func (ls *lines) endUnit(key int) unit {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	l := ls.m[key]
	l.running--
	if len(l.waiting) == 0 {
		if l.running == 0 && l.timer == nil {
			delete(ls.m, key) // rings change; keep the map small
		}
		return unit{}
	}
	if l.running >= ls.limit() {
		return unit{}
	}
	return ls.take(key, l)
}

// unitLen is how many of the waiting tasks, oldest first, make the next
// unit: up to size, and for writes no more than fit in maxBytes (at least one).
func (ls *lines) unitLen(waiting []*task) int {
	n := min(len(waiting), ls.size())
	if ls.maxBytes <= 0 {
		return n
	}
	size := 0
	for i, t := range waiting[:n] {
		if size += writeSize(t); size > ls.maxBytes && i > 0 {
			return i
		}
	}
	return n
}

// writeSize over-estimates what Cassandra counts of a write towards
// batch_size_fail_threshold (the data size of its mutation: key, cell
// values, and a timestamp and flags per cell), so that a batch within
// maxBytes by this count is within it by Cassandra's.
func writeSize(t *task) int {
	if t.op == opDelete {
		return 64
	}
	return 128 + len(t.user.Name) + len(t.user.Email)
}

// take takes up to max waiting tasks off line l (key) as one running unit:
// the task itself when it is alone, else a group task of the lines' kind
// that lives as long as its most patient member and is not ended by any
// one of them giving up. Under ls.mu.
func (ls *lines) take(key int, l *lineState) unit {
	n := ls.unitLen(l.waiting)
	held := 0
	for _, t := range l.waiting[:n] {
		if t.holdsQueuePlace {
			t.holdsQueuePlace = false
			held++
		}
	}
	var members []*task
	lone := l.waiting[0]
	if n > 1 { // a lone unit needs no members slice
		members = make([]*task, n)
		copy(members, l.waiting)
	}
	rest := copy(l.waiting, l.waiting[n:])
	clear(l.waiting[rest:])
	l.waiting = l.waiting[:rest]
	l.running++
	if rest == 0 && l.timer != nil { // nothing left to linger for
		l.timer.Stop()
		l.timer = nil
	}
	if n == 1 {
		lone.runningUnit = true
		return unit{lone, held}
	}
	// The unit runs under a context of its own that ends at its members'
	// latest deadline and ignores any one of them giving up: a member whose
	// caller cancels while the query is on the wire must not fail the others
	// (a read group's or a batch's, groupContext). Releasing g cancels it.
	ctx, cancel := groupContext(members...)
	g := acquireTask(ctx, ls.kind, members[0].cl)
	g.cancel = cancel
	g.refs.Store(1) // no caller waits on a unit, only its members' callers
	g.batch, g.line, g.runningUnit = members, key, true
	return unit{g, held}
}

// submitUnit hands a unit taken off a line to the pool on one of its
// members' places in the queue, giving the others back. Only a unit whose
// members held none (a read flight's next queries, lines.enqueue) can be
// refused for overload. A refused unit is failed, and leaves the line in
// turn (leaveLine).
func (e *Engine) submitUnit(u unit) {
	switch {
	case u.t == nil:
	case u.held > 0:
		e.pool.gate.unreserve(u.held - 1)
		_ = e.refuse(u.t, e.pool.submitReserved(u.t))
	default:
		_ = e.refuse(u.t, e.pool.submit(u.t))
	}
}

// leaveLine ends the unit t was, after t failed, and hands the line's next
// unit to the pool.
func (e *Engine) leaveLine(t *task) {
	t.runningUnit = false
	ls := e.linesOf(t)
	ls.submit(ls.endUnit(t.line))
}
