package load

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ParseWrk reads the text wrk prints (with --latency) into a Summary, so
// that the suite can set wrk's figures beside loadgen's. Fields wrk does
// not print stay zero.
func ParseWrk(text string) (Summary, error) {
	s := Summary{Info: Info{Mode: "wrk", KeepAlive: true}, Status: map[string]int64{}, Latency: LatencySummary{Percentiles: []Percentile{}}}
	var sawRPS, inDist bool
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "Running ") && strings.Contains(line, " @ "):
			_, s.Target, _ = strings.Cut(line, " @ ")
		case len(f) == 5 && f[1] == "threads" && f[2] == "and":
			s.Threads, _ = strconv.Atoi(f[0])
			s.Concurrency, _ = strconv.Atoi(f[3])
		case len(f) >= 4 && f[0] == "Latency" && !inDist:
			s.Latency.Mean, _ = parseWrkTime(f[1])
			s.Latency.Stdev, _ = parseWrkTime(f[2])
			s.Latency.Max, _ = parseWrkTime(f[3])
		case strings.HasPrefix(line, "Latency Distribution"):
			inDist = true
		case inDist && len(f) == 2 && strings.HasSuffix(f[0], "%"):
			p, err1 := strconv.ParseFloat(strings.TrimSuffix(f[0], "%"), 64)
			ms, err2 := parseWrkTime(f[1])
			if err1 == nil && err2 == nil {
				s.Latency.Percentiles = append(s.Latency.Percentiles, Percentile{P: p, Ms: ms})
				continue
			}
			inDist = false
		case len(f) >= 5 && f[1] == "requests" && f[2] == "in":
			inDist = false
			s.Requests, _ = strconv.ParseInt(f[0], 10, 64)
			ms, _ := parseWrkTime(strings.TrimSuffix(f[3], ","))
			s.ElapsedSeconds = ms / 1000
			if len(f) >= 6 {
				s.BytesRead = parseWrkBytes(f[4])
			}
		case strings.HasPrefix(line, "Non-2xx or 3xx responses:"):
			s.Non2xx, _ = strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(line, "Non-2xx or 3xx responses:")), 10, 64)
		case strings.HasPrefix(line, "Socket errors:"):
			s.ErrorsByKind = map[string]int64{}
			for _, part := range strings.Split(strings.TrimPrefix(line, "Socket errors:"), ",") {
				kv := strings.Fields(part)
				if len(kv) == 2 {
					n, _ := strconv.ParseInt(kv[1], 10, 64)
					s.ErrorsByKind[kv[0]] = n
					s.Errors += n
				}
			}
		case strings.HasPrefix(line, "Requests/sec:"):
			v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(line, "Requests/sec:")), 64)
			if err == nil {
				s.RequestsPerSec, sawRPS = v, true
			}
		default:
			if inDist {
				inDist = false
			}
		}
	}
	if !sawRPS {
		return s, errors.New("wrk output: no Requests/sec line")
	}
	s.Latency.Count = s.Requests
	return s, nil
}

// parseWrkTime reads 512.00us, 1.52ms, 3.02s or 1.50m into milliseconds.
func parseWrkTime(v string) (float64, error) {
	units := []struct {
		suffix string
		ms     float64
	}{{"us", 0.001}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(v, u.suffix); ok {
			f, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, fmt.Errorf("wrk time %q: %w", v, err)
			}
			return f * u.ms, nil
		}
	}
	return 0, fmt.Errorf("wrk time %q: no unit", v)
}

// parseWrkBytes reads 6.99MB (wrk's 1024 steps) into bytes; 0 if unreadable.
func parseWrkBytes(v string) int64 {
	v = strings.TrimSuffix(v, "B")
	mult := 1.0
	for i, u := range []string{"K", "M", "G", "T"} {
		if num, ok := strings.CutSuffix(v, u); ok {
			v, mult = num, math.Pow(1024, float64(i+1))
			break
		}
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0
	}
	return int64(f * mult)
}
