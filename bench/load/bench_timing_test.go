package load

import (
	"context"
	"math/rand/v2"
	"net"
	"net/url"
	"testing"
	"time"
)

// BenchmarkPlainRequest is the client's cost per request against the no-op
// server on loopback: the overhead loadgen adds to every figure it reports.
func BenchmarkPlainRequest(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = ServeNoop(ctx, ln)
	}()
	defer func() { cancel(); <-done }()
	cfg, err := Config{URL: "http://" + ln.Addr().String() + "/", KeepAlive: true, Load: Load{Requests: 1}}.withDefaults()
	if err != nil {
		b.Fatal(err)
	}
	u, _ := url.Parse(cfg.URL)
	c := newClient(cfg, u)
	defer c.close()
	// own: the worker's connection (connDoer), as the load runs; pool:
	// fasthttp's HostClient, which loadgen used before.
	for _, bc := range []struct {
		name string
		d    doer
	}{{"own", c.newConnDoer()}, {"pool", c.HostClient}} {
		b.Run(bc.name, func(b *testing.B) {
			w := newPlainWorker(cfg, bc.d)
			d := &driver{plan: plan{ops: []string{"get"}}}
			sh := &shard{lat: newHist(), errs: map[string]int64{}, opErrs: make([]int64, 1)}
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				status, n, err := w.do()
				d.record(sh, 0, status, n, time.Since(t0), 0, err)
			}
		})
	}
}

func BenchmarkRecord(b *testing.B) {
	d := &driver{plan: plan{ops: []string{"get"}}}
	sh := &shard{lat: newHist(), errs: map[string]int64{}, opErrs: make([]int64, 1)}
	b.ReportAllocs()
	for b.Loop() {
		d.record(sh, 0, 200, 100, 1234*time.Microsecond, 0, nil)
	}
}

func BenchmarkAppendUserJSON(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendUserJSON(buf[:0], r)
	}
}
