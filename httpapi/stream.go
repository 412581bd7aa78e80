package httpapi

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
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
// limit, as in the original; the JSON form is buffered whole, so there it is
// capped at the largest allowed limit to bound memory, while the NDJSON form
// streams any number of rows with memory bounded by one page.
func (s *Server) streamUsers(ctx *fasthttp.RequestCtx, route string) {
	var errs problems
	opt, timeout := requestOptions(ctx, s.cfg.StreamTimeout, &errs)
	limit, fetch := streamParams(ctx.QueryArgs(), &errs)
	if len(errs) > 0 {
		errs.write(ctx)
		return
	}
	if bytes.Contains(ctx.Request.Header.Peek(fasthttp.HeaderAccept), acceptNDJSON) {
		s.streamNDJSON(ctx, route, fetch, limit, opt, timeout)
		return
	}
	if limit == 0 {
		limit = maxStreamLimit
	}
	c, cancel := deadline(timeout)
	defer cancel()
	b := make([]byte, 0, 4096)
	b = append(b, `{"users":[`...)
	n := 0
	pages, err := s.store.StreamUsers(c, fetch, limit, opt, func(page []engine.User) error {
		for i := range page {
			if n > 0 {
				b = append(b, ',')
			}
			b = appendUser(b, &page[i])
			n++
		}
		return nil
	})
	if err != nil {
		s.fail(ctx, route, err)
		return
	}
	b = append(b, `],"metadata":{"total_returned":`...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, `,"pages_fetched":`...)
	b = strconv.AppendInt(b, int64(pages), 10)
	b = append(b, `,"fetch_size":`...)
	b = strconv.AppendInt(b, int64(fetch), 10)
	b = append(b, `,"streaming_enabled":true}}`...)
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.Response.Header.SetContentTypeBytes(contentTypeJSON)
	ctx.Response.SetBodyRaw(b) // b is ours alone and never reused
}

var errStreamPanic = errors.New("stream writer panicked")

// streamNDJSON writes one user per line as pages arrive. fasthttp runs the
// body writer in its own goroutine, reading from a small bounded pipe, so at
// most one engine page plus a few KiB of encoded lines are in memory.
//
// The handler waits for the first page before returning: an error before
// any row (overload, outage) still gets its proper status. An error after
// rows were sent can only end the stream: it is written as a last line
// {"detail": ...}. The writer goroutine ends when the walk ends, when the
// client goes away (a write fails), or at the deadline (StreamTimeout, or
// the client's shorter X-Request-Timeout).
func (s *Server) streamNDJSON(ctx *fasthttp.RequestCtx, route string, fetch, limit int, opt engine.Options, timeout time.Duration) {
	c, cancel := deadline(timeout)
	started := make(chan error, 1)
	store, log := s.store, s.log
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.Response.Header.SetContentTypeBytes(contentTypeNDJSON)
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		defer cancel()
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
		_, err := store.StreamUsers(c, fetch, limit, opt, func(page []engine.User) error {
			if first {
				first = false
				started <- nil
			}
			for i := range page {
				line = appendUser(line[:0], &page[i])
				line = append(line, '\n')
				if _, err := w.Write(line); err != nil {
					return err
				}
			}
			return w.Flush()
		})
		if first {
			first = false
			started <- err
			return
		}
		if err != nil {
			status, detail, _ := engineStatus(err)
			log.Warn("stream ended early", "route", route, "status", status, "err", err)
			line = append(line[:0], `{"detail":`...)
			line = appendString(line, detail)
			line = append(line, "}\n"...)
			_, _ = w.Write(line)
		}
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
