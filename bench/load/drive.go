package load

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// worker sends one kind of load on one connection (or one CQL caller).
// A worker is used by one goroutine only.
type worker interface {
	// next prepares the next request outside the measured time (choosing
	// the operation, building the body, refilling ids) and returns the
	// index of its operation in plan.ops.
	next() (op int, err error)
	// do sends the prepared request and returns an HTTP status (raw mode
	// maps its outcomes onto 200 and 404) and the response body's length.
	do() (status, body int, err error)
}

// plan is what both HTTP and raw runs share: when to stop and how to pace.
type plan struct {
	concurrency int
	requests    int64
	duration    time.Duration
	rate        float64
	// grace is how long after the end of a rate schedule late requests may
	// still be sent; those not sent by then are Unsent.
	grace    time.Duration
	ops      []string
	progress io.Writer
	window   time.Duration
	onWindow func(Window)
}

// Histograms hold microseconds from 1 µs to an hour at 3 significant
// digits: fractional milliseconds stay exact to 0.1%, and a rate run whose
// schedule backs up for minutes still fits.
const (
	histLowest  = 1
	histHighest = int64(time.Hour / time.Microsecond)
	histDigits  = 3
)

func newHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(histLowest, histHighest, histDigits)
}

// shard holds the counts of a few workers behind one mutex. Sharding by
// worker keeps the lock uncontended without giving each of thousands of
// connections its own 180 KB histogram.
type shard struct {
	mu     sync.Mutex
	lat    *hdrhistogram.Histogram
	svc    *hdrhistogram.Histogram
	ops    []*hdrhistogram.Histogram
	opErrs []int64
	status [600]int64
	other  map[int]int64 // statuses outside 0-599
	errs   map[string]int64
	body   int64

	// The current window's counts, when the plan has windows.
	win       *hdrhistogram.Histogram
	winStatus map[int]int64
	winErrs   map[string]int64

	// done and failed feed the progress line without taking mu.
	done   atomic.Int64
	failed atomic.Int64
	_      [64]byte // keep neighbouring shards' counters off one cache line
}

type driver struct {
	plan
	start     time.Time
	interval  float64 // ns between scheduled sends in rate mode
	scheduled int64
	hardStop  time.Time
	next      atomic.Int64
	stop      atomic.Bool
	shards    []*shard
}

// run starts plan.concurrency workers made by newWorker, drives them until
// the plan is done or ctx ends, and merges their counts. A ctx that ends is
// not an error: the run stops early and reports what it measured.
func (p plan) run(ctx context.Context, newWorker func(i int) (worker, error)) (*Result, error) {
	workers := make([]worker, p.concurrency)
	for i := range workers {
		w, err := newWorker(i)
		if err != nil {
			return nil, err
		}
		workers[i] = w
	}
	d := &driver{plan: p}
	nshards := min(p.concurrency, 4*runtime.GOMAXPROCS(0))
	d.shards = make([]*shard, nshards)
	for i := range d.shards {
		sh := &shard{lat: newHist(), errs: map[string]int64{}, opErrs: make([]int64, len(p.ops))}
		if p.rate > 0 {
			sh.svc = newHist()
		}
		if p.windowed() {
			sh.win, sh.winStatus, sh.winErrs = newHist(), map[int]int64{}, map[string]int64{}
		}
		if len(p.ops) > 1 {
			sh.ops = make([]*hdrhistogram.Histogram, len(p.ops))
			for j := range sh.ops {
				sh.ops[j] = newHist()
			}
		}
		d.shards[i] = sh
	}
	if p.rate > 0 {
		d.interval = 1e9 / p.rate
		d.scheduled = scheduledCount(p.rate, p.requests, p.duration)
	}

	// The watcher turns ctx's end into the flag the loops poll; it exits
	// when the run ends, whichever comes first.
	finished := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			d.stop.Store(true)
		case <-finished:
		}
	}()

	var progressDone chan struct{}
	d.start = time.Now()
	if p.rate > 0 {
		d.hardStop = d.start.Add(time.Duration(float64(d.scheduled)*d.interval) + p.grace)
	}
	if p.progress != nil {
		progressDone = make(chan struct{})
		go d.showProgress(finished, progressDone)
	}
	var windowsDone chan struct{}
	if p.windowed() {
		windowsDone = make(chan struct{})
		go d.cutWindows(finished, windowsDone)
	}
	var wg sync.WaitGroup
	for i, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.loop(w, d.shards[i%len(d.shards)])
		}()
	}
	wg.Wait()
	elapsed := time.Since(d.start)
	close(finished)
	if progressDone != nil {
		<-progressDone
	}
	if windowsDone != nil {
		<-windowsDone
	}
	return d.result(elapsed), nil
}

// scheduledCount is how many sends a rate schedule holds: those whose
// intended time falls before the duration, capped by the request count.
func scheduledCount(rate float64, requests int64, duration time.Duration) int64 {
	n := int64(-1)
	if duration > 0 {
		interval := 1e9 / rate
		// The count of i >= 0 with i*interval < duration.
		n = int64(float64(duration) / interval)
		if float64(n)*interval < float64(duration) {
			n++
		}
	}
	if requests > 0 && (n < 0 || requests < n) {
		n = requests
	}
	return n
}

func (d *driver) loop(w worker, sh *shard) {
	for !d.stop.Load() {
		var intended time.Time
		switch {
		case d.rate > 0:
			i := d.next.Add(1) - 1
			if i >= d.scheduled {
				return
			}
			intended = d.start.Add(time.Duration(float64(i) * d.interval))
		case d.requests > 0:
			if d.next.Add(1) > d.requests {
				return
			}
		}
		op, err := w.next()
		if err != nil {
			d.record(sh, op, 0, 0, 0, 0, err)
			continue
		}
		late := false
		if d.rate > 0 {
			var ok bool
			if late, ok = d.waitUntil(intended); !ok {
				return
			}
		}
		t0 := time.Now()
		if d.rate == 0 && d.duration > 0 && t0.Sub(d.start) >= d.duration {
			return
		}
		status, body, err := w.do()
		t1 := time.Now()
		// A worker that reached its slot late was held up by earlier
		// answers: the wait is the server's, and counting from the
		// intended time is what exposes it. A worker that slept and woke
		// a little after its slot lost only timer slack, which is ours.
		from := t0
		if late {
			from = intended
		}
		d.record(sh, op, status, body, t1.Sub(from), t1.Sub(t0), err)
	}
}

// waitUntil sleeps until the intended send time in short steps so that a
// stop is noticed. It reports whether the slot had already passed when the
// worker got to it, and false for ok when the run is over, including when
// the schedule is so far behind that the grace period has passed.
func (d *driver) waitUntil(t time.Time) (late, ok bool) {
	late = true
	for {
		now := time.Now()
		if d.stop.Load() || now.After(d.hardStop) {
			return late, false
		}
		wait := t.Sub(now)
		if wait <= 0 {
			return late, true
		}
		late = false
		time.Sleep(min(wait, 50*time.Millisecond))
	}
}

func micros(d time.Duration) int64 {
	us := int64(d / time.Microsecond)
	return max(histLowest, min(us, histHighest))
}

func (d *driver) record(sh *shard, op, status, body int, lat, svc time.Duration, err error) {
	sh.mu.Lock()
	if err != nil {
		kind := errorKind(err)
		sh.errs[kind]++
		sh.opErrs[op]++
		if sh.winErrs != nil {
			sh.winErrs[kind]++
		}
	} else {
		if sh.win != nil {
			_ = sh.win.RecordValue(micros(lat))
			sh.winStatus[status]++
		}
		us := micros(lat)
		_ = sh.lat.RecordValue(us) // cannot fail: micros clamps to the range
		if sh.svc != nil {
			_ = sh.svc.RecordValue(micros(svc))
		}
		if sh.ops != nil {
			_ = sh.ops[op].RecordValue(us)
		}
		if status >= 0 && status < len(sh.status) {
			sh.status[status]++
		} else {
			if sh.other == nil {
				sh.other = map[int]int64{}
			}
			sh.other[status]++
		}
		sh.body += int64(body)
	}
	sh.mu.Unlock()
	sh.done.Add(1)
	if err != nil {
		sh.failed.Add(1)
	}
}

// progressAfter is how long a run goes before the progress line appears:
// short runs print nothing but their report.
var progressAfter = 3 * time.Second // a variable so a test can shorten it

func (d *driver) showProgress(finished <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last int64
	shown := false
	for {
		select {
		case <-finished:
			if shown {
				fmt.Fprint(d.progress, "\r\033[K")
			}
			return
		case now := <-tick.C:
			var n, failed int64
			for _, sh := range d.shards {
				n += sh.done.Load()
				failed += sh.failed.Load()
			}
			elapsed := now.Sub(d.start)
			if elapsed >= progressAfter {
				line := fmt.Sprintf("%6.0fs  %d requests  %d/s now  %d errors", elapsed.Seconds(), n, n-last, failed)
				if d.duration > 0 {
					line += fmt.Sprintf("  (%.0f%% of %s)", 100*elapsed.Seconds()/d.duration.Seconds(), d.duration)
				} else if d.requests > 0 {
					line += fmt.Sprintf("  (%.0f%% of %d)", 100*float64(n)/float64(d.requests), d.requests)
				}
				fmt.Fprint(d.progress, "\r\033[K"+line)
				shown = true
			}
			last = n
		}
	}
}

func (d *driver) result(elapsed time.Duration) *Result {
	r := &Result{Info: Info{Scheduled: d.scheduled}, Start: d.start, Elapsed: elapsed, Latency: newHist(),
		Status: map[int]int64{}, Errors: map[string]int64{}}
	if d.rate > 0 {
		r.Service = newHist()
	}
	if len(d.ops) > 0 {
		r.Ops = map[string]*OpResult{}
		for _, name := range d.ops {
			r.Ops[name] = &OpResult{Latency: newHist()}
		}
	}
	for _, sh := range d.shards {
		r.Latency.Merge(sh.lat)
		if sh.svc != nil {
			r.Service.Merge(sh.svc)
		}
		for i, name := range d.ops {
			o := r.Ops[name]
			if sh.ops != nil {
				o.Latency.Merge(sh.ops[i])
			}
			o.Errors += sh.opErrs[i]
		}
		for code, n := range sh.status {
			if n > 0 {
				r.Status[code] += n
			}
		}
		for code, n := range sh.other {
			r.Status[code] += n
		}
		for k, n := range sh.errs {
			r.Errors[k] += n
		}
		r.BodyBytes += sh.body
	}
	if len(d.ops) == 1 {
		r.Ops[d.ops[0]].Latency.Merge(r.Latency)
	}
	for _, n := range r.Status {
		r.Responses += n
	}
	if d.rate > 0 {
		r.Unsent = max(0, d.scheduled-r.Responses-r.ErrorCount())
	}
	return r
}
