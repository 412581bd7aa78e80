package engine

import (
	"errors"
	"fmt"
	"testing"

	"github.com/gocql/gocql"
	"github.com/stretchr/testify/assert"
)

// TestOnSessionsFallsBackOnlyWhenUnsent: a query runs on the set sessions
// picks, and once more on the other only when the driver sent nothing; and
// the helper, with a func literal that captures and sets its caller's
// variables as the query sites do, allocates nothing.
func TestOnSessionsFallsBackOnlyWhenUnsent(t *testing.T) {
	coalescing, direct := &gocql.Session{}, &gocql.Session{}
	errOther := errors.New("read timeout")
	for _, tc := range []struct {
		name     string
		direct   *gocql.Session
		errs     []error // what the query returns on its first and second run
		want     []*gocql.Session
		wantErr  error
		inflight int64
	}{
		{"one set, no connections", nil, []error{gocql.ErrNoConnections}, []*gocql.Session{coalescing}, gocql.ErrNoConnections, 0},
		{"idle: direct first", direct, []error{nil}, []*gocql.Session{direct}, nil, 0},
		{"idle: direct unsent, then coalescing", direct, []error{gocql.ErrNoConnections, nil}, []*gocql.Session{direct, coalescing}, nil, 0},
		{"busy: coalescing unsent, then direct", direct, []error{gocql.ErrNoConnections, gocql.ErrNoConnections}, []*gocql.Session{coalescing, direct}, gocql.ErrNoConnections, 5},
		{"sent: no second run", direct, []error{errOther}, []*gocql.Session{direct}, errOther, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &Engine{session: coalescing, direct: tc.direct}
			e.cfg.DirectBelow = 1
			e.inflight.Store(tc.inflight)
			var ran []*gocql.Session
			err := e.onSessions(func(s *gocql.Session) error {
				ran = append(ran, s)
				return tc.errs[len(ran)-1]
			})
			assert.Equal(t, tc.want, ran, "sessions the query ran on")
			assert.ErrorIs(t, err, tc.wantErr, "the last run's error")

			var runs int
			var got error
			allocs := testing.AllocsPerRun(1000, func() {
				runs = 0
				got = e.onSessions(func(s *gocql.Session) (err error) {
					err = tc.errs[runs]
					runs++
					return err
				})
			})
			assert.Zero(t, allocs, fmt.Sprintf("onSessions allocated (%d runs, err %v): it wraps every query", runs, got))
		})
	}
}
