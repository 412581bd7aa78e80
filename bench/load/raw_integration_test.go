//go:build integration

package load

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userapi/userapi/internal/cassandratest"
)

func TestRawAgainstCassandra(t *testing.T) {
	ks := cassandratest.Keyspace(t, "bench")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := RawConfig{Hosts: cassandratest.Hosts(), Keyspace: ks, Load: Load{Concurrency: 8, Warmup: 100, Seed: 11}}

	t.Run("create", func(t *testing.T) {
		cfg := base
		cfg.Scenario, cfg.Requests = Create, 200
		res, err := RunRaw(ctx, cfg)
		require.NoError(t, err, "raw create")
		assert.Equal(t, map[int]int64{201: 200}, res.Status, "every insert acknowledged")
		assert.Zero(t, res.ErrorCount(), "errors %v", res.Errors)
		assert.Equal(t, "raw", res.Mode)

		var rows int
		s := cassandratest.Session(t)
		require.NoError(t, s.Query("SELECT COUNT(*) FROM "+ks+".users").Scan(&rows))
		assert.Equal(t, 200, rows, "rows written: a create run has no warm-up")
	})
	t.Run("get", func(t *testing.T) {
		cfg := base
		cfg.Scenario, cfg.Requests = Get, 300
		res, err := RunRaw(ctx, cfg)
		require.NoError(t, err, "raw get")
		assert.Equal(t, map[int]int64{200: 300}, res.Status, "every read finds a warm-up row")
		assert.Equal(t, int64(100), res.Setup, "warm-up rows")
		assert.Equal(t, int64(300), res.Latency.TotalCount())
	})
	t.Run("mix for a duration", func(t *testing.T) {
		cfg := base
		cfg.Scenario, cfg.Duration, cfg.Mix = Mixed, time.Second, DefaultMix()
		res, err := RunRaw(ctx, cfg)
		require.NoError(t, err, "raw mix")
		assert.Zero(t, res.ErrorCount(), "errors %v", res.Errors)
		assert.Zero(t, res.Status[404], "reads only of rows that exist")
		require.Len(t, res.Ops, 2, "get and create")
		assert.Positive(t, res.Ops["get"].Latency.TotalCount(), "gets ran")
		assert.Positive(t, res.Ops["create"].Latency.TotalCount(), "creates ran")
	})
	t.Run("rate", func(t *testing.T) {
		cfg := base
		cfg.Scenario, cfg.Requests, cfg.Rate = Get, 100, 500
		res, err := RunRaw(ctx, cfg)
		require.NoError(t, err, "raw rate")
		assert.Equal(t, int64(100), res.Scheduled, "scheduled queries")
		assert.Equal(t, res.Scheduled, res.Responses+res.ErrorCount()+res.Unsent, "each scheduled query accounted for")
	})
}
