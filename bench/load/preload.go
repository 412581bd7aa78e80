package load

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// PreloadConfig fills the API's table through POST /users/batch.
type PreloadConfig struct {
	URL       string // the API's base URL
	Users     int    // default 1,000,000
	BatchSize int    // users per request; default 500 (the API takes up to 1000)
	Conns     int    // requests in flight; default 8
	// Sample is how many of the created ids Preload returns, chosen
	// uniformly over the whole table; default 100,000.
	Sample   int
	Progress io.Writer // a line every 2 s; nil: none
	Seed     uint64
}

// Preload creates cfg.Users users and returns a uniform sample of their ids.
func Preload(ctx context.Context, cfg PreloadConfig) ([]string, error) {
	Default(&cfg.Users, 1_000_000)
	Default(&cfg.BatchSize, 500)
	Default(&cfg.Conns, 8)
	Default(&cfg.Sample, 100_000)
	switch {
	case cfg.BatchSize < 1 || cfg.BatchSize > maxBatchSize:
		return nil, FieldError("BatchSize", "must be between 1 and %d, not %d", maxBatchSize, cfg.BatchSize)
	case cfg.Users < 1 || cfg.Conns < 1 || cfg.Sample < 1:
		return nil, FieldError("Users", "users, connections and sample must be positive")
	}
	hc, err := Config{URL: cfg.URL, Load: Load{Concurrency: cfg.Conns, Requests: 1}}.withDefaults()
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(hc.URL)
	if err := CheckLoopback(ctx, u.Hostname()); err != nil {
		return nil, err
	}
	c := newClient(hc, u)
	defer c.close()
	s := &apiScenario{cfg: hc, c: c, base: strings.TrimRight(hc.URL, "/"), seed: cmp.Or(cfg.Seed, rand.Uint64())}
	rs := NewReservoir[string](cfg.Sample)
	chunks := (cfg.Users + cfg.BatchSize - 1) / cfg.BatchSize
	var created atomic.Int64
	start := time.Now()
	stop := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		if cfg.Progress == nil {
			return
		}
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				n := created.Load()
				rate := float64(n) / time.Since(start).Seconds()
				eta := "—"
				if rate > 0 {
					eta = (time.Duration(float64(int64(cfg.Users)-n)/rate) * time.Second).Round(time.Second).String()
				}
				fmt.Fprintf(cfg.Progress, "preload: %d/%d users (%.0f%%), %.0f users/s, %s left\n", n, cfg.Users,
					100*float64(n)/float64(cfg.Users), rate, eta)
			}
		}
	}()
	err = fanOut(ctx, chunks, cfg.Conns, s.seed, 1<<40, func(i int, r *rand.Rand) error {
		ids, err := s.createBatch(&fasthttp.Request{}, &fasthttp.Response{}, r, min(cfg.BatchSize, cfg.Users-i*cfg.BatchSize), nil)
		created.Add(int64(len(ids)))
		rs.Add(ids...)
		return err
	})
	close(stop)
	<-progressDone
	if err != nil {
		return nil, fmt.Errorf("preload after %d users: %w", created.Load(), err)
	}
	if cfg.Progress != nil {
		fmt.Fprintf(cfg.Progress, "preload: %d users in %s\n", created.Load(), time.Since(start).Round(time.Second))
	}
	return rs.Kept(), nil
}

// WriteIDs writes one id a line; ReadIDs reads such a file.
func WriteIDs(path string, ids []string) error {
	return os.WriteFile(path, []byte(strings.Join(ids, "\n")+"\n"), 0o644)
}

// ReadIDs reads one id a line, skipping blank lines.
func ReadIDs(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ids []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			ids = append(ids, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%s holds no ids", path)
	}
	return ids, nil
}
