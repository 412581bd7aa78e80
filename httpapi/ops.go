package httpapi

import (
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// health always answers 200: it reports, it does not fail.
func (s *Server) health(ctx *fasthttp.RequestCtx, _ string) {
	connected := s.store.Connected()
	b := acquireBuf()
	if connected {
		b.B = append(b.B, `{"status":"healthy","cassandra_connected":true,"timestamp":`...)
	} else {
		b.B = append(b.B, `{"status":"unhealthy","cassandra_connected":false,"timestamp":`...)
	}
	b.B = appendQuotedTime(b.B, time.Now())
	b.B = append(b.B, '}')
	writeJSON(ctx, fasthttp.StatusOK, b.B)
	releaseBuf(b)
}

// ready tells load balancers whether to send traffic: not while draining,
// not while Cassandra is unreachable.
func (s *Server) ready(ctx *fasthttp.RequestCtx, _ string) {
	switch {
	case s.draining.Load():
		writeDetail(ctx, fasthttp.StatusServiceUnavailable, "Server is draining")
	case !s.store.Connected():
		writeDetail(ctx, fasthttp.StatusServiceUnavailable, "Cassandra is not connected")
	default:
		writeJSON(ctx, fasthttp.StatusOK, []byte(`{"status":"ready"}`))
	}
}

const (
	defaultPerfRequests = 100
	maxPerfRequests     = 1000
)

func (s *Server) performanceAsync(ctx *fasthttp.RequestCtx, route string) {
	s.performance(ctx, route, true)
}

func (s *Server) performanceSync(ctx *fasthttp.RequestCtx, route string) {
	s.performance(ctx, route, false)
}

// performance runs N probe reads, all at once through the engine's pool or
// one after another, within one request deadline. Probes still running at
// the deadline count as unsuccessful. When none succeeds the first error is
// the answer, so an outage shows as 503/504 rather than a 200 of zeros.
func (s *Server) performance(ctx *fasthttp.RequestCtx, route string, concurrent bool) {
	var errs problems
	n := queryInt(ctx.QueryArgs(), "requests", defaultPerfRequests, 1, maxPerfRequests, &errs)
	timeout := requestTimeout(ctx, s.cfg.RequestTimeout, &errs)
	if len(errs) > 0 {
		errs.write(ctx)
		return
	}
	c, cancel := deadline(timeout)
	defer cancel()
	var (
		ok       int
		firstErr error
		mu       sync.Mutex
	)
	note := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if err == nil {
			ok++
		} else if firstErr == nil {
			firstErr = err
		}
	}
	start := time.Now()
	if concurrent {
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() { note(s.store.ProbeRead(c)) })
		}
		wg.Wait()
	} else {
		for range n {
			note(s.store.ProbeRead(c))
		}
	}
	total := time.Since(start)
	if ok == 0 && firstErr != nil {
		s.fail(ctx, route, firstErr)
		return
	}
	if total <= 0 {
		total = time.Nanosecond
	}
	mode := "sync"
	if concurrent {
		mode = "async"
	}
	b := acquireBuf()
	b.B = append(b.B, `{"total_time":`...)
	b.B = appendSeconds(b.B, total)
	b.B = append(b.B, `,"requests":`...)
	b.B = appendInt(b.B, n)
	b.B = append(b.B, `,"successful_requests":`...)
	b.B = appendInt(b.B, ok)
	b.B = append(b.B, `,"avg_time_per_request":`...)
	b.B = appendSeconds(b.B, total/time.Duration(n))
	b.B = append(b.B, `,"requests_per_second":`...)
	b.B = appendFloat(b.B, float64(n)/total.Seconds())
	b.B = append(b.B, `,"mode":"`...)
	b.B = append(b.B, mode...)
	b.B = append(b.B, `"}`...)
	writeJSON(ctx, fasthttp.StatusOK, b.B)
	releaseBuf(b)
}
