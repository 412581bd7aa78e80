package load

import (
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Window is one interval of a long run (Load.Window): what a soak plots
// over time. The callback owns it.
type Window struct {
	Index      int // 0 for the first
	Start, End time.Time
	Latency    *hdrhistogram.Histogram // answered requests, µs, as Result.Latency
	Status     map[int]int64
	Errors     map[string]int64 // requests without an answer, by kind
}

// Responses is the number of answered requests in the window.
func (w Window) Responses() int64 { return w.Latency.TotalCount() }

// Non2xx counts the window's answers outside 200-299.
func (w Window) Non2xx() int64 {
	var n int64
	for code, v := range w.Status {
		if code < 200 || code > 299 {
			n += v
		}
	}
	return n
}

func (p plan) windowed() bool { return p.window > 0 && p.onWindow != nil }

// cutWindows hands the counts of each interval to plan.onWindow until the
// run finishes, then the last partial interval; it closes done after the
// last call, so Run returns only when every window has been delivered.
func (d *driver) cutWindows(finished <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(d.window)
	defer tick.Stop()
	start := d.start
	for i := 0; ; i++ {
		select {
		case now := <-tick.C:
			d.onWindow(d.takeWindow(i, start, now))
			start = now
		case <-finished:
			d.onWindow(d.takeWindow(i, start, time.Now()))
			return
		}
	}
}

// takeWindow moves every shard's window counts into one Window.
func (d *driver) takeWindow(i int, start, end time.Time) Window {
	w := Window{Index: i, Start: start, End: end, Latency: newHist(), Status: map[int]int64{}, Errors: map[string]int64{}}
	for _, sh := range d.shards {
		sh.mu.Lock()
		w.Latency.Merge(sh.win)
		sh.win.Reset()
		for code, n := range sh.winStatus {
			w.Status[code] += n
		}
		clear(sh.winStatus)
		for k, n := range sh.winErrs {
			w.Errors[k] += n
		}
		clear(sh.winErrs)
		sh.mu.Unlock()
	}
	return w
}
