package engine

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"time"

	"github.com/gocql/gocql"
)

// Pages, the caller's side: ListUsers and StreamUsers, and the page-state
// token a walk resumes from. Each page is one task (runPage, run on a worker).

// Page-state tokens carry the partition token a walk resumes after, as
// base64url(version | state) with an 8-byte big-endian state: 12 characters.
// Every such token is a valid resume position and a harmless one (a made-up
// token only starts a walk of the same table at another token), so the
// token needs no checksum and no MAC, and the OpenAPI document's pattern for
// it is exact: a client or fuzzer that draws a token from the pattern gets a
// page, never a 422. Version 2 tokens (version | crc32c(state) | state), as
// issued before, are still read, their checksum checked.
//
// PageStatePattern is the exact shape of a token (or "", the first page):
// the version byte 3 puts 'A' and one of [w-z0-9_-] first.
const PageStatePattern = `^(A[w-z0-9_-][A-Za-z0-9_-]{10})?$`

const (
	pageStateVersion   = 3
	pageStateVersionV2 = 2
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var errBadPageState = &Error{Kind: ErrInvalid, Op: "page state", Cause: errors.New("malformed page_state token")}

func encodePageState(state []byte) string {
	if len(state) == 0 {
		return ""
	}
	buf := make([]byte, 1+len(state))
	buf[0] = pageStateVersion
	copy(buf[1:], state)
	return encodeRaw(buf)
}

// decodePageState returns nil for "" (the first page).
func decodePageState(token string) ([]byte, error) {
	if token == "" {
		return nil, nil
	}
	if len(token) > 64 {
		return nil, errBadPageState
	}
	buf, err := decodeRaw(token)
	switch {
	case err != nil:
		return nil, errBadPageState
	case len(buf) == 1+8 && buf[0] == pageStateVersion:
		return buf[1:], nil
	case len(buf) == 5+8 && buf[0] == pageStateVersionV2:
		state := buf[5:]
		if binary.BigEndian.Uint32(buf[1:5]) != crc32.Checksum(state, castagnoli) {
			return nil, errBadPageState
		}
		return state, nil
	}
	return nil, errBadPageState
}

// ValidPageState reports whether token could have come from ListUsers, so
// the HTTP layer can reject a bad token before any work is queued.
func ValidPageState(token string) bool {
	_, err := decodePageState(token)
	return err == nil
}

func decodeRaw(s string) ([]byte, error) { return base64.RawURLEncoding.Strict().DecodeString(s) }
func encodeRaw(b []byte) string          { return base64.RawURLEncoding.EncodeToString(b) }

// ListUsers returns up to limit users starting at pageState ("" = start).
func (e *Engine) ListUsers(ctx context.Context, limit int, pageState string, opt Options) (Page, error) {
	if limit < 1 {
		return Page{}, &Error{Kind: ErrInvalid, Op: "list", Cause: errors.New("limit must be positive")}
	}
	state, err := decodePageState(pageState)
	if err != nil {
		return Page{}, err
	}
	t := acquireTask(ctx, kindPage, e.consistency(opt))
	defer t.release()
	t.limit, t.state = limit, state
	if err := e.do(t); err != nil {
		return Page{}, err
	}
	users := make([]User, len(t.users))
	copy(users, t.users)
	return Page{Users: users, Next: encodePageState(t.state)}, nil
}

// walks bounds the table walks (StreamUsers) running at once: a walk is a
// long series of pages, each held while its caller hands it on (the HTTP
// layer streams it to a client), so their number bounds the memory of all
// streams together: at most maxWalks pages whatever PoolSize. One walk per
// 64 workers (4 by default), at most maxWalks; beyond that a walk is
// refused at once with ErrOverloaded.
func walkLimit(poolSize int) int { return min(max(1, poolSize/64), maxWalks) }

// maxWalks caps walkLimit: a page is at most 1000 rows (about 1 MB with the
// longest names and emails), so streams hold at most about 16 MB of pages.
const maxWalks = 16

// StreamUsers walks the table fetchSize rows at a time, calling fn with each
// page until limit users were delivered (limit <= 0: no limit) or the table
// ends. fn must not keep the slice: it is reused for the next page. It
// returns the number of pages fetched.
func (e *Engine) StreamUsers(ctx context.Context, fetchSize, limit int, opt Options, fn func(page []User) error) (pages int, err error) {
	if fetchSize < 1 {
		return 0, &Error{Kind: ErrInvalid, Op: "stream", Cause: errors.New("fetch size must be positive")}
	}
	select {
	case e.walks <- struct{}{}:
		defer func() { <-e.walks }()
	default:
		err := &Error{Kind: ErrOverloaded, Op: "stream", Cause: errors.New("too many table walks at once")}
		e.metrics.rejected(err)
		return 0, err
	}
	cl := e.consistency(opt)
	var state []byte
	for delivered := 0; ; {
		max := 0
		if limit > 0 {
			max = limit - delivered
		}
		n, fetched, err := e.streamPage(ctx, cl, fetchSize, max, &state, fn)
		if fetched {
			pages++
		}
		delivered += n
		if err != nil || len(state) == 0 || (limit > 0 && delivered >= limit) {
			return pages, err
		}
	}
}

// streamPage fetches the page that starts at *state, hands at most max of
// its rows (max <= 0: all) to fn, and moves *state to the next page.
func (e *Engine) streamPage(ctx context.Context, cl gocql.Consistency, fetchSize, max int, state *[]byte, fn func([]User) error) (n int, fetched bool, err error) {
	t := acquireTask(ctx, kindPage, cl)
	defer t.release()
	t.limit, t.state = fetchSize, *state
	if err := e.do(t); err != nil {
		return 0, false, err
	}
	*state = append((*state)[:0], t.state...)
	rows := t.users
	if max > 0 && len(rows) > max {
		rows = rows[:max]
	}
	if len(rows) == 0 {
		return 0, true, nil
	}
	return len(rows), true, fn(rows)
}

// runPage fetches one page of at most t.limit rows after the token in
// t.state (none: from the start) and sets t.state to where the next page
// starts, or empty when no row follows.
//
// Pages walk the ring by token instead of using Cassandra's paging state:
// each partition is one row, so "token(id) > last" resumes exactly, and
// asking for one row more than the page tells whether a next page exists;
// a walk never ends with an empty page.
func (e *Engine) runPage(t *task) error {
	start := time.Now()
	var more bool
	err := e.onSessions(func(s *gocql.Session) (err error) {
		more, err = e.readPage(s, t)
		return err
	})
	t.state = t.state[:0]
	if more {
		last := t.users[len(t.users)-1].ID
		t.state = binary.BigEndian.AppendUint64(t.state, uint64(murmur3Token(last[:])))
	}
	e.metrics.observe("list", start, err)
	return classify("list", err)
}

// readPage reads, on session s, the rows of t's page into t.users and
// reports whether a row follows them.
func (e *Engine) readPage(s *gocql.Session, t *task) (more bool, err error) {
	var q *gocql.Query
	if len(t.state) == 8 {
		after := int64(binary.BigEndian.Uint64(t.state))
		q = s.Query(e.stmts.listFrom, after, t.limit+1)
	} else {
		q = s.Query(e.stmts.list, t.limit+1)
	}
	iter := q.WithContext(t.ctx).Consistency(t.cl).Idempotent(true).PageSize(t.limit + 1).Iter()
	t.users = t.users[:0]
	var (
		id gocql.UUID
		u  User
	)
	for iter.Scan(&id, &u.Name, &u.Email, &u.Age, &u.CreatedAt, &u.UpdatedAt) {
		if len(t.users) == t.limit {
			more = true
			break
		}
		u.ID = UUID(id)
		u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
		t.users = append(t.users, u)
		u = User{}
	}
	return more, iter.Close()
}
