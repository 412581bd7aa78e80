package load

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/valyala/fasthttp"
	"golang.org/x/sync/errgroup"
)

const (
	// warmChunk users go into each warm-up POST /users/batch.
	warmChunk = 100
	// warmConns caps warm-up concurrency: the warm-up fills a table, it
	// is not the test, and a modest fan-out keeps the server unhurried.
	warmConns = 8
	// ownCap bounds the ids a worker keeps from its own creates for later
	// deletes, so a long write-heavy mix does not grow without limit.
	ownCap = 10000
	// maxDeleteWarmup caps the users created up front for a delete run
	// with a request count; beyond it, workers refill as they go.
	maxDeleteWarmup = 1_000_000
)

// apiScenario holds what the workers of one scenario run share: the ids
// made in the warm-up and the weighted choice of operations.
type apiScenario struct {
	cfg  Config
	c    *client
	base string // scheme://host/prefix, no trailing slash

	ops picker

	readIDs []string // read, updated; never deleted
	delIDs  []string // each deleted once, in order
	delNext atomic.Int64
	keepOwn bool // creates feed deletes (a mix with both)

	seed  uint64
	setup atomic.Int64 // unmeasured requests: warm-up and refills
}

func newAPIScenario(ctx context.Context, cfg Config, c *client, u *url.URL) (*apiScenario, error) {
	s := &apiScenario{
		cfg:  cfg,
		c:    c,
		base: u.Scheme + "://" + u.Host + strings.TrimRight(u.Path, "/"),
		seed: cmp.Or(cfg.Seed, rand.Uint64()),
	}
	s.ops = newPicker(cfg.Scenario, cfg.Mix)
	has := s.ops.has
	var err error
	switch {
	case len(cfg.ReadIDs) > 0:
		s.readIDs = cfg.ReadIDs
	case has(Get, Update, List):
		// List needs rows to page through, not their ids; get and update
		// need ids that exist.
		if s.readIDs, err = s.createUsers(ctx, cfg.Warmup); err != nil {
			return nil, err
		}
	}
	if has(Delete) {
		n := cfg.Warmup
		if cfg.Scenario == Delete && cfg.Requests > int64(n) {
			n = int(min(cfg.Requests, maxDeleteWarmup))
		}
		if s.delIDs, err = s.createUsers(ctx, n); err != nil {
			return nil, err
		}
		s.keepOwn = has(Create, Batch)
	}
	return s, nil
}

// createUsers makes n users before the measured phase and returns their
// ids as the server answered them. It uses POST /users/batch, and single
// POST /users if the server has no batch route.
func (s *apiScenario) createUsers(ctx context.Context, n int) ([]string, error) {
	var mu sync.Mutex
	ids := make([]string, 0, n)
	err := fanOut(ctx, (n+warmChunk-1)/warmChunk, min(warmConns, s.cfg.Concurrency), s.seed, 1<<32, func(i int, r *rand.Rand) error {
		got, err := s.createBatch(&fasthttp.Request{}, &fasthttp.Response{}, r, min(warmChunk, n-i*warmChunk), nil)
		mu.Lock()
		ids = append(ids, got...)
		mu.Unlock()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("warm-up: %d users created but no \"id\" found in the answers", n)
	}
	return ids, nil
}

// fanOut runs do for each of n pieces of set-up work, at most limit at
// once, each with a random source of its own (seed, stream+i); it stops at
// the first error or when ctx ends, and returns that.
func fanOut(ctx context.Context, n, limit int, seed, stream uint64, do func(i int, r *rand.Rand) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, limit))
	for i := range n {
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			return do(i, rand.New(rand.NewPCG(seed, stream+uint64(i))))
		})
	}
	return g.Wait()
}

// noBatchStatus are the answers that mean the server has no batch route.
var noBatchStatus = map[int]bool{fasthttp.StatusNotFound: true, fasthttp.StatusMethodNotAllowed: true}

// createBatch creates k users with one POST /users/batch (or k POST /users
// when batching is unavailable) and appends their ids to dst.
func (s *apiScenario) createBatch(req *fasthttp.Request, resp *fasthttp.Response, r *rand.Rand, k int, dst []string) ([]string, error) {
	if err := s.post(req, resp, "/users/batch", appendBatchJSON(nil, r, k)); err != nil {
		return dst, err
	}
	if !noBatchStatus[resp.StatusCode()] {
		return scanIDs(resp.Body(), dst), nil
	}
	for range k {
		if err := s.post(req, resp, "/users", appendUserJSON(nil, r)); err != nil {
			return dst, err
		}
		dst = scanIDs(resp.Body(), dst)
	}
	return dst, nil
}

// post sends one unmeasured POST of a create and wants 201, except for the
// answers that say the server has no batch route.
func (s *apiScenario) post(req *fasthttp.Request, resp *fasthttp.Response, path string, body []byte) error {
	req.Reset()
	req.SetRequestURI(s.base + path)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.SetBodyRaw(body)
	applyHeaders(req, s.cfg)
	s.setup.Add(1)
	if err := s.c.Do(req, resp); err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	if st := resp.StatusCode(); st != fasthttp.StatusCreated && !(path == "/users/batch" && noBatchStatus[st]) {
		return fmt.Errorf("POST %s answered %d: %s", path, st, excerpt(resp.Body()))
	}
	return nil
}

func excerpt(b []byte) string {
	const limit = 200
	if len(b) > limit {
		return string(b[:limit]) + "…"
	}
	return string(b)
}

func (s *apiScenario) newWorker(i int) (worker, error) {
	return &apiWorker{s: s, c: s.c.newConnDoer(), r: rand.New(rand.NewPCG(s.seed, uint64(i)+1))}, nil
}

// apiWorker sends one scenario's requests on one connection.
type apiWorker struct {
	s    *apiScenario
	c    doer // the worker's own connection
	r    *rand.Rand
	req  fasthttp.Request
	resp fasthttp.Response
	uri  []byte
	body []byte
	op   Scenario
	page []byte   // the list walk's next page state; empty: first page
	own  []string // ids this worker created, deleted first
}

func (w *apiWorker) next() (int, error) {
	i := w.s.ops.pick(w.r)
	w.op = w.s.ops.ops[i]
	req := &w.req
	req.Reset()
	w.uri = append(w.uri[:0], w.s.base...)
	w.uri = append(w.uri, "/users"...)
	method := fasthttp.MethodGet
	w.body = w.body[:0]
	switch w.op {
	case Get:
		w.uri = append(append(w.uri, '/'), w.readID()...)
	case Create:
		method = fasthttp.MethodPost
		w.body = appendUserJSON(w.body, w.r)
	case Batch:
		method = fasthttp.MethodPost
		w.uri = append(w.uri, "/batch"...)
		w.body = appendBatchJSON(w.body, w.r, w.s.cfg.BatchSize)
	case Update:
		method = fasthttp.MethodPut
		w.uri = append(append(w.uri, '/'), w.readID()...)
		w.body = appendUpdateJSON(w.body, w.r)
	case List:
		w.uri = append(w.uri, "?limit="...)
		w.uri = strconv.AppendInt(w.uri, int64(w.s.cfg.ListLimit), 10)
		if len(w.page) > 0 {
			w.uri = append(w.uri, "&page_state="...)
			w.uri = appendQueryEscape(w.uri, w.page)
		}
	case Delete:
		method = fasthttp.MethodDelete
		id, err := w.deleteID()
		if err != nil {
			return i, err
		}
		w.uri = append(append(w.uri, '/'), id...)
	}
	req.SetRequestURIBytes(w.uri)
	req.Header.SetMethod(method)
	if len(w.body) > 0 {
		req.SetBodyRaw(w.body)
		req.Header.SetContentType("application/json")
	}
	applyHeaders(req, w.s.cfg)
	return i, nil
}

func (w *apiWorker) readID() string {
	return w.s.readIDs[w.r.IntN(len(w.s.readIDs))]
}

// deleteID hands out an id that no other delete will use: first one this
// worker created, then one from the warm-up, then one it creates now (an
// unmeasured refill; Result.Setup counts them).
func (w *apiWorker) deleteID() (string, error) {
	if n := len(w.own); n > 0 {
		id := w.own[n-1]
		w.own = w.own[:n-1]
		return id, nil
	}
	if i := w.s.delNext.Add(1) - 1; i < int64(len(w.s.delIDs)) {
		return w.s.delIDs[i], nil
	}
	ids, err := w.s.createBatch(&w.req, &w.resp, w.r, warmChunk, w.own[:0])
	w.own = ids
	if err != nil || len(w.own) == 0 {
		return "", fmt.Errorf("%w: no ids left to delete and refill failed: %v", errSetup, err)
	}
	// createBatch used the request; next() resets it before building.
	w.req.Reset()
	id := w.own[len(w.own)-1]
	w.own = w.own[:len(w.own)-1]
	return id, nil
}

func (w *apiWorker) do() (int, int, error) {
	if err := w.c.Do(&w.req, &w.resp); err != nil {
		return 0, 0, err
	}
	status := w.resp.StatusCode()
	body := w.resp.Body()
	switch w.op {
	case Create, Batch:
		if w.s.keepOwn && status == fasthttp.StatusCreated && len(w.own) < ownCap {
			w.own = scanIDs(body, w.own)
		}
		if w.s.cfg.Created != nil && status == fasthttp.StatusCreated {
			w.s.cfg.Created(body)
		}
	case List:
		w.page = w.page[:0]
		if status == fasthttp.StatusOK {
			w.page = append(w.page, w.resp.Header.Peek("X-Next-Page-State")...)
		}
	}
	return status, len(body), nil
}

// appendQueryEscape percent-encodes all but RFC 3986's unreserved bytes,
// without url.QueryEscape's string round trip.
func appendQueryEscape(dst, s []byte) []byte {
	const hex = "0123456789ABCDEF"
	for _, c := range s {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', hex[c>>4], hex[c&15])
	}
	return dst
}
