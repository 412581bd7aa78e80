package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
	var next, nMissing, nMismatched, nFailed, nChecked atomic.Int64
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(users) {
					return
				}
				var want map[string]any
				if json.Unmarshal(users[i], &want) != nil {
					nFailed.Add(1)
					continue
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
			}
		}()
	}
	wg.Wait()
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

func (v Verdict) line() string {
	status := "holds"
	if !v.Holds {
		status = "FAILS"
	}
	return fmt.Sprintf("%-6s %s: %s (want %s)", status, v.Name, v.Measured, v.Want)
}

// verdicts computes the soak's checks from its samples.
func (s *Soak) verdicts(cfg SoakConfig) {
	s.Verdicts = nil
	add := func(name, want, measured string, holds bool) {
		s.Verdicts = append(s.Verdicts, Verdict{Name: name, Want: want, Measured: measured, Holds: holds})
	}
	var settled []SoakSample
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
func (s *Soak) Write() error {
	s.Generated = time.Now().UTC()
	if err := writeJSON(filepath.Join(s.Dir, "results.json"), s); err != nil {
		return err
	}
	col := func(f func(SoakSample) float64) plotter.XYs {
		var pts plotter.XYs
		for _, smp := range s.Samples {
			pts = append(pts, plotter.XY{X: smp.Minutes, Y: f(smp)})
		}
		return pts
	}
	const x = "minutes into the load"
	charts := []struct {
		base string
		c    lineChart
	}{
		{"soak-latency", lineChart{title: "Client latency per window", x: x, y: "ms from intended send (log)", logY: true, lines: []series{
			{"p50", col(func(m SoakSample) float64 { return m.P50 })},
			{"p99", col(func(m SoakSample) float64 { return m.P99 })},
			{"p99.9", col(func(m SoakSample) float64 { return m.P999 })}}}},
		{"soak-memory", lineChart{title: "Server memory", x: x, y: "MiB", lines: []series{
			{"RSS (/proc)", col(func(m SoakSample) float64 { return m.RSSMiB })},
			{"heap in use", col(func(m SoakSample) float64 { return m.HeapInuseMiB })},
			{"heap allocated", col(func(m SoakSample) float64 { return m.HeapAllocMiB })}}}},
		{"soak-goroutines", lineChart{title: "Server goroutines and connections", x: x, y: "count", lines: []series{
			{"goroutines", col(func(m SoakSample) float64 { return m.Goroutines })},
			{"HTTP connections", col(func(m SoakSample) float64 { return float64(m.HTTPConns) })},
			{"CQL connections", col(func(m SoakSample) float64 { return float64(m.CQLConns) })}}}},
		{"soak-gc", lineChart{title: "Server GC per window", x: x, y: "ms", lines: []series{
			{"total pause", col(func(m SoakSample) float64 { return m.GCPauseMs })},
			{"longest pause (bucket bound)", col(func(m SoakSample) float64 { return m.GCMaxPauseMs })}}}},
		{"soak-cassandra", lineChart{title: "Cassandra background work", x: x, y: "count", lines: []series{
			{"pending compactions (thread pool)", col(func(m SoakSample) float64 { return float64(m.CompactionsPending) })},
			{"running compactions", col(func(m SoakSample) float64 { return float64(m.CompactionsActive) })},
			{"memtable flushes in the window", col(func(m SoakSample) float64 { return float64(m.Flushes) })}}}},
	}
	var plots []string
	for _, ch := range charts {
		name, err := ch.c.save(s.Dir, ch.base)
		if err != nil {
			return fmt.Errorf("plot %s: %w", ch.base, err)
		}
		if name != "" {
			plots = append(plots, name)
		}
	}
	return os.WriteFile(filepath.Join(s.Dir, "report.md"), []byte(s.markdown(plots)), 0o644)
}

func (s *Soak) markdown(plots []string) string {
	b := &strings.Builder{}
	fmt.Fprintf(b, "# Soak\n\nGenerated %s from `%s`.\n\n", s.Generated.Format(time.RFC3339), s.Dir)
	writeMeta(b, s.Meta)
	fmt.Fprintf(b, "## Verdicts\n\n| check | want | measured | verdict |\n| --- | --- | --- | --- |\n")
	for _, v := range s.Verdicts {
		verdict := "holds"
		if !v.Holds {
			verdict = "**fails**"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", v.Name, mdEscape(v.Want), mdEscape(v.Measured), verdict)
	}
	l := s.Summary.Latency
	fmt.Fprintf(b, "\n## Whole run\n\n%d requests at %.0f req/s; p50 %s ms, p99 %s ms, p99.9 %s ms, max %s ms; ",
		s.Summary.Requests, s.Summary.RequestsPerSec, ms(l.At(50)), ms(l.At(99)), ms(l.At(99.9)), ms(l.Max))
	fmt.Fprintf(b, "%d errors, %d non-2xx, %d unsent.", s.Summary.Errors, s.Summary.Non2xx, s.Summary.Unsent)
	if srv := s.Summary.Server; srv != nil {
		fmt.Fprintf(b, " Server CPU %.1f µs per request, peak RSS %.1f MiB.", srv.CPUPerRequestMicros, mib(srv.PeakRSSBytes))
	}
	if with, without, n := nodetoolWindowsP99(s.Samples); n > 0 {
		fmt.Fprintf(b, "\n\nMedian p99 of the %d windows in which a nodetool result arrived (each call starts a JVM: seconds of CPU beside the load): %s ms; of the other %d windows: %s ms.",
			n, ms(with), len(s.Samples)-n, ms(without))
	}
	fmt.Fprintf(b, "\n\n## Windows\n\n| min | req/s | p50 ms | p99 ms | p99.9 ms | errors | RSS MiB | heap MiB | goroutines | HTTP/CQL conns | GCs | GC pause ms (max) | compactions pending/running | flushes | nodetool pending |\n")
	fmt.Fprintf(b, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, m := range s.Samples {
		errs := "0"
		if len(m.Errors) > 0 {
			errs = mdEscape(fmt.Sprint(m.Errors))
		}
		nt := "—"
		if m.NodetoolPending >= 0 {
			nt = fmt.Sprint(m.NodetoolPending)
		}
		fmt.Fprintf(b, "| %.2f | %.0f | %s | %s | %s | %s | %.1f | %.1f | %.0f | %d/%d | %.0f | %.2f (%.2f) | %d/%d | %d | %s |\n",
			m.Minutes, m.RequestsPerSec, ms(m.P50), ms(m.P99), ms(m.P999), errs, m.RSSMiB, m.HeapInuseMiB, m.Goroutines,
			m.HTTPConns, m.CQLConns, m.GCs, m.GCPauseMs, m.GCMaxPauseMs, m.CompactionsPending, m.CompactionsActive, m.Flushes, nt)
	}
	if len(plots) > 0 {
		fmt.Fprintf(b, "\n## Plots\n\n")
		for _, p := range plots {
			fmt.Fprintf(b, "![%s](%s)\n\n", strings.TrimSuffix(p, filepath.Ext(p)), p)
		}
	}
	return b.String()
}

// nodetoolWindowsP99 returns the median p99 of the windows in which a
// nodetool result arrived and of the others, and how many the first are:
// nodetool starts a JVM, and on a small machine its CPU shows in the tail.
func nodetoolWindowsP99(samples []SoakSample) (with, without float64, n int) {
	var a, b []float64
	for _, m := range samples {
		if m.NodetoolPending >= 0 {
			a = append(a, m.P99)
		} else {
			b = append(b, m.P99)
		}
	}
	return newStat(a).Median, newStat(b).Median, len(a)
}
