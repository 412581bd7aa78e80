package measure

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/userapi/userapi/internal/proc"
)

// ServerSample is one reading of the server from outside: its /metrics
// (the Go runtime families it exposes) and /proc.
type ServerSample struct {
	Time           time.Time `json:"time"`
	RSSBytes       int64     `json:"rss_bytes"`        // /proc/PID/status VmRSS
	HeapInuseBytes float64   `json:"heap_inuse_bytes"` // go_memstats_heap_inuse_bytes
	HeapAllocBytes float64   `json:"heap_alloc_bytes"` // go_memstats_heap_alloc_bytes
	Goroutines     float64   `json:"goroutines"`       // go_goroutines
	GCCount        float64   `json:"gc_count"`         // go_gc_duration_seconds_count, cumulative
	GCPauseSeconds float64   `json:"gc_pause_seconds"` // go_gc_duration_seconds_sum, cumulative
	// GCPauseBuckets is go_gc_pauses_seconds's cumulative histogram
	// (upper bound -> count): two samples give the longest pause between.
	GCPauseBuckets map[float64]float64 `json:"-"`
	HTTPConns      int                 `json:"http_conns"` // established TCP on the server's HTTP port
	CQLConns       int                 `json:"cql_conns"`  // established TCP to port 9042
}

// Probe reads a server's /metrics and /proc entries.
type Probe struct {
	pid      int
	url      string // base URL
	httpPort int
	client   *http.Client
}

func NewProbe(pid int, base string) (*Probe, error) {
	i := strings.LastIndexByte(base, ':')
	port, err := strconv.Atoi(strings.TrimRight(base[i+1:], "/"))
	if i < 0 || err != nil {
		return nil, fmt.Errorf("no port in %s", base)
	}
	// No keep-alive: the probe's own connection must not count as the
	// server's, nor hold a goroutine there between samples.
	return &Probe{pid: pid, url: strings.TrimRight(base, "/"), httpPort: port,
		client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}}, nil
}

func (p *Probe) Sample(ctx context.Context) (ServerSample, error) {
	s := ServerSample{Time: time.Now()}
	ps, err := proc.Read(p.pid)
	if err != nil {
		return s, err
	}
	s.RSSBytes = ps.RSSBytes
	fams, err := p.metrics(ctx)
	if err != nil {
		return s, err
	}
	gauge := func(name string) float64 {
		v, _ := value(fams, name)
		return v
	}
	s.HeapInuseBytes = gauge("go_memstats_heap_inuse_bytes")
	s.HeapAllocBytes = gauge("go_memstats_heap_alloc_bytes")
	s.Goroutines = gauge("go_goroutines")
	if f := fams["go_gc_duration_seconds"]; f != nil && len(f.Metric) > 0 && f.Metric[0].Summary != nil {
		s.GCCount = float64(f.Metric[0].Summary.GetSampleCount())
		s.GCPauseSeconds = f.Metric[0].Summary.GetSampleSum()
	}
	if f := fams["go_gc_pauses_seconds"]; f != nil && len(f.Metric) > 0 && f.Metric[0].Histogram != nil {
		s.GCPauseBuckets = map[float64]float64{}
		for _, b := range f.Metric[0].Histogram.Bucket {
			s.GCPauseBuckets[b.GetUpperBound()] = float64(b.GetCumulativeCount())
		}
	}
	s.HTTPConns, s.CQLConns, err = tcpConns(p.pid, p.httpPort, 9042)
	return s, err
}

// Gauge reads one series of the server's /metrics, by family name and,
// when the family has several series, the first; ok is false when the
// server does not expose it.
func (p *Probe) Gauge(ctx context.Context, family string) (v float64, ok bool, err error) {
	fams, err := p.metrics(ctx)
	if err != nil {
		return 0, false, err
	}
	v, ok = value(fams, family)
	return v, ok, nil
}

// value is the first series of family, a gauge, counter or untyped.
func value(fams map[string]*dto.MetricFamily, family string) (float64, bool) {
	f := fams[family]
	if f == nil || len(f.Metric) == 0 {
		return 0, false
	}
	switch m := f.Metric[0]; {
	case m.Gauge != nil:
		return m.Gauge.GetValue(), true
	case m.Counter != nil:
		return m.Counter.GetValue(), true
	case m.Untyped != nil:
		return m.Untyped.GetValue(), true
	}
	return 0, false
}

func (p *Probe) metrics(ctx context.Context) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s/metrics: %w", p.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s/metrics: %s", p.url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parse %s/metrics: %w", p.url, err)
	}
	return fams, nil
}

// MaxPauseBetween is the upper bound of the longest GC pause between two
// samples' pause histograms, in seconds; 0 when no GC ran.
func MaxPauseBetween(a, b ServerSample) float64 {
	bounds := slices.Sorted(maps.Keys(b.GCPauseBuckets))
	longest, below := 0.0, 0.0
	for _, le := range bounds {
		grew := b.GCPauseBuckets[le] - a.GCPauseBuckets[le]
		if grew > below && !math.IsInf(le, 1) {
			longest = le // a pause landed in this bucket
		}
		below = grew
	}
	return longest
}

// tcpConns counts pid's established TCP connections whose local port is
// localPort (clients of its HTTP listener) and whose remote port is
// remotePort (its Cassandra connections), from /proc/PID/fd and
// /proc/net/tcp{,6}.
func tcpConns(pid, localPort, remotePort int) (local, remote int, err error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("list sockets of pid %d: %w", pid, err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(target, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] = true
		}
	}
	for _, table := range []string{"tcp", "tcp6"} {
		f, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local_address rem_address st ... inode (field 9)
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "01" || !inodes[fields[9]] { // 01: ESTABLISHED
				continue
			}
			if hexPort(fields[1]) == localPort {
				local++
			}
			if hexPort(fields[2]) == remotePort {
				remote++
			}
		}
		f.Close()
	}
	return local, remote, nil
}

func hexPort(addr string) int {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return -1
	}
	n, err := strconv.ParseInt(addr[i+1:], 16, 32)
	if err != nil {
		return -1
	}
	return int(n)
}
