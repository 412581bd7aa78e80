package load

import (
	"maps"
	"strconv"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/userapi/userapi/bench/measure"
)

// Info is what a Result and its Summary share: what was sent where, how
// it went in counts, and what it cost.
type Info struct {
	Labels      map[string]string `json:"labels,omitempty"`
	Mode        string            `json:"mode"`             // "http" or "raw"
	Target      string            `json:"target"`           // URL, or cql://host/keyspace
	Method      string            `json:"method,omitempty"` // plain mode's method
	Scenario    string            `json:"scenario,omitempty"`
	Mix         string            `json:"mix,omitempty"`
	Concurrency int               `json:"concurrency"`
	Threads     int               `json:"threads,omitempty"`
	Rate        float64           `json:"rate,omitempty"`
	KeepAlive   bool              `json:"keepalive"`
	Scheduled   int64             `json:"scheduled,omitempty"`      // rate mode: sends on the schedule
	Unsent      int64             `json:"unsent,omitempty"`         // rate mode: scheduled sends never made
	Setup       int64             `json:"setup_requests,omitempty"` // unmeasured requests: warm-up and id refills
	// On the wire, headers included (HTTP only), and response bodies.
	BytesRead    int64 `json:"bytes_read"`
	BytesWritten int64 `json:"bytes_written"`
	BodyBytes    int64 `json:"body_bytes"`
	Connections  int64 `json:"connections,omitempty"` // opened during the measured phase

	Server *measure.Usage `json:"server,omitempty"` // the watched process, when Load.WatchPID is set
	Client *measure.Usage `json:"client,omitempty"` // loadgen itself: for a raw run, the driver's cost
}

// Result is what one run measured. Histograms hold microseconds.
type Result struct {
	Info
	Start     time.Time
	Elapsed   time.Duration    // the measured phase
	Responses int64            // requests that got an answer, any status
	Status    map[int]int64    // answers by status code
	Errors    map[string]int64 // requests without an answer, by kind (see errorKind)

	// Latency is from the send (or, in rate mode, from the intended send)
	// to the full response, for answered requests only.
	Latency *hdrhistogram.Histogram
	// Service is rate mode's latency from the actual send: the gap between
	// it and Latency is time spent waiting behind a slow server.
	Service *hdrhistogram.Histogram
	Ops     map[string]*OpResult // per operation (one entry outside the mix)

	ServerSoftware string // the first response's Server header
	DocumentPath   string
	DocumentLength int // the first response's body length
}

// OpResult is one operation's share of a run.
type OpResult struct {
	Latency *hdrhistogram.Histogram
	Errors  int64
}

// ErrorCount is the number of requests that got no answer.
func (r *Result) ErrorCount() int64 {
	var n int64
	for _, v := range r.Errors {
		n += v
	}
	return n
}

// Non2xx counts answers whose status is outside 200-299.
func (r *Result) Non2xx() int64 {
	var n int64
	for code, v := range r.Status {
		if code < 200 || code > 299 {
			n += v
		}
	}
	return n
}

// RequestsPerSec is answered requests over the measured time.
func (r *Result) RequestsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Responses) / r.Elapsed.Seconds()
}

// ReportPercentiles are the points of the latency tables: ab's, plus 99.9
// and 99.99 because a tail is what a user of a fast API notices.
var ReportPercentiles = []float64{50, 66, 75, 80, 90, 95, 98, 99, 99.9, 99.99, 100}

// Percentile is one point of a latency distribution.
type Percentile struct {
	P  float64 `json:"p"`
	Ms float64 `json:"ms"`
}

// LatencySummary condenses a histogram into milliseconds.
type LatencySummary struct {
	Count       int64        `json:"count"`
	Min         float64      `json:"min"`
	Mean        float64      `json:"mean"`
	Stdev       float64      `json:"stdev"`
	Max         float64      `json:"max"`
	Percentiles []Percentile `json:"percentiles"`
}

// At returns the latency at percentile p, or 0 when p was not summarised.
func (l LatencySummary) At(p float64) float64 {
	for _, q := range l.Percentiles {
		if q.P == p {
			return q.Ms
		}
	}
	return 0
}

func usToMs(us int64) float64 { return float64(us) / 1000 }

// PercentileMs is the latency at percentile p (0-100] in milliseconds. The
// histogram answers with the highest value equivalent to the sample, so a
// figure errs on the slow side by at most 0.1%.
func PercentileMs(h *hdrhistogram.Histogram, p float64) float64 {
	if h.TotalCount() == 0 {
		return 0
	}
	if p >= 100 {
		return usToMs(h.Max())
	}
	return usToMs(h.ValueAtQuantile(p))
}

// Summarize condenses h at ReportPercentiles.
func Summarize(h *hdrhistogram.Histogram) LatencySummary {
	s := LatencySummary{Count: h.TotalCount()}
	if s.Count == 0 {
		s.Percentiles = []Percentile{}
		return s
	}
	s.Min = usToMs(h.Min())
	s.Mean = h.Mean() / 1000
	s.Stdev = h.StdDev() / 1000
	s.Max = usToMs(h.Max())
	for _, p := range ReportPercentiles {
		s.Percentiles = append(s.Percentiles, Percentile{P: p, Ms: PercentileMs(h, p)})
	}
	return s
}

// withinStdev is the share of samples within one standard deviation of the
// mean, wrk's "+/- Stdev" column.
func withinStdev(h *hdrhistogram.Histogram) float64 {
	total := h.TotalCount()
	if total == 0 {
		return 0
	}
	mean, sd := h.Mean(), h.StdDev()
	lo, hi := mean-sd, mean+sd
	var in int64
	for _, b := range h.Distribution() {
		mid := float64(b.From+b.To) / 2
		if b.Count > 0 && mid >= lo && mid <= hi {
			in += b.Count
		}
	}
	return 100 * float64(in) / float64(total)
}

// Summary is a run's JSON form, and what `loadgen report` reads back.
type Summary struct {
	Info
	Start          time.Time            `json:"start"`
	ElapsedSeconds float64              `json:"elapsed_seconds"`
	Requests       int64                `json:"requests"`
	RequestsPerSec float64              `json:"requests_per_sec"`
	Status         map[string]int64     `json:"status"`
	Non2xx         int64                `json:"non_2xx"`
	Errors         int64                `json:"errors"`
	ErrorsByKind   map[string]int64     `json:"errors_by_kind,omitempty"`
	Latency        LatencySummary       `json:"latency_ms"`
	ServiceLatency *LatencySummary      `json:"service_latency_ms,omitempty"`
	Ops            map[string]OpSummary `json:"ops,omitempty"`
}

// OpSummary is one operation's line in a Summary.
type OpSummary struct {
	Requests int64          `json:"requests"`
	Errors   int64          `json:"errors"`
	Latency  LatencySummary `json:"latency_ms"`
}

// Summary condenses r for JSON.
func (r *Result) Summary() Summary {
	s := Summary{Info: r.Info, Start: r.Start.UTC(), ElapsedSeconds: r.Elapsed.Seconds(), Requests: r.Responses,
		RequestsPerSec: r.RequestsPerSec(), Status: map[string]int64{}, Non2xx: r.Non2xx(), Errors: r.ErrorCount(),
		Latency: Summarize(r.Latency)}
	for code, n := range r.Status {
		s.Status[strconv.Itoa(code)] = n
	}
	if len(r.Errors) > 0 {
		s.ErrorsByKind = maps.Clone(r.Errors)
	}
	if r.Service != nil {
		l := Summarize(r.Service)
		s.ServiceLatency = &l
	}
	if len(r.Ops) > 1 {
		s.Ops = map[string]OpSummary{}
		for name, o := range r.Ops {
			s.Ops[name] = OpSummary{Requests: o.Latency.TotalCount(), Errors: o.Errors, Latency: Summarize(o.Latency)}
		}
	}
	return s
}
