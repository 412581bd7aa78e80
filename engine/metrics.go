package engine

import (
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// engineMetrics are the engine's own series, in a Set of their own so that
// several engines (tests) never collide and the HTTP layer decides where
// they are exposed.
type engineMetrics struct {
	set              *metrics.Set
	rejectedOverload *metrics.Counter
	rejectedClosed   *metrics.Counter
	expired          *metrics.Counter
	reads            *metrics.Counter
	coalesced        *metrics.Counter
	batchSize        *metrics.PrometheusHistogram
	readGroupSize    *metrics.PrometheusHistogram
	batchToReplica   *metrics.Counter
	batchToOther     *metrics.Counter
	batchMixed       *metrics.Counter
	latency          map[string]*metrics.PrometheusHistogram // by statement; read-only after init
	errors           map[error]*metrics.Counter              // by taxonomy kind; read-only after init
}

var statementNames = []string{"get", "get_group", "insert", "delete", "batch", "update", "list", "probe"}

func newEngineMetrics(e *Engine) *engineMetrics {
	s := metrics.NewSet()
	m := &engineMetrics{
		set:              s,
		rejectedOverload: s.NewCounter(`userapi_engine_rejected_total{reason="overloaded"}`),
		rejectedClosed:   s.NewCounter(`userapi_engine_rejected_total{reason="closed"}`),
		expired:          s.NewCounter(`userapi_engine_expired_in_queue_total`),
		reads:            s.NewCounter(`userapi_engine_reads_total`),
		coalesced:        s.NewCounter(`userapi_engine_coalesced_reads_total`),
		batchSize: s.NewPrometheusHistogramExt(`userapi_engine_batch_size`,
			[]float64{1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 50, 100}),
		readGroupSize: s.NewPrometheusHistogramExt(`userapi_engine_read_group_size`,
			[]float64{2, 3, 4, 6, 8, 12, 16, 24, 32, 64, 128, 256}),
		batchToReplica: s.NewCounter(`userapi_engine_batch_coordinator_total{replica="true"}`),
		batchToOther:   s.NewCounter(`userapi_engine_batch_coordinator_total{replica="false"}`),
		batchMixed:     s.NewCounter(`userapi_engine_batch_mixed_replica_sets_total`),
		latency:        make(map[string]*metrics.PrometheusHistogram),
		errors:         make(map[error]*metrics.Counter),
	}
	for _, name := range statementNames {
		m.latency[name] = s.NewPrometheusHistogram(`userapi_engine_query_duration_seconds{statement="` + name + `"}`)
	}
	for _, k := range kinds {
		m.errors[k.err] = s.NewCounter(`userapi_engine_errors_total{kind="` + k.label + `"}`)
	}
	s.NewGauge(`userapi_engine_pool_running`, func() float64 { return float64(e.pool.running()) })
	s.NewGauge(`userapi_engine_pool_waiting`, func() float64 { return float64(e.pool.waiting()) })
	s.NewGauge(`userapi_engine_pool_capacity`, func() float64 { return float64(e.pool.capacity()) })
	s.NewGauge(`userapi_engine_cassandra_connected`, func() float64 {
		if e.connected.Load() {
			return 1
		}
		return 0
	})
	// The write lines' size and in-flight limit in force, as the tuner
	// (tuner.go) moves them, and its probes by outcome.
	s.NewGauge(`userapi_engine_batch_max`, func() float64 {
		if e.writes == nil {
			return 1
		}
		return float64(e.writes.size())
	})
	s.NewGauge(`userapi_engine_batch_inflight_limit`, func() float64 {
		if e.writes == nil {
			return float64(e.cfg.BatchInflight)
		}
		return float64(e.writes.limit())
	})
	// The read lines' in-flight limit: ReadGroupInflight while reads
	// group, the pool's size while each goes at once.
	s.NewGauge(`userapi_engine_read_group_inflight_limit`, func() float64 {
		if e.reads == nil {
			return float64(e.cfg.PoolSize)
		}
		return float64(e.reads.limit())
	})
	for _, o := range []struct {
		label string
		count func(TunerStats) uint64
	}{
		{"accepted", func(s TunerStats) uint64 { return s.Accepted }},
		{"rejected", func(s TunerStats) uint64 { return s.Rejected }},
		{"abandoned", func(s TunerStats) uint64 { return s.Abandoned }},
	} {
		for _, l := range []struct {
			name  string
			lines func() *lines // set after the metrics (New)
		}{
			{"batch", func() *lines { return e.writes }},
			{"read_group", func() *lines { return e.reads }},
		} {
			s.NewGauge(`userapi_engine_`+l.name+`_probes{outcome="`+o.label+`"}`, func() float64 {
				if ls := l.lines(); ls != nil && ls.tuner != nil {
					return float64(o.count(ls.tuner.Stats()))
				}
				return 0
			})
		}
	}
	return m
}

// observe records one query's latency and, when it failed, its error kind.
func (m *engineMetrics) observe(statement string, start time.Time, err error) {
	m.latency[statement].UpdateDuration(start)
	if err != nil {
		kind := KindOf(classify(statement, err))
		if kind == nil {
			kind = errInternal
		}
		if kind == ErrNotFound {
			return // a miss is an answer, not a failure
		}
		m.errors[kind].Inc()
	}
}

// rejected counts a refused admission; other refusals (a caller that gave
// up before it was admitted) are not the engine's to count.
func (m *engineMetrics) rejected(err error) {
	switch KindOf(err) {
	case ErrClosed:
		m.rejectedClosed.Inc()
	case ErrOverloaded:
		m.rejectedOverload.Inc()
	}
}
