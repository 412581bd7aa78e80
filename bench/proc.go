package bench

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
)

// ProcUsage is what a watched process (the server) spent during a run.
type ProcUsage struct {
	PID        int     `json:"pid"`
	CPUSeconds float64 `json:"cpu_seconds"` // user + system
	// CPUPerRequestMicros is CPUSeconds over the run's answered requests:
	// the cost of one request to the server, the number to drive down.
	CPUPerRequestMicros float64 `json:"cpu_us_per_request"`
	// PeakRSSBytes is VmHWM at the end of the run. Run resets the mark
	// first where the kernel allows (clear_refs), so it is this run's peak;
	// PeakReset says whether that worked or the figure covers the process's
	// whole life.
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	PeakReset    bool  `json:"peak_reset"`
	RSSBytes     int64 `json:"rss_bytes"`
}

// ProcSample is one reading of a process's counters.
type ProcSample struct {
	PID          int
	CPUSeconds   float64
	RSSBytes     int64
	PeakRSSBytes int64
}

// ReadProc reads pid's CPU time from /proc/PID/stat and its resident and
// peak resident memory from /proc/PID/status.
func ReadProc(pid int) (ProcSample, error) {
	s := ProcSample{PID: pid}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, fmt.Errorf("read cpu time of pid %d: %w", pid, err)
	}
	// The command name in field 2 may hold spaces and parentheses; the
	// fields we want are counted from the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s, fmt.Errorf("parse /proc/%d/stat: no command name", pid)
	}
	fields := strings.Fields(string(stat[i+1:]))
	// After ')': state(3) ... utime is field 14 and stime 15 of the whole
	// line, so indexes 11 and 12 here.
	if len(fields) < 13 {
		return s, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(fields))
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return s, fmt.Errorf("parse /proc/%d/stat: utime %q stime %q", pid, fields[11], fields[12])
	}
	s.CPUSeconds = float64(utime+stime) / float64(clockTicks())
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, fmt.Errorf("read memory of pid %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch k {
		case "VmHWM":
			s.PeakRSSBytes = parseKB(v)
		case "VmRSS":
			s.RSSBytes = parseKB(v)
		}
	}
	return s, nil
}

func parseKB(v string) int64 {
	f := strings.Fields(v)
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.ParseInt(f[0], 10, 64)
	return n * 1024
}

// ResetPeakRSS sets pid's VmHWM back to its current RSS (Linux 4.0+,
// needs permission to write /proc/PID/clear_refs).
func ResetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// procWatch measures a watched process (the server) across a run.
type procWatch struct {
	pid    int // 0: nothing watched
	before ProcSample
	reset  bool // the peak RSS was reset at the start
}

func watchProc(pid int) (procWatch, error) {
	w := procWatch{pid: pid}
	if pid <= 0 {
		return w, nil
	}
	w.reset = ResetPeakRSS(pid) == nil
	var err error
	w.before, err = ReadProc(pid)
	return w, err
}

// usage samples the process again and returns its cost over the run
// (nil when nothing is watched).
func (w procWatch) usage(requests int64) (*ProcUsage, error) {
	if w.pid <= 0 {
		return nil, nil
	}
	after, err := ReadProc(w.pid)
	if err != nil {
		return nil, err
	}
	return usage(w.before, after, requests, w.reset), nil
}

// usage turns two samples around a run into a ProcUsage.
func usage(before, after ProcSample, requests int64, reset bool) *ProcUsage {
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

var clockTicks = sync.OnceValue(func() int64 {
	// The kernel passes the tick rate to every process in the auxiliary
	// vector (AT_CLKTCK); reading it avoids cgo's sysconf. 100 is what
	// Linux uses nearly everywhere, and the fallback.
	const atClkTck = 17
	b, err := os.ReadFile("/proc/self/auxv")
	if err == nil {
		for i := 0; i+16 <= len(b); i += 16 {
			k := binary.NativeEndian.Uint64(b[i:])
			v := binary.NativeEndian.Uint64(b[i+8:])
			if k == atClkTck && v > 0 {
				return int64(v)
			}
		}
	}
	return 100
})
