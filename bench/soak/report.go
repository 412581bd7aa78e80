package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/userapi/userapi/bench/report"
	"golang.org/x/sync/errgroup"
	"gonum.org/v1/plot/plotter"
)

// splitCreated returns each user of a 201 body, copied: POST /users
// answers one user, POST /users/batch {"created": [...]}.
func splitCreated(body []byte) [][]byte {
	if bytes.HasPrefix(bytes.TrimSpace(body), []byte(`{"created"`)) {
		var b struct {
			Created []json.RawMessage `json:"created"`
		}
		if json.Unmarshal(body, &b) != nil {
			return nil
		}
		out := make([][]byte, len(b.Created))
		for i, u := range b.Created {
			out[i] = bytes.Clone(u)
		}
		return out
	}
	return [][]byte{bytes.Clone(body)}
}

// verifyCreated reads each user back with GET /users/{id} on conns
// connections and compares every field with what the create answered.
// It returns how many it checked, found missing (404), found different,
// and could not read (other answers, transport errors).
func verifyCreated(ctx context.Context, base string, users [][]byte, conns int) (checked, missing, mismatched, failed int) {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: conns}}
	defer client.CloseIdleConnections()
	var nMissing, nMismatched, nFailed, nChecked atomic.Int64
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(conns)
	for _, u := range users {
		g.Go(func() error {
			var want map[string]any
			if json.Unmarshal(u, &want) != nil {
				nFailed.Add(1)
				return nil
			}
			id, _ := want["id"].(string)
			nChecked.Add(1)
			got, status, err := getJSON(ctx, client, base+"/users/"+id)
			switch {
			case err != nil:
				nFailed.Add(1)
			case status == http.StatusNotFound:
				nMissing.Add(1)
			case status != http.StatusOK:
				nFailed.Add(1)
			case !reflect.DeepEqual(want, got):
				nMismatched.Add(1)
			}
			return ctx.Err()
		})
	}
	_ = g.Wait()
	return int(nChecked.Load()), int(nMissing.Load()), int(nMismatched.Load()), int(nFailed.Load())
}

func getJSON(ctx context.Context, c *http.Client, url string) (map[string]any, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode, err
	}
	var m map[string]any
	return m, resp.StatusCode, json.Unmarshal(b, &m)
}

// The soak's bounds, from issue 14.
const (
	soakMaxRSSDrift = 0.10
	soakMaxP99Ratio = 1.5
)

// verdicts computes the soak's checks from its samples.
func (s *Report) verdicts(cfg Config) {
	s.Verdicts = nil
	add := func(name, want, measured string, holds bool) {
		s.Verdicts = append(s.Verdicts, report.Check(name, want, measured, holds))
	}
	var settled []Sample
	for _, smp := range s.Samples {
		if smp.Settled && smp.Full && smp.ServerErr == "" {
			settled = append(settled, smp)
		}
	}
	if len(settled) >= 2 {
		first, last := settled[0], settled[len(settled)-1]
		peak := 0.0
		for _, smp := range settled {
			peak = max(peak, smp.RSSMiB)
		}
		drift := (last.RSSMiB - first.RSSMiB) / first.RSSMiB
		add("server RSS drift after the settle", fmt.Sprintf("<= %.0f%%", 100*soakMaxRSSDrift),
			fmt.Sprintf("%+.1f%% (%.1f -> %.1f MiB, peak %.1f MiB)", 100*drift, first.RSSMiB, last.RSSMiB, peak), drift <= soakMaxRSSDrift)
		ratio := 0.0
		if first.P99 > 0 {
			ratio = last.P99 / first.P99
		}
		add("p99 of the last window / the first after the settle", fmt.Sprintf("<= %.1fx", soakMaxP99Ratio),
			fmt.Sprintf("%.2fx (%.2f -> %.2f ms)", ratio, first.P99, last.P99), first.P99 > 0 && ratio <= soakMaxP99Ratio)
	} else {
		add("server RSS drift after the settle", fmt.Sprintf("<= %.0f%%", 100*soakMaxRSSDrift), "fewer than 2 full windows after the settle", false)
		add("p99 of the last window / the first after the settle", fmt.Sprintf("<= %.1fx", soakMaxP99Ratio), "fewer than 2 full windows after the settle", false)
	}
	add("server goroutines after the load", fmt.Sprintf("<= %.0f (idle, before the load) within %s", s.IdleGoroutines, cfg.Idle),
		fmt.Sprintf("%.0f", s.AfterGoroutines), s.AfterGoroutines >= 0 && s.AfterGoroutines <= s.IdleGoroutines)
	bad := s.Summary.Errors + s.Summary.Non2xx + s.Summary.Unsent
	detail := fmt.Sprintf("%d (errors %d %v, non-2xx %d, unsent %d) of %d requests", bad, s.Summary.Errors, s.Summary.ErrorsByKind,
		s.Summary.Non2xx, s.Summary.Unsent, s.Summary.Requests)
	add("failed requests", "0", detail, bad == 0)
	want := min(int64(cfg.Verify), s.Acked)
	add("acknowledged creates readable with their content", fmt.Sprintf("all of a sample of %d (of %d acknowledged)", want, s.Acked),
		fmt.Sprintf("%d checked: %d missing, %d different, %d unreadable", s.Checked, s.Missing, s.Mismatched, s.VerifyErrors),
		s.Acked > 0 && int64(s.Checked) == want && s.Missing+s.Mismatched+s.VerifyErrors == 0)
}

// Write writes results.json, the plots and report.md into s.Dir.
func (s *Report) Write() error {
	s.Generated = time.Now().UTC()
	col := func(name string, f func(Sample) float64) report.Series {
		var pts plotter.XYs
		for _, smp := range s.Samples {
			pts = append(pts, plotter.XY{X: smp.Minutes, Y: f(smp)})
		}
		return report.Series{Name: name, Pts: pts}
	}
	const x = "minutes into the load"
	plots := []report.Plot{
		{Base: "soak-latency", Chart: report.Chart{Title: "Client latency per window", X: x, Y: "ms from intended send (log)", LogY: true, Lines: []report.Series{
			col("p50", func(m Sample) float64 { return m.P50 }),
			col("p99", func(m Sample) float64 { return m.P99 }),
			col("p99.9", func(m Sample) float64 { return m.P999 })}}},
		{Base: "soak-memory", Chart: report.Chart{Title: "Server memory", X: x, Y: "MiB", Lines: []report.Series{
			col("RSS (/proc)", func(m Sample) float64 { return m.RSSMiB }),
			col("heap in use", func(m Sample) float64 { return m.HeapInuseMiB }),
			col("heap allocated", func(m Sample) float64 { return m.HeapAllocMiB })}}},
		{Base: "soak-goroutines", Chart: report.Chart{Title: "Server goroutines and connections", X: x, Y: "count", Lines: []report.Series{
			col("goroutines", func(m Sample) float64 { return m.Goroutines }),
			col("HTTP connections", func(m Sample) float64 { return float64(m.HTTPConns) }),
			col("CQL connections", func(m Sample) float64 { return float64(m.CQLConns) })}}},
		{Base: "soak-gc", Chart: report.Chart{Title: "Server GC per window", X: x, Y: "ms", Lines: []report.Series{
			col("total pause", func(m Sample) float64 { return m.GCPauseMs }),
			col("longest pause (bucket bound)", func(m Sample) float64 { return m.GCMaxPauseMs })}}},
		{Base: "soak-cassandra", Chart: report.Chart{Title: "Cassandra background work", X: x, Y: "count", Lines: []report.Series{
			col("pending compactions (thread pool)", func(m Sample) float64 { return float64(m.CompactionsPending) }),
			col("running compactions", func(m Sample) float64 { return float64(m.CompactionsActive) }),
			col("memtable flushes in the window", func(m Sample) float64 { return float64(m.Flushes) })}}},
	}
	return report.Write(s.Dir, s, plots, s.document)
}

func (s *Report) document(plots []string) *report.Document {
	d := report.NewDocument("Soak", s.Header, "")
	d.Printf("## Verdicts\n\n")
	d.Table("check", "want", "measured", "verdict")
	for _, v := range s.Verdicts {
		d.Row(v.Name, report.Escape(v.Want), report.Escape(v.Detail), map[bool]string{true: "holds", false: "**fails**"}[v.Holds()])
	}
	l := s.Summary.Latency
	d.Printf("\n## Whole run\n\n%d requests at %.0f req/s; p50 %s ms, p99 %s ms, p99.9 %s ms, max %s ms; ",
		s.Summary.Requests, s.Summary.RequestsPerSec, report.Ms(l.At(50)), report.Ms(l.At(99)), report.Ms(l.At(99.9)), report.Ms(l.Max))
	d.Printf("%d errors, %d non-2xx, %d unsent.", s.Summary.Errors, s.Summary.Non2xx, s.Summary.Unsent)
	if srv := s.Summary.Server; srv != nil {
		d.Printf(" Server CPU %.1f µs per request, peak RSS %.1f MiB.", srv.CPUPerRequestMicros, mib(srv.PeakRSSBytes))
	}
	if with, without, n := nodetoolWindowsP99(s.Samples); n > 0 {
		d.Printf("\n\nMedian p99 of the %d windows in which a nodetool result arrived (each call starts a JVM: seconds of CPU beside the load): %s ms; of the other %d windows: %s ms.",
			n, report.Ms(with), len(s.Samples)-n, report.Ms(without))
	}
	d.Printf("\n\n## Windows\n\n")
	d.Table("min", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "errors", "RSS MiB", "heap MiB", "goroutines", "HTTP/CQL conns", "GCs",
		"GC pause ms (max)", "compactions pending/running", "flushes", "nodetool pending")
	for _, m := range s.Samples {
		errs, nt := "0", "—"
		if len(m.Errors) > 0 {
			errs = report.Escape(fmt.Sprint(m.Errors))
		}
		if m.NodetoolPending >= 0 {
			nt = fmt.Sprint(m.NodetoolPending)
		}
		d.Row(fmt.Sprintf("%.2f", m.Minutes), fmt.Sprintf("%.0f", m.RequestsPerSec), report.Ms(m.P50), report.Ms(m.P99), report.Ms(m.P999), errs,
			fmt.Sprintf("%.1f", m.RSSMiB), fmt.Sprintf("%.1f", m.HeapInuseMiB), fmt.Sprintf("%.0f", m.Goroutines),
			fmt.Sprintf("%d/%d", m.HTTPConns, m.CQLConns), fmt.Sprintf("%.0f", m.GCs), fmt.Sprintf("%.2f (%.2f)", m.GCPauseMs, m.GCMaxPauseMs),
			fmt.Sprintf("%d/%d", m.CompactionsPending, m.CompactionsActive), fmt.Sprint(m.Flushes), nt)
	}
	d.Plots(plots)
	return d
}

// nodetoolWindowsP99 returns the median p99 of the windows in which a
// nodetool result arrived and of the others, and how many the first are:
// nodetool starts a JVM, and on a small machine its CPU shows in the tail.
func nodetoolWindowsP99(samples []Sample) (with, without float64, n int) {
	var a, b []float64
	for _, m := range samples {
		if m.NodetoolPending >= 0 {
			a = append(a, m.P99)
		} else {
			b = append(b, m.P99)
		}
	}
	return report.NewStat(a).Median, report.NewStat(b).Median, len(a)
}
