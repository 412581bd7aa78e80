package proc

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Sample is one reading of a process's counters.
type Sample struct {
	PID          int
	CPUSeconds   float64 // user + system, since the process started
	RSSBytes     int64   // VmRSS
	PeakRSSBytes int64   // VmHWM
}

// Read reads pid's CPU time from /proc/PID/stat and its resident and peak
// resident memory from /proc/PID/status.
func Read(pid int) (Sample, error) {
	s := Sample{PID: pid}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, fmt.Errorf("read cpu time of pid %d: %w", pid, err)
	}
	if s.CPUSeconds, err = parseStat(stat); err != nil {
		return s, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
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

// parseStat returns utime+stime in seconds from a /proc/PID/stat line.
func parseStat(stat []byte) (float64, error) {
	// The command name in field 2 may hold spaces and parentheses; the
	// fields we want are counted from the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("no command name")
	}
	fields := strings.Fields(string(stat[i+1:]))
	// After ')': state(3) ... utime is field 14 and stime 15 of the whole
	// line, so indexes 11 and 12 here.
	if len(fields) < 13 {
		return 0, fmt.Errorf("%d fields", len(fields))
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("utime %q stime %q", fields[11], fields[12])
	}
	return float64(utime+stime) / float64(clockTicks()), nil
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
