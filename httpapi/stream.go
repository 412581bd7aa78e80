package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/userapi/userapi/engine"
)

const (
	defaultStreamLimit = 1000
	maxStreamLimit     = 100000
	defaultFetchSize   = 100
	minFetchSize       = 10
	maxFetchSize       = 1000
	defaultMaxPages    = 10
	maxMaxPages        = 100
)

// streamParams reads limit and fetch_size, shared by both stream endpoints.
func streamParams(args *fasthttp.Args, errs *problems) (limit, fetch int) {
	limit = queryInt(args, "limit", defaultStreamLimit, 0, maxStreamLimit, errs)
	fetch = queryInt(args, "fetch_size", defaultFetchSize, minFetchSize, maxFetchSize, errs)
	return limit, fetch
}

var acceptNDJSON = []byte("application/x-ndjson")

// streamUsers walks the table fetch_size rows a page. limit=0 means no
// limit, as in the original; the JSON form keeps its cap at the largest
// allowed limit. Both forms stream (walk).
func (s *Server) streamUsers(ctx *fasthttp.RequestCtx, route string) {
	var errs problems
	opt, timeout := requestOptions(ctx, s.cfg.StreamTimeout, &errs)
	limit, fetch := streamParams(ctx.QueryArgs(), &errs)
	if len(errs) > 0 {
		errs.write(ctx)
		return
	}
	if bytes.Contains(ctx.Request.Header.Peek(fasthttp.HeaderAccept), acceptNDJSON) {
		s.walk(ctx, route, walkSpec{fetch: fetch, limit: limit, opt: opt, timeout: timeout, ndjson: true})
		return
	}
	if limit == 0 {
		limit = maxStreamLimit
	}
	s.walk(ctx, route, walkSpec{fetch: fetch, limit: limit, opt: opt, timeout: timeout})
}

var errStreamPanic = errors.New("stream writer panicked")

// streams are the streams running, so that Shutdown can end them: a stream
// may last as long as StreamTimeout, and a client that does not read holds
// its connection until its write deadline, either of which would hold a
// shutdown that waits for every connection.
type streams struct {
	mu     sync.Mutex
	ending bool // Shutdown began: a new stream ends at once
	m      map[*stream]struct{}
}

// stream is one running stream: its walk's cancel and its connection.
type stream struct {
	cancel context.CancelFunc
	conn   net.Conn
}

// add registers st; it reports false (and registers nothing) once ending.
func (ss *streams) add(st *stream) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.ending {
		return false
	}
	if ss.m == nil {
		ss.m = make(map[*stream]struct{})
	}
	ss.m[st] = struct{}{}
	return true
}

func (ss *streams) remove(st *stream) {
	ss.mu.Lock()
	delete(ss.m, st)
	ss.mu.Unlock()
}

// shuttingDown reports whether Shutdown ended the streams.
func (ss *streams) shuttingDown() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.ending
}

// end ends every stream: its walk is cancelled (the stream closes with a
// last {"detail"}), and its connection gets a write deadline grace away,
// so a client that does not read is cut then.
func (ss *streams) end(grace time.Duration) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.ending = true
	for st := range ss.m {
		st.cancel()
		switch c := st.conn.(type) {
		case interface{ SetWriteDeadlineExact(time.Time) error }:
			_ = c.SetWriteDeadlineExact(time.Now().Add(grace))
		case net.Conn:
			_ = c.SetWriteDeadline(time.Now().Add(grace))
		}
	}
}

// errShuttingDown is a stream's error once Shutdown ended it.
var errShuttingDown = &engine.Error{Kind: engine.ErrClosed, Op: "stream"}

// walkSpec is one stream's request: its parameters and its form.
type walkSpec struct {
	fetch, limit int
	opt          engine.Options
	timeout      time.Duration
	ndjson       bool // one user per line; else the JSON object {"users": [...], "metadata": {...}}
}

// walk streams a table walk as pages arrive. fasthttp runs the body writer
// in its own goroutine, reading from a small bounded pipe, so a stream holds
// at most one engine page plus a few KiB of encoded rows, in either form.
//
// The handler waits for the first page before returning: an error before
// any row (overload, outage) still gets its proper status. An error after
// rows were sent can only end the stream: NDJSON with a last line
// {"detail": ...}, JSON by closing the users array and giving "detail" in
// place of "metadata".
//
// A client that stops reading must not keep its walk, one of the few the
// engine runs at once: before each page the connection gets a write
// deadline StreamWriteTimeout away, so a page the client does not take in
// that time fails the write, the walk ends and its slot is free. The writer
// goroutine also ends when the walk ends, when the client goes away, or at
// the deadline (StreamTimeout, or the client's shorter X-Request-Timeout).
func (s *Server) walk(ctx *fasthttp.RequestCtx, route string, w walkSpec) {
	c, cancel := deadline(w.timeout)
	st := &stream{cancel: cancel, conn: ctx.Conn()}
	if !s.streams.add(st) {
		cancel()
		s.fail(ctx, route, errShuttingDown)
		return
	}
	started := make(chan error, 1)
	store, log, conn, writeTimeout, ss := s.store, s.log, ctx.Conn(), s.cfg.StreamWriteTimeout, &s.streams
	ctx.SetStatusCode(fasthttp.StatusOK)
	if w.ndjson {
		ctx.Response.Header.SetContentTypeBytes(contentTypeNDJSON)
	} else {
		ctx.Response.Header.SetContentTypeBytes(contentTypeJSON)
	}
	ctx.SetBodyStreamWriter(func(bw *bufio.Writer) {
		defer cancel()
		defer ss.remove(st)
		first := true
		defer func() {
			if p := recover(); p != nil {
				log.Error("stream writer panic", "route", route, "panic", fmt.Sprint(p))
				if first {
					started <- errStreamPanic
				}
			}
		}()
		line := make([]byte, 0, 512)
		n := 0
		begin := func() {
			first = false
			started <- nil
			if !w.ndjson {
				line = append(line[:0], `{"users":[`...)
				_, _ = bw.Write(line)
			}
		}
		pages, err := store.StreamUsers(c, w.fetch, w.limit, w.opt, func(page []engine.User) error {
			if c.Err() != nil { // ended by Shutdown (or the deadline) while the page was read
				return c.Err()
			}
			if first {
				begin()
			}
			if conn != nil {
				_ = conn.SetWriteDeadline(time.Now().Add(writeTimeout))
			}
			for i := range page {
				line = line[:0]
				if n > 0 && !w.ndjson {
					line = append(line, ',')
				}
				line = appendUser(line, &page[i])
				if w.ndjson {
					line = append(line, '\n')
				}
				n++
				if _, err := bw.Write(line); err != nil {
					return err
				}
			}
			return bw.Flush()
		})
		if err != nil && ss.shuttingDown() {
			err = errShuttingDown
		}
		if first && err != nil {
			first = false
			started <- err
			return
		}
		if first { // an empty table: no page came
			begin()
		}
		line = line[:0]
		switch {
		case err != nil:
			status, detail, _ := engineStatus(err)
			log.Warn("stream ended early", "route", route, "status", status, "err", err)
			if w.ndjson {
				line = append(line, `{"detail":`...)
				line = appendString(line, detail)
				line = append(line, "}\n"...)
			} else {
				line = append(line, `],"detail":`...)
				line = appendString(line, detail)
				line = append(line, '}')
			}
		case !w.ndjson:
			line = append(line, `],"metadata":{"total_returned":`...)
			line = strconv.AppendInt(line, int64(n), 10)
			line = append(line, `,"pages_fetched":`...)
			line = strconv.AppendInt(line, int64(pages), 10)
			line = append(line, `,"fetch_size":`...)
			line = strconv.AppendInt(line, int64(w.fetch), 10)
			line = append(line, `,"streaming_enabled":true}}`...)
		}
		_, _ = bw.Write(line)
	})
	if err := <-started; err != nil {
		// Nothing was written: replace the stream with a proper answer.
		// SetBody closes the (finished) stream.
		s.fail(ctx, route, err)
	}
}

// errEnoughPages stops a page walk at max_pages; it is not a failure.
var errEnoughPages = errors.New("max_pages reached")

// streamPages reports page by page what a walk sees, keeping one sample
// user per page rather than the rows.
func (s *Server) streamPages(ctx *fasthttp.RequestCtx, route string) {
	var errs problems
	opt, timeout := requestOptions(ctx, s.cfg.StreamTimeout, &errs)
	args := ctx.QueryArgs()
	limit, fetch := streamParams(args, &errs)
	maxPages := queryInt(args, "max_pages", defaultMaxPages, 0, maxMaxPages, &errs)
	if len(errs) > 0 {
		errs.write(ctx)
		return
	}
	c, cancel := deadline(timeout)
	defer cancel()
	st := &stream{cancel: cancel} // answered whole: Shutdown only cancels its walk
	if !s.streams.add(st) {
		s.fail(ctx, route, errShuttingDown)
		return
	}
	defer s.streams.remove(st)
	b := make([]byte, 0, 1024)
	pages, rows := 0, 0
	_, err := s.store.StreamUsers(c, fetch, limit, opt, func(page []engine.User) error {
		pages++
		rows += len(page)
		if pages > 1 {
			b = append(b, ',')
		}
		b = append(b, `{"page_number":`...)
		b = strconv.AppendInt(b, int64(pages), 10)
		b = append(b, `,"rows_in_page":`...)
		b = strconv.AppendInt(b, int64(len(page)), 10)
		b = append(b, `,"sample_user":`...)
		if len(page) == 0 {
			b = append(b, "null"...)
		} else {
			b = append(b, `{"id":`...)
			b = appendUUID(b, page[0].ID)
			b = append(b, `,"name":`...)
			b = appendString(b, page[0].Name)
			b = append(b, `,"email":`...)
			b = appendString(b, page[0].Email)
			b = append(b, '}')
		}
		b = append(b, '}')
		if maxPages > 0 && pages >= maxPages {
			return errEnoughPages
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnoughPages) {
		if s.streams.shuttingDown() {
			err = errShuttingDown
		}
		s.fail(ctx, route, err)
		return
	}
	out := make([]byte, 0, len(b)+256)
	out = append(out, `{"pages_processed":`...)
	out = strconv.AppendInt(out, int64(pages), 10)
	out = append(out, `,"total_rows_processed":`...)
	out = strconv.AppendInt(out, int64(rows), 10)
	out = append(out, `,"pages_info":[`...)
	out = append(out, b...)
	out = append(out, `],"metadata":{"fetch_size":`...)
	out = strconv.AppendInt(out, int64(fetch), 10)
	out = append(out, `,"max_pages_limit":`...)
	out = strconv.AppendInt(out, int64(maxPages), 10)
	out = append(out, `,"streaming_mode":"page_by_page"}}`...)
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.Response.Header.SetContentTypeBytes(contentTypeJSON)
	ctx.Response.SetBodyRaw(out)
}
