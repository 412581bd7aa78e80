package main

import (
	"bytes"
	"context"
	"flag"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userapi/userapi/engine"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	cfg, err := parseConfig(nil, env(), &bytes.Buffer{})
	require.NoError(t, err)
	e := cfg.engine
	assert.Equal(t, []string{"127.0.0.1"}, e.Hosts)
	assert.Equal(t, 9042, e.Port)
	assert.Equal(t, "user_management", e.Keyspace)
	assert.Equal(t, 1, e.ReplicationFactor)
	assert.Equal(t, engine.LocalQuorum, e.Consistency)
	assert.Equal(t, 5*time.Second, e.ConnectTimeout)
	assert.Equal(t, 2*time.Second, e.QueryTimeout)
	assert.Equal(t, 2, e.NumConns)
	assert.Equal(t, 256, e.PoolSize)
	assert.Equal(t, 4096, e.QueueDepth)
	assert.Equal(t, 16, e.BatchMax, "the tuner's bound")
	assert.False(t, e.BatchFixed, "the tuner picks the size")
	assert.Equal(t, time.Duration(0), e.BatchLinger)
	assert.Equal(t, engine.Config{}.Defaults().BatchInflight, e.BatchInflight, "the engine's default")
	assert.Equal(t, 16, e.ReadGroupMax)
	assert.Equal(t, 2, e.ReadGroupInflight)
	assert.False(t, e.ReadGroupFixed, "the tuner groups reads only while it pays")
	assert.False(t, e.TLS.Enabled)
	assert.True(t, e.TLS.VerifyHost)
	assert.Empty(t, e.Username)
	assert.Equal(t, ":8000", cfg.listen)
	assert.Equal(t, slog.LevelInfo, cfg.logLevel)
	assert.Equal(t, "json", cfg.logFormat)
	assert.Equal(t, 5*time.Second, cfg.http.RequestTimeout)
	assert.Equal(t, 15*time.Second, cfg.shutdownTimeout)
	assert.Empty(t, cfg.http.APIToken)
	require.NoError(t, e.Defaults().Validate(), "the defaults satisfy the engine")
}

func TestEnvironmentAndFlags(t *testing.T) {
	getenv := env(
		"CASSANDRA_HOSTS", " 10.0.0.1, 10.0.0.2 ,,", "CASSANDRA_PORT", "9043", "CASSANDRA_KEYSPACE", "ks1",
		"CASSANDRA_USERNAME", "u", "CASSANDRA_PASSWORD", "p", "CASSANDRA_TLS_CA", "/ca.pem",
		"CASSANDRA_TLS_CERT", "/c.pem", "CASSANDRA_TLS_KEY", "/k.pem", "CASSANDRA_TLS_VERIFY_HOST", "false",
		"CASSANDRA_DC", "dc1", "CASSANDRA_REPLICATION_FACTOR", "3", "CASSANDRA_CONSISTENCY", "quorum",
		"CASSANDRA_CONNECT_TIMEOUT", "7s", "CASSANDRA_QUERY_TIMEOUT", "900ms", "CASSANDRA_CONNS", "4",
		"LISTEN_ADDR", "127.0.0.1:9000", "LOG_LEVEL", "debug", "LOG_FORMAT", "text", "POOL_SIZE", "64",
		"QUEUE_DEPTH", "128", "BATCH_MAX", "20", "BATCH_LINGER", "2ms", "BATCH_INFLIGHT", "8",
		"READ_GROUP_MAX", "32", "READ_GROUP_INFLIGHT", "2",
		"REQUEST_TIMEOUT", "3s", "SHUTDOWN_TIMEOUT", "9s", "API_TOKEN", "tok", "DOCS_AUTH", "true",
		"DRAIN_DELAY", "1s", "PPROF_LISTEN", "127.0.0.1:6060",
	)
	cfg, err := parseConfig(nil, getenv, &bytes.Buffer{})
	require.NoError(t, err)
	e := cfg.engine
	assert.Equal(t, []string{"10.0.0.1", "10.0.0.2"}, e.Hosts)
	assert.Equal(t, 9043, e.Port)
	assert.Equal(t, "ks1", e.Keyspace)
	assert.Equal(t, "u", e.Username)
	assert.Equal(t, "p", e.Password)
	assert.Equal(t, engine.TLSConfig{Enabled: true, CAFile: "/ca.pem", CertFile: "/c.pem", KeyFile: "/k.pem"}, e.TLS)
	assert.Equal(t, "dc1", e.Datacenter)
	assert.Equal(t, 3, e.ReplicationFactor)
	assert.Equal(t, engine.Quorum, e.Consistency)
	assert.Equal(t, 7*time.Second, e.ConnectTimeout)
	assert.Equal(t, 900*time.Millisecond, e.QueryTimeout)
	assert.Equal(t, 4, e.NumConns)
	assert.Equal(t, 64, e.PoolSize)
	assert.Equal(t, 128, e.QueueDepth)
	assert.Equal(t, 20, e.BatchMax)
	assert.Equal(t, 2*time.Millisecond, e.BatchLinger)
	assert.Equal(t, 8, e.BatchInflight)
	assert.Equal(t, 32, e.ReadGroupMax)
	assert.Equal(t, 2, e.ReadGroupInflight)
	assert.Equal(t, "127.0.0.1:9000", cfg.listen)
	assert.Equal(t, slog.LevelDebug, cfg.logLevel)
	assert.Equal(t, "text", cfg.logFormat)
	assert.Equal(t, 3*time.Second, cfg.http.RequestTimeout)
	assert.Equal(t, 9*time.Second, cfg.shutdownTimeout)
	assert.Equal(t, "tok", cfg.http.APIToken)
	assert.True(t, cfg.http.DocsAuth)
	assert.Equal(t, time.Second, cfg.drainDelay)
	assert.Equal(t, "127.0.0.1:6060", cfg.pprofListen)

	// A flag on the command line wins over its variable.
	cfg, err = parseConfig([]string{"-cassandra-port", "9044", "-pool-size=8", "-cassandra-tls-verify-host=true",
		"-consistency", "ONE", "-api-token", "", "-docs-auth=false"}, getenv, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, 9044, cfg.engine.Port)
	assert.Equal(t, 8, cfg.engine.PoolSize)
	assert.True(t, cfg.engine.TLS.VerifyHost)
	assert.Equal(t, engine.One, cfg.engine.Consistency)
	assert.Empty(t, cfg.http.APIToken, "an explicit empty flag wins too")
	assert.False(t, cfg.http.DocsAuth, "-docs-auth=false wins over DOCS_AUTH")
	assert.Equal(t, 128, cfg.engine.QueueDepth, "variables still fill the rest")
}

func TestBadValuesNameTheFlag(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		env     []string
		mention []string
	}{
		{[]string{"-cassandra-port", "abc"}, nil, []string{"-cassandra-port"}},
		{[]string{"-cassandra-port", "70000"}, nil, []string{"-cassandra-port"}},
		{nil, []string{"POOL_SIZE", "many"}, []string{"-pool-size", "POOL_SIZE"}},
		{nil, []string{"REQUEST_TIMEOUT", "5"}, []string{"-request-timeout", "REQUEST_TIMEOUT"}},
		{nil, []string{"CASSANDRA_TLS_VERIFY_HOST", "maybe"}, []string{"-cassandra-tls-verify-host"}},
		{[]string{"-consistency", "TWO"}, nil, []string{"-consistency"}},
		{nil, []string{"CASSANDRA_CONSISTENCY", "SERIAL"}, []string{"-consistency"}},
		{[]string{"-log-level", "loud"}, nil, []string{"-log-level"}},
		{[]string{"-log-format", "xml"}, nil, []string{"-log-format"}},
		{[]string{"-batch-max", "0"}, nil, []string{"-batch-max"}},
		{[]string{"-batch-max", "1001"}, nil, []string{"-batch-max"}},
		{[]string{"-batch-linger", "-1s"}, nil, []string{"-batch-linger"}},
		{[]string{"-batch-inflight", "0"}, nil, []string{"-batch-inflight"}},
		{[]string{"-read-group-max", "0"}, nil, []string{"-read-group-max"}},
		{[]string{"-read-group-max", "257"}, nil, []string{"-read-group-max"}},
		{nil, []string{"READ_GROUP_INFLIGHT", "-1"}, []string{"-read-group-inflight"}},
		{[]string{"-pool-size", "0"}, nil, []string{"-pool-size"}},
		{[]string{"-procs", "-1"}, nil, []string{"-procs"}},
		{nil, []string{"GOMAXPROCS", "two"}, []string{"-procs", "GOMAXPROCS"}},
		{[]string{"-queue-depth", "0"}, nil, []string{"-queue-depth"}},
		{[]string{"-cassandra-conns", "0"}, nil, []string{"-cassandra-conns"}},
		{[]string{"-request-timeout", "0s"}, nil, []string{"-request-timeout"}},
		{[]string{"-shutdown-timeout", "-1s"}, nil, []string{"-shutdown-timeout"}},
		{[]string{"-cassandra-query-timeout", "0s"}, nil, []string{"-cassandra-query-timeout"}},
		{[]string{"-cassandra-connect-timeout", "0s"}, nil, []string{"-cassandra-connect-timeout"}},
		{[]string{"-cassandra-replication-factor", "0"}, nil, []string{"-cassandra-replication-factor"}},
		{[]string{"-cassandra-keyspace", "bad-name"}, nil, []string{"-cassandra-keyspace"}},
		{[]string{"-cassandra-hosts", " , "}, nil, []string{"-cassandra-hosts"}},
		{[]string{"-cassandra-tls-cert", "/c.pem"}, nil, []string{"-cassandra-tls-cert", "-cassandra-tls-key"}},
		{[]string{"-listen", "8000"}, nil, []string{"-listen"}},
		{[]string{"-pprof-listen", "6060"}, nil, []string{"-pprof-listen"}},
		{nil, []string{"DRAIN_DELAY", "-1s"}, []string{"-drain-delay"}},
		{[]string{"-no-such-flag"}, nil, []string{"no-such-flag"}},
		{[]string{"extra"}, nil, []string{"extra"}},
	} {
		var out bytes.Buffer
		_, err := parseConfig(tc.args, env(tc.env...), &out)
		require.Error(t, err, "args %v env %v", tc.args, tc.env)
		msg := err.Error() + out.String()
		for _, m := range tc.mention {
			assert.Contains(t, msg, m, "args %v env %v", tc.args, tc.env)
		}
	}
}

func TestDefaultsForALocalNode(t *testing.T) {
	for _, tc := range []struct {
		flag  int
		hosts []string
		cpus  int
		want  int
	}{
		{0, []string{"127.0.0.1"}, 2, 1},
		{0, []string{"127.0.0.11", "localhost", "::1", "[::1]:9042"}, 8, 4},
		{0, []string{"127.0.0.1"}, 1, 1},
		{0, []string{"127.0.0.1", "10.0.0.2"}, 8, 8},
		{0, []string{"cassandra"}, 4, 4}, // a name other than localhost: no DNS, all cores
		{3, []string{"127.0.0.1"}, 8, 3},
	} {
		got, why := procsFor(tc.flag, tc.hosts, tc.cpus)
		assert.Equal(t, tc.want, got, "flag %d hosts %v cpus %d (%s)", tc.flag, tc.hosts, tc.cpus, why)
	}
	cfg, err := parseConfig(nil, env("CASSANDRA_HOSTS", "10.0.0.1"), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, 2, cfg.engine.ReadGroupInflight, "a remote cluster: the same start; the tuner decides")
	cfg, err = parseConfig([]string{"-read-group-inflight", "6", "-read-group-adaptive=false"}, env(), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, 6, cfg.engine.ReadGroupInflight)
	assert.True(t, cfg.engine.ReadGroupFixed)
	cfg, err = parseConfig(nil, env("READ_GROUP_ADAPTIVE", "false"), &bytes.Buffer{})
	require.NoError(t, err)
	assert.True(t, cfg.engine.ReadGroupFixed)

	cfg, err = parseConfig(nil, env("GOMAXPROCS", "3"), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, 3, cfg.procs, "GOMAXPROCS in the environment is -procs")
	cfg, err = parseConfig([]string{"-procs", "5"}, env("GOMAXPROCS", "3"), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, 5, cfg.procs, "the flag wins")
}

func TestHelpDocumentsEveryFlagAndVariable(t *testing.T) {
	var out bytes.Buffer
	_, err := parseConfig([]string{"-help"}, env(), &out)
	require.ErrorIs(t, err, flag.ErrHelp)
	for _, v := range []string{
		"CASSANDRA_HOSTS", "CASSANDRA_PORT", "CASSANDRA_KEYSPACE", "CASSANDRA_USERNAME", "CASSANDRA_PASSWORD",
		"CASSANDRA_TLS_CA", "CASSANDRA_TLS_CERT", "CASSANDRA_TLS_KEY", "CASSANDRA_TLS_VERIFY_HOST", "CASSANDRA_DC",
		"CASSANDRA_REPLICATION_FACTOR", "CASSANDRA_CONSISTENCY", "CASSANDRA_CONNECT_TIMEOUT", "CASSANDRA_QUERY_TIMEOUT",
		"CASSANDRA_CONNS", "LISTEN_ADDR", "LOG_LEVEL", "LOG_FORMAT", "POOL_SIZE", "QUEUE_DEPTH", "BATCH_MAX",
		"BATCH_LINGER", "BATCH_INFLIGHT", "REQUEST_TIMEOUT", "SHUTDOWN_TIMEOUT", "DRAIN_DELAY", "PPROF_LISTEN", "API_TOKEN",
		"DOCS_AUTH", "READ_GROUP_MAX", "READ_GROUP_INFLIGHT",
	} {
		assert.Contains(t, out.String(), "(env "+v+")")
	}
}

func TestSecretsStayOutOfLogsAndErrors(t *testing.T) {
	cfg, err := parseConfig(nil, env("CASSANDRA_PASSWORD", "hunter2", "API_TOKEN", "tok-secret", "CASSANDRA_USERNAME", "svc"), &bytes.Buffer{})
	require.NoError(t, err)
	var logs bytes.Buffer
	newLogger("json", slog.LevelInfo, &logs).Info("starting", cfg.logAttrs()...)
	assert.NotContains(t, logs.String(), "hunter2")
	assert.NotContains(t, logs.String(), "tok-secret")
	assert.Contains(t, logs.String(), `"api_token":true`)
	assert.Contains(t, logs.String(), `"auth":true`)
	assert.Equal(t, "<redacted>", redact("cassandra-password", "hunter2"))
}

func TestRunExitCodes(t *testing.T) {
	var out bytes.Buffer
	assert.Equal(t, 0, run(context.Background(), func() {}, []string{"-help"}, env(), &out))
	out.Reset()
	assert.Equal(t, 2, run(context.Background(), func() {}, []string{"-pool-size", "x"}, env(), &out))
	assert.Contains(t, out.String(), "-pool-size")
	out.Reset()
	assert.Equal(t, 2, run(context.Background(), func() {}, nil, env("BATCH_MAX", "0"), &out))
	assert.Contains(t, out.String(), "-batch-max")
	assert.True(t, strings.HasPrefix(out.String(), "userapi: "), out.String())

	// Nothing listens on port 1: start-up fails, exit 1, after a logged step.
	out.Reset()
	code := run(context.Background(), func() {}, []string{"-cassandra-port", "1", "-cassandra-connect-timeout", "500ms"}, env(), &out)
	assert.Equal(t, 1, code, "logs: %s", out.String())
	assert.Contains(t, out.String(), "engine start (connect, schema, prepare) failed")
}
