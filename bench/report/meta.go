package report

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// WriteMeta records a run's settings, with the machine it ran on, in
// DIR/meta.json and returns them: started, git, machine, kernel and go,
// then the run's own.
func WriteMeta(dir string, settings map[string]string) (map[string]string, error) {
	meta := map[string]string{
		"started": time.Now().UTC().Format(time.RFC3339),
		"git":     gitVersion(),
		"machine": machine(),
		"kernel":  strings.TrimSpace(readFile("/proc/sys/kernel/osrelease")),
		"go":      runtime.Version(),
	}
	for k, v := range settings {
		meta[k] = v
	}
	return meta, WriteJSON(filepath.Join(dir, "meta.json"), meta)
}

// WriteJSON writes v as indented JSON to path.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadJSON reads path into v.
func ReadJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func gitVersion() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	v := strings.TrimSpace(string(out))
	if exec.Command("git", "diff", "--quiet").Run() != nil {
		v += "+dirty"
	}
	return v
}

// machine is "N cores, M GiB, CPU model" from /proc.
func machine() string {
	model, mem := "unknown", "unknown"
	for _, line := range strings.Split(readFile("/proc/cpuinfo"), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			model = strings.TrimSpace(v)
			break
		}
	}
	for _, line := range strings.Split(readFile("/proc/meminfo"), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
				mem = fmt.Sprintf("%.1f GiB", kb/(1<<20))
			}
		}
	}
	return fmt.Sprintf("%d cores, %s, %s", runtime.NumCPU(), mem, model)
}

// Stat is the spread of one figure over a group's runs.
type Stat struct {
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Values []float64 `json:"values"`
}

// NewStat is the spread of v; Values keeps v's order.
func NewStat(v []float64) Stat {
	if len(v) == 0 {
		return Stat{Values: []float64{}}
	}
	s := slices.Sorted(slices.Values(v))
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Stat{Median: m, Min: s[0], Max: s[len(s)-1], Values: v}
}
