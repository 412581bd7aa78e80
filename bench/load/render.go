package load

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Format names a rendering of a Result.
type Format string

// The formats WriteReport knows.
const (
	FormatAB   Format = "ab"
	FormatWrk  Format = "wrk"
	FormatJSON Format = "json"
)

// WriteReport renders r in format f.
func WriteReport(w io.Writer, r *Result, f Format) error {
	switch f {
	case FormatAB:
		return WriteAB(w, r)
	case FormatWrk:
		return WriteWrk(w, r)
	case FormatJSON:
		return WriteJSON(w, r)
	}
	return FieldError("Format", "unknown format %q (want ab, wrk or json)", f)
}

// WriteJSON writes r's Summary as indented JSON.
func WriteJSON(w io.Writer, r *Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r.Summary())
}

// WriteAB writes the report block ApacheBench prints, with two changes:
// times are in fractional milliseconds rather than whole ones, and the
// percentage table adds 99.9% and 99.99%. Lines ab lacks (status codes,
// error kinds, the rate schedule, per-operation latency) follow its block.
func WriteAB(w io.Writer, r *Result) error {
	b := &strings.Builder{}
	host, port := targetHostPort(r.Target)
	secs := r.Elapsed.Seconds()
	done := r.Responses + r.ErrorCount()

	if r.Mode == "raw" {
		fmt.Fprintf(b, "Server Software:        Apache Cassandra (CQL, no HTTP)\n")
	} else {
		fmt.Fprintf(b, "Server Software:        %s\n", r.ServerSoftware)
	}
	fmt.Fprintf(b, "Server Hostname:        %s\n", host)
	fmt.Fprintf(b, "Server Port:            %s\n\n", port)
	switch {
	case r.Mode == "raw":
		fmt.Fprintf(b, "Document Path:          (scenario %s: CQL by partition key)\n", r.Scenario)
		fmt.Fprintf(b, "Document Length:        (rows)\n\n")
	case r.Scenario != "":
		fmt.Fprintf(b, "Document Path:          (scenario %s)\n", scenarioLabel(r))
		fmt.Fprintf(b, "Document Length:        (varies; %d bytes in all)\n\n", r.BodyBytes)
	default:
		fmt.Fprintf(b, "Document Path:          %s\n", r.DocumentPath)
		fmt.Fprintf(b, "Document Length:        %d bytes\n\n", r.DocumentLength)
	}
	fmt.Fprintf(b, "Concurrency Level:      %d\n", r.Concurrency)
	fmt.Fprintf(b, "Time taken for tests:   %.3f seconds\n", secs)
	fmt.Fprintf(b, "Complete requests:      %d\n", r.Responses)
	fmt.Fprintf(b, "Failed requests:        %d\n", r.ErrorCount())
	if r.ErrorCount() > 0 {
		e := r.Errors
		fmt.Fprintf(b, "   (Connect: %d, Receive: %d, Length: 0, Exceptions: %d)\n",
			e[ErrKindConnect], e[ErrKindRead]+e[ErrKindTimeout], r.ErrorCount()-e[ErrKindConnect]-e[ErrKindRead]-e[ErrKindTimeout])
	}
	if n := r.Non2xx(); n > 0 {
		fmt.Fprintf(b, "Non-2xx responses:      %d\n", n)
	}
	if r.KeepAlive && r.Mode != "raw" {
		fmt.Fprintf(b, "Keep-Alive requests:    %d\n", max(0, r.Responses-r.Connections))
	}
	if r.Mode != "raw" {
		fmt.Fprintf(b, "Total transferred:      %d bytes\n", r.BytesRead)
		if r.Method == "POST" || r.Method == "PUT" || r.Scenario != "" {
			fmt.Fprintf(b, "Total body sent:        %d\n", r.BytesWritten)
		}
		fmt.Fprintf(b, "HTML transferred:       %d bytes\n", r.BodyBytes)
	}
	rps, perReq, perReqAll := 0.0, 0.0, 0.0
	if secs > 0 && done > 0 {
		rps = float64(r.Responses) / secs
		perReq = float64(r.Concurrency) * secs * 1000 / float64(done)
		perReqAll = secs * 1000 / float64(done)
	}
	fmt.Fprintf(b, "Requests per second:    %.2f [#/sec] (mean)\n", rps)
	fmt.Fprintf(b, "Time per request:       %.3f [ms] (mean)\n", perReq)
	fmt.Fprintf(b, "Time per request:       %.3f [ms] (mean, across all concurrent requests)\n", perReqAll)
	if r.Mode != "raw" && secs > 0 {
		fmt.Fprintf(b, "Transfer rate:          %.2f [Kbytes/sec] received\n", float64(r.BytesRead)/1024/secs)
		fmt.Fprintf(b, "                        %.2f kb/s sent\n", float64(r.BytesWritten)/1024/secs)
		fmt.Fprintf(b, "                        %.2f kb/s total\n", float64(r.BytesRead+r.BytesWritten)/1024/secs)
	}

	l := Summarize(r.Latency)
	fmt.Fprintf(b, "\nConnection Times (ms)\n")
	fmt.Fprintf(b, "              min    mean[+/-sd]  median      max\n")
	fmt.Fprintf(b, "Total:    %7.3f %7.3f %6.3f %7.3f %8.3f\n", l.Min, l.Mean, l.Stdev, l.At(50), l.Max)
	if r.Rate > 0 {
		fmt.Fprintf(b, "(from each request's intended send time at %.0f/s; see below)\n", r.Rate)
	}

	fmt.Fprintf(b, "\nPercentage of the requests served within a certain time (ms)\n")
	for _, p := range l.Percentiles {
		label := strconv.FormatFloat(p.P, 'f', -1, 64) + "%"
		if p.P == 100 {
			fmt.Fprintf(b, " %6s %10.3f (longest request)\n", label, p.Ms)
			continue
		}
		fmt.Fprintf(b, " %6s %10.3f\n", label, p.Ms)
	}
	writeExtras(b, r)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeExtras appends what neither ab nor wrk show: every status, every
// error kind, the rate schedule and each operation of a mix.
func writeExtras(b *strings.Builder, r *Result) {
	if len(r.Status) > 0 {
		fmt.Fprintf(b, "\nStatus codes:           %s\n", joinSorted(r.Status, "%d: %d"))
	}
	if len(r.Errors) > 0 {
		fmt.Fprintf(b, "Errors:                 %s\n", joinSorted(r.Errors, "%s %d"))
	}
	if r.Rate > 0 {
		fmt.Fprintf(b, "Schedule:               %.2f req/s, %d scheduled, %d unsent\n", r.Rate, r.Scheduled, r.Unsent)
		if r.Service != nil {
			s := Summarize(r.Service)
			fmt.Fprintf(b, "Service time (ms):      p50 %.3f, p99 %.3f, p99.9 %.3f (from the actual send; the gap to the table above is queueing)\n",
				s.At(50), s.At(99), s.At(99.9))
		}
	}
	if r.Setup > 0 {
		fmt.Fprintf(b, "Unmeasured requests:    %d (warm-up and id refills)\n", r.Setup)
	}
	if r.Server != nil {
		fmt.Fprintf(b, "Server (pid %d):     %.3f CPU s, %.1f µs CPU/request, peak RSS %.1f MiB\n",
			r.Server.PID, r.Server.CPUSeconds, r.Server.CPUPerRequestMicros, float64(r.Server.PeakRSSBytes)/(1<<20))
	}
	if len(r.Ops) > 1 {
		fmt.Fprintf(b, "\nPer operation (ms)      requests   errors      p50      p90      p99    p99.9\n")
		for _, n := range slices.Sorted(maps.Keys(r.Ops)) {
			o := r.Ops[n]
			s := Summarize(o.Latency)
			fmt.Fprintf(b, "  %-20s %10d %8d %8.3f %8.3f %8.3f %8.3f\n", n, s.Count, o.Errors, s.At(50), s.At(90), s.At(99), s.At(99.9))
		}
	}
}

// joinSorted lists m's entries in key order, each as format renders key
// and count.
func joinSorted[K cmp.Ordered](m map[K]int64, format string) string {
	parts := []string{}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf(format, k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func scenarioLabel(r *Result) string {
	if r.Mix != "" {
		return r.Scenario + " " + r.Mix
	}
	return r.Scenario
}

func targetHostPort(target string) (string, string) {
	u, err := url.Parse(target)
	if err != nil {
		return target, ""
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		host = u.Host
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return host, port
}

// WriteWrk writes wrk's summary: the thread-stats latency row, the
// `Latency Distribution` of wrk --latency (plus 99.9%), the totals and the
// `Requests/sec:` and `Transfer/sec:` lines.
func WriteWrk(w io.Writer, r *Result) error {
	b := &strings.Builder{}
	l := Summarize(r.Latency)
	threads := cmp.Or(r.Threads, 1)
	fmt.Fprintf(b, "Running %s test @ %s\n", wrkTime(r.Elapsed.Seconds()*1e6), r.Target)
	fmt.Fprintf(b, "  %d threads and %d connections\n", threads, r.Concurrency)
	fmt.Fprintf(b, "  Thread Stats   Avg      Stdev     Max   +/- Stdev\n")
	fmt.Fprintf(b, "    Latency %9s %9s %9s %8.2f%%\n",
		wrkTime(l.Mean*1000), wrkTime(l.Stdev*1000), wrkTime(l.Max*1000), withinStdev(r.Latency))
	fmt.Fprintf(b, "  Latency Distribution\n")
	for _, p := range []float64{50, 75, 90, 99, 99.9} {
		label := strconv.FormatFloat(p, 'f', -1, 64) + "%"
		fmt.Fprintf(b, "  %5s %9s\n", label, wrkTime(PercentileMs(r.Latency, p)*1000))
	}
	fmt.Fprintf(b, "  %d requests in %s, %sB read\n", r.Responses, wrkTime(r.Elapsed.Seconds()*1e6), wrkBinary(float64(r.BytesRead)))
	var over399 int64
	for code, n := range r.Status {
		if code > 399 {
			over399 += n
		}
	}
	if over399 > 0 {
		fmt.Fprintf(b, "  Non-2xx or 3xx responses: %d\n", over399)
	}
	if n := r.ErrorCount(); n > 0 {
		// wrk has no column for other failures; they join write.
		e := r.Errors
		fmt.Fprintf(b, "  Socket errors: connect %d, read %d, write %d, timeout %d\n",
			e[ErrKindConnect], e[ErrKindRead], n-e[ErrKindConnect]-e[ErrKindRead]-e[ErrKindTimeout], e[ErrKindTimeout])
	}
	secs := r.Elapsed.Seconds()
	if secs <= 0 {
		secs = 1
	}
	fmt.Fprintf(b, "Requests/sec: %9.2f\n", float64(r.Responses)/secs)
	fmt.Fprintf(b, "Transfer/sec: %10sB\n", wrkBinary(float64(r.BytesRead)/secs))
	writeExtras(b, r)
	_, err := io.WriteString(w, b.String())
	return err
}

// wrkTime formats microseconds as wrk does: 2 decimals in us, ms or s.
func wrkTime(us float64) string {
	switch {
	case us < 1000:
		return fmt.Sprintf("%.2fus", us)
	case us < 1e6:
		return fmt.Sprintf("%.2fms", us/1000)
	case us < 60e6:
		return fmt.Sprintf("%.2fs", us/1e6)
	default:
		return fmt.Sprintf("%.2fm", us/60e6)
	}
}

// wrkBinary formats bytes in 1024 steps with wrk's unit letters; the
// caller appends "B".
func wrkBinary(n float64) string {
	units := []string{"", "K", "M", "G", "T"}
	i := 0
	for n >= 1024 && i < len(units)-1 {
		n /= 1024
		i++
	}
	return fmt.Sprintf("%.2f%s", n, units[i])
}
