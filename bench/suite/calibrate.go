package suite

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/userapi/userapi/bench/harness"
	"github.com/userapi/userapi/bench/load"
	"github.com/userapi/userapi/bench/report"
)

// calibrate measures the client: loadgen -t 1 and wrk -t1 in turn against
// a no-op server, client and server on different cores, so that the client
// is what limits.
func (r *suiteRun) calibrate() error {
	addr, err := harness.Addr(r.cfg.NoopPort, "-noop-port")
	if err != nil {
		return err
	}
	var serverPin, clientPin []string
	if r.pin {
		serverPin, clientPin = []string{"taskset", "-c", "0"}, []string{"taskset", "-c", "1"}
	}
	p, err := r.StartLoadgen("noop-server", serverPin, "noop", "-listen", addr, "-d", "600s")
	if err != nil {
		return err
	}
	defer func() { _ = p.Stop(10 * time.Second) }()
	if err := p.WaitListening(r.Ctx, addr, 10*time.Second); err != nil {
		return err
	}
	url := "http://" + addr + "/"
	secs := time.Duration(max(1, int(r.cfg.NoopDuration.Round(time.Second).Seconds()))) * time.Second
	for rep := 1; rep <= r.cfg.Repeats; rep++ {
		if r.wrk != "" {
			if err := r.runWrk(clientPin, rep, url, secs); err != nil {
				return err
			}
		}
		_, err := r.RunLoad(harness.Load{Name: fmt.Sprintf("loadgen-noop-%d", rep), Threads: 1, Conns: r.cfg.Conns, Duration: secs,
			Labels: []string{"mode=" + harness.ModeLoadgenNoop, "scenario=noop", "repeat=" + strconv.Itoa(rep)},
			Out:    filepath.Join(r.Runs, fmt.Sprintf("%s-noop-%d.json", harness.ModeLoadgenNoop, rep)), URL: url, Prefix: clientPin})
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *suiteRun) runWrk(pin []string, rep int, url string, secs time.Duration) error {
	out := filepath.Join(r.Runs, fmt.Sprintf("%s__noop__%d.wrk.txt", harness.ModeWrkNoop, rep))
	args := slices.Concat(pin, []string{r.wrk, "-t1", "-c", strconv.Itoa(r.cfg.Conns), "-d", fmt.Sprintf("%.0fs", secs.Seconds()), "--latency", url})
	text, err := r.Exec("wrk", args, out)
	if err != nil {
		return err
	}
	sum, err := load.ParseWrk(text)
	if err != nil {
		return fmt.Errorf("wrk output: %w", err)
	}
	r.Logf("wrk-noop-%d: %.0f req/s, p99 %s ms", rep, sum.RequestsPerSec, report.Ms(sum.Latency.At(99)))
	return nil
}
