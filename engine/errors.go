package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/gocql/gocql"
)

// The engine's error taxonomy. Every error an Engine method returns matches
// exactly one of these with errors.Is; the HTTP layer maps each to one status
// (engineStatus in httpapi/errors.go) and the metrics label each (kinds).
var (
	// ErrNotFound: the user does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: the request cannot be served as given (bad page state, bad value).
	ErrInvalid = errors.New("invalid request")
	// ErrOverloaded: the pool and its queue are full; retry later.
	ErrOverloaded = errors.New("overloaded")
	// ErrUnavailable: Cassandra cannot be reached or lacks live replicas.
	ErrUnavailable = errors.New("cassandra unavailable")
	// ErrTimeout: the request's deadline passed, or Cassandra timed out.
	ErrTimeout = errors.New("timeout")
	// ErrClosed: the engine is shutting down and takes no new work.
	ErrClosed = errors.New("engine closed")
	// ErrUnknownOutcome: a write was sent and its answer never came (the
	// connection broke after the frame left, or replicas failed partway),
	// so it may have been applied; or a batch create was written in part.
	// Retrying blindly could apply it twice: read first.
	ErrUnknownOutcome = errors.New("write outcome unknown")

	// errInternal marks errors outside the taxonomy; the HTTP layer answers
	// 500 and logs the cause. It is unexported so no caller can depend on it.
	errInternal = errors.New("internal error")
)

// kinds is the one list of error kinds: each sentinel with the label of its
// metric series. KindOf and the metrics derive from it; the last entry,
// errInternal, is what an error outside the taxonomy counts as.
var kinds = [...]struct {
	err   error
	label string
}{
	{ErrNotFound, "not_found"},
	{ErrInvalid, "invalid"},
	{ErrOverloaded, "overloaded"},
	{ErrUnavailable, "unavailable"},
	{ErrTimeout, "timeout"},
	{ErrClosed, "closed"},
	{ErrUnknownOutcome, "unknown_outcome"},
	{errInternal, "internal"},
}

// Error wraps a cause (often a gocql error) under one taxonomy kind. Error()
// carries the driver's text for logs; Is matches the kind only.
type Error struct {
	Kind  error
	Op    string
	Cause error
}

func (e *Error) Error() string {
	if e.Cause == nil {
		return e.Op + ": " + e.Kind.Error()
	}
	return fmt.Sprintf("%s: %v: %v", e.Op, e.Kind, e.Cause)
}

func (e *Error) Is(target error) bool { return target == e.Kind }
func (e *Error) Unwrap() error        { return e.Cause }

// KindOf returns the taxonomy sentinel err matches, or nil for an error
// outside it (which the HTTP layer answers 500).
func KindOf(err error) error {
	if err == nil {
		return nil
	}
	for _, k := range kinds[:len(kinds)-1] {
		if errors.Is(err, k.err) {
			return k.err
		}
	}
	return nil
}

// classify wraps any error from gocql or the context into the taxonomy. It is
// the only place that knows gocql's error types.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	if KindOf(err) != nil {
		return err
	}
	kind := classifyKind(err)
	return &Error{Kind: kind, Op: op, Cause: err}
}

// classifyWrite is classify for a write: an error that leaves it unknown
// whether Cassandra applied the write (mayHaveApplied), in this attempt or
// an earlier one the driver retried (sent), is ErrUnknownOutcome, never
// ErrUnavailable, whose answer invites a retry. A timeout stays ErrTimeout.
func classifyWrite(op string, err error, sent bool) error {
	if err == nil || KindOf(err) != nil {
		return err
	}
	kind := classifyKind(err)
	if kind != ErrTimeout && (sent || mayHaveApplied(err)) {
		kind = ErrUnknownOutcome
	}
	return &Error{Kind: kind, Op: op, Cause: err}
}

// mayHaveApplied reports whether a write attempt that ended with err may
// have been applied: the connection broke after the frame may have left
// (reset, broken pipe, closed while waiting for the answer, EOF), or the
// coordinator reported a write failure on some replicas. Refusals that come
// before any work (no connection, unavailable, overloaded) are not.
func mayHaveApplied(err error) bool {
	var wf *gocql.RequestErrWriteFailure
	var op *net.OpError
	switch {
	case err == nil, errors.Is(err, gocql.ErrNoConnections), errors.Is(err, syscall.ECONNREFUSED):
		return false
	case errors.Is(err, gocql.ErrConnectionClosed), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.As(err, &wf):
		return true
	case errors.As(err, &op):
		return !op.Timeout() && op.Op != "dial"
	}
	return false
}

func classifyKind(err error) error {
	switch {
	case errors.Is(err, gocql.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, gocql.ErrTimeoutNoResponse):
		return ErrTimeout
	case errors.Is(err, gocql.ErrNoConnections), errors.Is(err, gocql.ErrNoHosts),
		errors.Is(err, gocql.ErrNoConnectionsStarted), errors.Is(err, gocql.ErrConnectionClosed),
		errors.Is(err, gocql.ErrSessionClosed),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return ErrUnavailable
	}
	var (
		reqErrUnavailable *gocql.RequestErrUnavailable
		reqErrWriteTO     *gocql.RequestErrWriteTimeout
		reqErrReadTO      *gocql.RequestErrReadTimeout
		reqErrWriteFail   *gocql.RequestErrWriteFailure
		reqErrReadFail    *gocql.RequestErrReadFailure
		netErr            net.Error
		reqErr            gocql.RequestError
	)
	switch {
	case errors.As(err, &reqErrUnavailable), errors.As(err, &reqErrWriteFail), errors.As(err, &reqErrReadFail):
		return ErrUnavailable
	case errors.As(err, &reqErrWriteTO), errors.As(err, &reqErrReadTO):
		return ErrTimeout
	case errors.As(err, &netErr):
		if netErr.Timeout() {
			return ErrTimeout
		}
		return ErrUnavailable
	case errors.As(err, &reqErr):
		switch reqErr.Code() {
		case gocql.ErrCodeOverloaded, gocql.ErrCodeBootstrapping, gocql.ErrCodeUnavailable:
			return ErrUnavailable
		case gocql.ErrCodeWriteTimeout, gocql.ErrCodeReadTimeout:
			return ErrTimeout
		case gocql.ErrCodeInvalid, gocql.ErrCodeSyntax, gocql.ErrCodeProtocol:
			// A corrupted page state is rejected by Cassandra as a protocol error.
			if strings.Contains(strings.ToLower(reqErr.Message()), "paging") {
				return ErrInvalid
			}
		}
	}
	return errInternal
}
