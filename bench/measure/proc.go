package measure

import (
	"os"

	"github.com/userapi/userapi/internal/proc"
)

// Usage is what a process spent during a run's measured phase: the
// watched server (load.Result.Server) or loadgen itself (Result.Client).
type Usage struct {
	PID        int     `json:"pid"`
	CPUSeconds float64 `json:"cpu_seconds"` // user + system
	// CPUPerRequestMicros is CPUSeconds over the run's answered requests:
	// for the server, the cost of one request, the number to drive down;
	// for a raw run's client, the driver's cost of one query.
	CPUPerRequestMicros float64 `json:"cpu_us_per_request"`
	// PeakRSSBytes is VmHWM at the end of the run. For the server the
	// mark is reset first where the kernel allows (clear_refs), so it is
	// this run's peak; PeakReset says whether that worked or the figure
	// covers the process's whole life.
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	PeakReset    bool  `json:"peak_reset"`
	RSSBytes     int64 `json:"rss_bytes"`
}

// Watch measures a process across a run's measured phase.
type Watch struct {
	pid    int // 0: nothing watched
	before proc.Sample
	reset  bool // the peak RSS was reset at the start
}

// WatchPID starts watching pid (nothing when pid <= 0), resetting its peak
// RSS mark where the kernel allows.
func WatchPID(pid int) (Watch, error) {
	w := Watch{pid: pid}
	if pid <= 0 {
		return w, nil
	}
	w.reset = proc.ResetPeakRSS(pid) == nil
	var err error
	w.before, err = proc.Read(pid)
	return w, err
}

// WatchSelf measures loadgen itself; its peak RSS is left alone (the
// warm-up's ids are part of what the client holds).
func WatchSelf() (Watch, error) {
	w := Watch{pid: os.Getpid()}
	var err error
	w.before, err = proc.Read(w.pid)
	return w, err
}

// Usage samples the process again and returns its cost over the run
// (nil when nothing is watched).
func (w Watch) Usage(requests int64) (*Usage, error) {
	if w.pid <= 0 {
		return nil, nil
	}
	after, err := proc.Read(w.pid)
	if err != nil {
		return nil, err
	}
	u := &Usage{PID: after.PID, CPUSeconds: after.CPUSeconds - w.before.CPUSeconds,
		PeakRSSBytes: after.PeakRSSBytes, PeakReset: w.reset, RSSBytes: after.RSSBytes}
	if requests > 0 {
		u.CPUPerRequestMicros = u.CPUSeconds * 1e6 / float64(requests)
	}
	return u, nil
}
