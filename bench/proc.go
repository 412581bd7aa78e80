package bench

import (
	"os"

	"github.com/userapi/userapi/internal/proc"
)

// ProcUsage is what a process spent during a run's measured phase: the
// watched server (Result.Server) or loadgen itself (Result.Client).
type ProcUsage struct {
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

// procWatch measures a process across a run's measured phase.
type procWatch struct {
	pid    int // 0: nothing watched
	before proc.Sample
	reset  bool // the peak RSS was reset at the start
}

func watchProc(pid int) (procWatch, error) {
	w := procWatch{pid: pid}
	if pid <= 0 {
		return w, nil
	}
	w.reset = proc.ResetPeakRSS(pid) == nil
	var err error
	w.before, err = proc.Read(pid)
	return w, err
}

// watchSelf measures loadgen itself; its peak RSS is left alone (the
// warm-up's ids are part of what the client holds).
func watchSelf() (procWatch, error) {
	w := procWatch{pid: os.Getpid()}
	var err error
	w.before, err = proc.Read(w.pid)
	return w, err
}

// usage samples the process again and returns its cost over the run
// (nil when nothing is watched).
func (w procWatch) usage(requests int64) (*ProcUsage, error) {
	if w.pid <= 0 {
		return nil, nil
	}
	after, err := proc.Read(w.pid)
	if err != nil {
		return nil, err
	}
	return usage(w.before, after, requests, w.reset), nil
}

// usage turns two samples around a run into a ProcUsage.
func usage(before, after proc.Sample, requests int64, reset bool) *ProcUsage {
	u := &ProcUsage{
		PID:          after.PID,
		CPUSeconds:   after.CPUSeconds - before.CPUSeconds,
		PeakRSSBytes: after.PeakRSSBytes,
		PeakReset:    reset,
		RSSBytes:     after.RSSBytes,
	}
	if requests > 0 {
		u.CPUPerRequestMicros = u.CPUSeconds * 1e6 / float64(requests)
	}
	return u
}

// measured watches the server (pid, when positive) and loadgen itself
// over a measured phase.
type measured struct{ server, client procWatch }

func startMeasure(pid int) (measured, error) {
	var m measured
	var err error
	if m.server, err = watchProc(pid); err != nil {
		return m, err
	}
	m.client, err = watchSelf()
	return m, err
}

// finish fills res.Server and res.Client.
func (m measured) finish(res *Result) error {
	var err error
	if res.Server, err = m.server.usage(res.Responses); err != nil {
		return err
	}
	res.Client, err = m.client.usage(res.Responses)
	return err
}
