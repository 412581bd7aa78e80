package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/userapi/userapi/engine"
)

var (
	contentTypeJSON   = []byte("application/json")
	contentTypeNDJSON = []byte("application/x-ndjson")
)

// writeJSON sets status and a JSON body (copied, so body may be reused).
func writeJSON(ctx *fasthttp.RequestCtx, status int, body []byte) {
	ctx.SetStatusCode(status)
	ctx.Response.Header.SetContentTypeBytes(contentTypeJSON)
	ctx.SetBody(body)
}

// writeDetail answers {"detail": detail}, FastAPI's error shape.
func writeDetail(ctx *fasthttp.RequestCtx, status int, detail string) {
	b := acquireBuf()
	b.B = append(b.B, `{"detail":`...)
	b.B = appendString(b.B, detail)
	b.B = append(b.B, '}')
	writeJSON(ctx, status, b.B)
	releaseBuf(b)
}

// Details of the fixed error answers, kept identical to the original's.
const (
	detailNotFound         = "Not Found"
	detailMethodNotAllowed = "Method Not Allowed"
	detailUserNotFound     = "User not found"
	detailInvalidID        = "Invalid user ID format"
	detailInternal         = "Internal server error"
	detailBodyTooLarge     = "Request body too large"
	detailUnauthorized     = "Not authenticated"
	// detailUnknownOutcome: the write was sent and the answer lost, so no
	// Retry-After: a blind retry of a create makes a second user.
	detailUnknownOutcome = "Database connection lost after the write was sent: it may have been applied; read before retrying"
)

// retryAfterSeconds is what a 503 asks a client to wait: long enough for a
// queue to drain or a node to come back, short enough not to lose a client.
const retryAfterSeconds = "1"

// engineStatus is the one mapping from the engine's error taxonomy to an
// HTTP status and the detail the client sees. Driver text never reaches the
// client: errors outside the taxonomy are a 500 with a fixed detail.
func engineStatus(err error) (status int, detail string, retry bool) {
	switch engine.KindOf(err) {
	case engine.ErrNotFound:
		return fasthttp.StatusNotFound, detailUserNotFound, false
	case engine.ErrInvalid:
		return fasthttp.StatusBadRequest, "Invalid request", false
	case engine.ErrOverloaded:
		return fasthttp.StatusServiceUnavailable, "Server overloaded: query pool and queue are full (raise -pool-size/-queue-depth or add instances); retry later", true
	case engine.ErrUnavailable:
		return fasthttp.StatusServiceUnavailable, "Database unavailable, retry later", true
	case engine.ErrClosed:
		return fasthttp.StatusServiceUnavailable, "Server shutting down, retry later", true
	case engine.ErrTimeout:
		return fasthttp.StatusGatewayTimeout, "Database request timed out", false
	case engine.ErrUnknownOutcome:
		return fasthttp.StatusBadGateway, detailUnknownOutcome, false
	}
	return fasthttp.StatusInternalServerError, detailInternal, false
}

// fail answers an engine error and logs it: unexpected ones at error level
// with the driver's text, expected ones (overload, outage) at debug level so
// that a spike does not flood the log.
func (s *Server) fail(ctx *fasthttp.RequestCtx, route string, err error) {
	status, detail, retry := engineStatus(err)
	if retry {
		ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, retryAfterSeconds)
	}
	s.logFailure(route, status, err)
	writeDetail(ctx, status, detail)
}

// logFailure logs a failed request.
func (s *Server) logFailure(route string, status int, err error) {
	level := slog.LevelDebug
	if status == fasthttp.StatusInternalServerError {
		level = slog.LevelError
	}
	if s.log.Enabled(context.Background(), level) { // no argument boxing per 503 in a spike
		s.log.Log(context.Background(), level, "request failed", "route", route, "status", status, "err", err)
	}
}

// problem is one entry of a 422 answer, shaped like pydantic's errors.
// loc holds strings and ints (list indexes).
type problem struct {
	loc   []any
	msg   string
	typ   string
	input *string // pydantic's "input", for entries that report it
}

type problems []problem

func (p *problems) add(typ, msg string, loc ...any) {
	*p = append(*p, problem{loc: loc, msg: msg, typ: typ})
}

// at returns a copy of prefix with more elements appended, so that callers
// sharing a prefix never write into each other's backing array.
func at(prefix []any, more ...any) []any {
	loc := make([]any, 0, len(prefix)+len(more))
	loc = append(loc, prefix...)
	return append(loc, more...)
}

func (p problems) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"detail":[`...)
	for i, pr := range p {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"loc":[`...)
		for j, l := range pr.loc {
			if j > 0 {
				dst = append(dst, ',')
			}
			switch v := l.(type) {
			case int:
				dst = strconv.AppendInt(dst, int64(v), 10)
			case string:
				dst = appendString(dst, v)
			}
		}
		dst = append(dst, `],"msg":`...)
		dst = appendString(dst, pr.msg)
		dst = append(dst, `,"type":`...)
		dst = appendString(dst, pr.typ)
		if pr.input != nil {
			dst = append(dst, `,"input":`...)
			dst = appendString(dst, *pr.input)
		}
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

// write answers 422 with every problem.
func (p problems) write(ctx *fasthttp.RequestCtx) {
	b := acquireBuf()
	b.B = p.appendJSON(b.B)
	writeJSON(ctx, fasthttp.StatusUnprocessableEntity, b.B)
	releaseBuf(b)
}

// errorHandler answers what fasthttp rejects before any handler runs
// (oversized bodies and headers, slow or malformed requests), in JSON.
func (s *Server) errorHandler(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	var timeout interface{ Timeout() bool }
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		writeDetail(ctx, fasthttp.StatusRequestEntityTooLarge, detailBodyTooLarge)
		lingerOnClose(ctx.Conn()) // the client may still be sending the body
	case errors.As(err, &small):
		writeDetail(ctx, fasthttp.StatusRequestHeaderFieldsTooLarge, "Request header too large")
	case errors.As(err, &timeout) && timeout.Timeout():
		writeDetail(ctx, fasthttp.StatusRequestTimeout, "Request timeout")
	default:
		writeDetail(ctx, fasthttp.StatusBadRequest, "Malformed request")
	}
	s.metrics.record(routeRejected, ctx.Response.StatusCode(), 0)
}
