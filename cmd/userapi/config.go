package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"time"

	"github.com/userapi/userapi/engine"
	"github.com/userapi/userapi/httpapi"
)

// config is everything the flags and environment decide.
type config struct {
	engine             engine.Config // Logger is set by main
	http               httpapi.Config
	listen             string
	pprofListen        string
	logLevel           slog.Level
	logFormat          string
	shutdownTimeout    time.Duration
	engineCloseTimeout time.Duration
	drainDelay         time.Duration
	procs              int // GOMAXPROCS to set; see procsFor
	procsWhy           string
}

// envFlag ties a flag to the environment variable that is its fallback.
type envFlag struct {
	name string
	env  string
}

// parseConfig reads flags from args with environment fallbacks from getenv:
// a flag given on the command line wins over its variable, which wins over
// the default. Every error names the flag (and the variable when the bad
// value came from it). -help returns flag.ErrHelp after printing usage.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (config, error) {
	fs := flag.NewFlagSet("userapi", flag.ContinueOnError)
	fs.SetOutput(out)
	// Engine settings default to the engine's own defaults, so the two
	// cannot drift apart.
	d := engine.Config{}.Defaults()
	var envs []envFlag
	env := func(name, variable string) string {
		envs = append(envs, envFlag{name, variable})
		return " (env " + variable + ")"
	}

	var (
		hosts        = fs.String("cassandra-hosts", "127.0.0.1", "comma-separated Cassandra contact points"+env("cassandra-hosts", "CASSANDRA_HOSTS"))
		port         = fs.Int("cassandra-port", d.Port, "Cassandra CQL port"+env("cassandra-port", "CASSANDRA_PORT"))
		keyspace     = fs.String("cassandra-keyspace", d.Keyspace, "keyspace, created when missing"+env("cassandra-keyspace", "CASSANDRA_KEYSPACE"))
		username     = fs.String("cassandra-username", "", "username for PasswordAuthenticator; empty: no authentication"+env("cassandra-username", "CASSANDRA_USERNAME"))
		password     = fs.String("cassandra-password", "", "password for PasswordAuthenticator (never logged)"+env("cassandra-password", "CASSANDRA_PASSWORD"))
		tlsCA        = fs.String("cassandra-tls-ca", "", "PEM CA file; setting it (or a client cert) turns TLS to Cassandra on"+env("cassandra-tls-ca", "CASSANDRA_TLS_CA"))
		tlsCert      = fs.String("cassandra-tls-cert", "", "PEM client certificate for TLS (with -cassandra-tls-key)"+env("cassandra-tls-cert", "CASSANDRA_TLS_CERT"))
		tlsKey       = fs.String("cassandra-tls-key", "", "PEM client key for TLS (with -cassandra-tls-cert)"+env("cassandra-tls-key", "CASSANDRA_TLS_KEY"))
		verifyHost   = fs.Bool("cassandra-tls-verify-host", true, "with TLS, also check the node's certificate names its address; false checks the chain only"+env("cassandra-tls-verify-host", "CASSANDRA_TLS_VERIFY_HOST"))
		dc           = fs.String("cassandra-dc", "", "local datacenter: DC-aware routing and NetworkTopologyStrategy for a new keyspace"+env("cassandra-dc", "CASSANDRA_DC"))
		rf           = fs.Int("cassandra-replication-factor", d.ReplicationFactor, "replication factor of a keyspace this service creates"+env("cassandra-replication-factor", "CASSANDRA_REPLICATION_FACTOR"))
		consistency  = fs.String("consistency", d.Consistency.String(), "default consistency: ONE, LOCAL_ONE, QUORUM, LOCAL_QUORUM, ALL or EACH_QUORUM (a request may override it with X-Consistency-Level)"+env("consistency", "CASSANDRA_CONSISTENCY"))
		connTimeout  = fs.Duration("cassandra-connect-timeout", d.ConnectTimeout, "timeout of connecting to a node"+env("cassandra-connect-timeout", "CASSANDRA_CONNECT_TIMEOUT"))
		queryTimeout = fs.Duration("cassandra-query-timeout", d.QueryTimeout, "driver timeout of one query attempt"+env("cassandra-query-timeout", "CASSANDRA_QUERY_TIMEOUT"))
		conns        = fs.Int("cassandra-conns", d.NumConns, "connections per Cassandra host"+env("cassandra-conns", "CASSANDRA_CONNS"))
		coalesce     = fs.Duration("cassandra-write-coalesce", d.WriteCoalesceWait, "under load, how long the driver holds a query frame to send it with others in one write (0-10ms); 0 sends each at once"+env("cassandra-write-coalesce", "CASSANDRA_WRITE_COALESCE"))
		directBelow  = fs.Int("cassandra-direct-below", d.DirectBelow, "while at most this many queries run, send them on a second set of connections that writes each frame at once (no coalescing wait: lowest latency when lightly loaded); 0 keeps one set"+env("cassandra-direct-below", "CASSANDRA_DIRECT_BELOW"))
		listen       = fs.String("listen", ":8000", "HTTP listen address, host:port"+env("listen", "LISTEN_ADDR"))
		logLevel     = fs.String("log-level", "info", "log level: debug, info, warn or error"+env("log-level", "LOG_LEVEL"))
		logFormat    = fs.String("log-format", "json", "log format: json or text"+env("log-format", "LOG_FORMAT"))
		poolSize     = fs.Int("pool-size", d.PoolSize, "workers running Cassandra queries"+env("pool-size", "POOL_SIZE"))
		queueDepth   = fs.Int("queue-depth", d.QueueDepth, "requests that may wait: queued for a worker or waiting in a read or write line; beyond that requests get 503 at once"+env("queue-depth", "QUEUE_DEPTH"))
		batchMax     = fs.Int("batch-max", d.BatchMax, "most writes per UNLOGGED batch to one replica set (1-1000): the bound within which the engine picks the size from what the node gives (lone writes on a node that syncs before acknowledging, bigger batches where they pay); 1 turns batching off"+env("batch-max", "BATCH_MAX"))
		batchBytes   = fs.Int("batch-max-bytes", d.BatchMaxBytes, "estimated bytes of writes per UNLOGGED batch; keep it below the nodes' batch_size_fail_threshold (50 KiB by default), over which Cassandra refuses a batch and every write in it. A larger write goes alone"+env("batch-max-bytes", "BATCH_MAX_BYTES"))
		batchAdapt   = fs.Bool("batch-adaptive", !d.BatchFixed, "let the engine pick the batch size (lone writes, or up to -batch-max with about 2 x -batch-inflight rows in flight) from measured throughput; false: every batch may hold -batch-max writes and -batch-inflight run per replica set"+env("batch-adaptive", "BATCH_ADAPTIVE"))
		batchLinger  = fs.Duration("batch-linger", d.BatchLinger, "how long a write may wait in its line for company when the line has room; 0 sends it at once"+env("batch-linger", "BATCH_LINGER"))
		batchFlight  = fs.Int("batch-inflight", d.BatchInflight, "batches in flight per replica set; further writes wait and leave as the next batch (adaptive: lone writes are not limited, bigger sizes keep about twice this many rows in flight)"+env("batch-inflight", "BATCH_INFLIGHT"))
		readGroup    = fs.Int("read-group-max", d.ReadGroupMax, "reads of distinct ids sent as one SELECT ... IN when reads queue up (1-256); 1 sends every read alone"+env("read-group-max", "READ_GROUP_MAX"))
		readFlight   = fs.Int("read-group-inflight", d.ReadGroupInflight, "grouped, the read queries in flight per replica set before further reads wait to be grouped into the next"+env("read-group-inflight", "READ_GROUP_INFLIGHT"))
		readAdapt    = fs.Bool("read-group-adaptive", !d.ReadGroupFixed, "let the engine group reads only while that gives more reads/s than sending each at once (measured: across a network a read waits a round trip for its group); false: always group"+env("read-group-adaptive", "READ_GROUP_ADAPTIVE"))
		reqTimeout   = fs.Duration("request-timeout", 5*time.Second, "deadline of one request's database work; past it the answer is 504"+env("request-timeout", "REQUEST_TIMEOUT"))
		drainDelay   = fs.Duration("drain-delay", time.Second, "after SIGTERM or SIGINT, keep serving this long with /ready answering 503, so load balancers stop sending before connections are refused"+env("drain-delay", "DRAIN_DELAY"))
		shutTimeout  = fs.Duration("shutdown-timeout", 15*time.Second, "time allowed, after the drain delay, to stop accepting, end streams and finish in-flight requests"+env("shutdown-timeout", "SHUTDOWN_TIMEOUT"))
		engineClose  = fs.Duration("engine-close-timeout", 10*time.Second, "time allowed, after the HTTP shutdown, to flush batches, run every write already accepted and finish queries, before connections to Cassandra close"+env("engine-close-timeout", "ENGINE_CLOSE_TIMEOUT"))
		pprofListen  = fs.String("pprof-listen", "", "address to serve net/http/pprof on, e.g. 127.0.0.1:6060; empty: off. Keep it off public interfaces"+env("pprof-listen", "PPROF_LISTEN"))
		apiToken     = fs.String("api-token", "", "when set, every endpoint but /health, /ready, /metrics and (unless -docs-auth) /docs and /openapi.json needs 'Authorization: Bearer <token>' (never logged)"+env("api-token", "API_TOKEN"))
		procs        = fs.Int("procs", 0, "OS threads running Go code at once (GOMAXPROCS). 0: all cores, or half of them (at least 1) when every -cassandra-hosts entry is a loopback address: a node on this machine needs the rest, and idle Go threads spin on cores it could use"+env("procs", "GOMAXPROCS"))
		docsAuth     = fs.Bool("docs-auth", false, "with -api-token, also require the token for /docs and /openapi.json (by default they are open, as in FastAPI: the page's Authorize button adds the token to its calls)"+env("docs-auth", "DOCS_AUTH"))
	)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: userapi [flags]\n\n"+
			"The user-management REST API over Apache Cassandra. Every flag falls back to the\n"+
			"environment variable named after it; a flag on the command line wins.\n\nFlags:\n")
		fs.PrintDefaults()
	}

	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q: userapi takes flags only (see -help)", fs.Arg(0))
	}
	onCommandLine := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })
	for _, e := range envs {
		v, ok := lookup(getenv, e.env)
		if !ok || onCommandLine[e.name] {
			continue
		}
		if err := fs.Set(e.name, v); err != nil {
			return config{}, fmt.Errorf("invalid value %q of %s for -%s: %w", redact(e.name, v), e.env, e.name, err)
		}
	}

	var errs []error
	bad := func(name, format string, a ...any) {
		errs = append(errs, fmt.Errorf("-%s: "+format, append([]any{name}, a...)...))
	}

	var hostList []string
	for _, h := range strings.Split(*hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hostList = append(hostList, h)
		}
	}
	if len(hostList) == 0 {
		bad("cassandra-hosts", "no host given")
	}
	if *port < 1 || *port > 65535 {
		bad("cassandra-port", "%d is not a port (1-65535)", *port)
	}
	if !engine.ValidKeyspace(*keyspace) {
		bad("cassandra-keyspace", "%q: use letters, digits and _ (at most 48, starting with a letter)", *keyspace)
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		bad("cassandra-tls-cert", "-cassandra-tls-cert and -cassandra-tls-key go together")
	}
	if *rf < 1 {
		bad("cassandra-replication-factor", "must be at least 1, got %d", *rf)
	}
	cl, err := engine.ParseConsistency(*consistency)
	if err != nil {
		bad("consistency", "%q is not one of ONE, LOCAL_ONE, QUORUM, LOCAL_QUORUM, ALL, EACH_QUORUM", *consistency)
	}
	positive := func(name string, d time.Duration) {
		if d <= 0 {
			bad(name, "must be positive, got %s", d)
		}
	}
	positive("cassandra-connect-timeout", *connTimeout)
	positive("cassandra-query-timeout", *queryTimeout)
	positive("request-timeout", *reqTimeout)
	positive("shutdown-timeout", *shutTimeout)
	positive("engine-close-timeout", *engineClose)
	if *drainDelay < 0 {
		bad("drain-delay", "must not be negative, got %s", *drainDelay)
	}
	if *batchLinger < 0 {
		bad("batch-linger", "must not be negative, got %s", *batchLinger)
	}
	atLeast := func(name string, v, lo int) {
		if v < lo {
			bad(name, "must be at least %d, got %d", lo, v)
		}
	}
	atLeast("cassandra-conns", *conns, 1)
	if *coalesce < 0 || *coalesce > 10*time.Millisecond {
		bad("cassandra-write-coalesce", "must be 0-10ms, got %s", *coalesce)
	}
	atLeast("cassandra-direct-below", *directBelow, 0)
	atLeast("procs", *procs, 0)
	atLeast("pool-size", *poolSize, 1)
	atLeast("queue-depth", *queueDepth, 1)
	atLeast("batch-inflight", *batchFlight, 1)
	atLeast("batch-max-bytes", *batchBytes, 1)
	atLeast("read-group-inflight", *readFlight, 1)
	if *readGroup < 1 || *readGroup > 256 {
		bad("read-group-max", "must be 1-256, got %d", *readGroup)
	}
	if *batchMax < 1 || *batchMax > 1000 {
		bad("batch-max", "must be 1-1000, got %d", *batchMax)
	}
	if _, _, err := net.SplitHostPort(*listen); err != nil {
		bad("listen", "%q is not host:port: %v", *listen, err)
	}
	if *pprofListen != "" {
		if _, _, err := net.SplitHostPort(*pprofListen); err != nil {
			bad("pprof-listen", "%q is not host:port: %v", *pprofListen, err)
		}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		bad("log-level", "%q is not one of debug, info, warn, error", *logLevel)
	}
	if *logFormat != "json" && *logFormat != "text" {
		bad("log-format", "%q is not json or text", *logFormat)
	}
	if err := errors.Join(errs...); err != nil {
		return config{}, err
	}
	nprocs, procsWhy := procsFor(*procs, hostList, runtime.NumCPU())

	return config{
		engine: engine.Config{
			Hosts:             hostList,
			Port:              *port,
			Keyspace:          *keyspace,
			ReplicationFactor: *rf,
			Datacenter:        *dc,
			Consistency:       cl,
			Username:          *username,
			Password:          *password,
			TLS: engine.TLSConfig{
				Enabled:    *tlsCA != "" || *tlsCert != "",
				CAFile:     *tlsCA,
				CertFile:   *tlsCert,
				KeyFile:    *tlsKey,
				VerifyHost: *verifyHost,
			},
			ConnectTimeout:    *connTimeout,
			QueryTimeout:      *queryTimeout,
			NumConns:          *conns,
			WriteCoalesceWait: offIfZero(*coalesce),
			DirectBelow:       offIfZero(*directBelow),
			PoolSize:          *poolSize,
			QueueDepth:        *queueDepth,
			BatchMax:          *batchMax,
			BatchMaxBytes:     *batchBytes,
			BatchFixed:        !*batchAdapt,
			BatchLinger:       *batchLinger,
			BatchInflight:     *batchFlight,
			ReadGroupMax:      *readGroup,
			ReadGroupInflight: *readFlight,
			ReadGroupFixed:    !*readAdapt,
		},
		http: httpapi.Config{
			RequestTimeout: *reqTimeout,
			APIToken:       *apiToken,
			DocsAuth:       *docsAuth,
		},
		listen:             *listen,
		pprofListen:        *pprofListen,
		logLevel:           level,
		logFormat:          *logFormat,
		shutdownTimeout:    *shutTimeout,
		engineCloseTimeout: *engineClose,
		drainDelay:         *drainDelay,
		procs:              nprocs,
		procsWhy:           procsWhy,
	}, nil
}

// procsFor decides GOMAXPROCS: the -procs value (or GOMAXPROCS from the
// environment) when given, else every core, or half of them when all the
// Cassandra hosts are on this machine. Measured on 2 cores shared with the
// node (GET by id at 64 connections, alternating runs): one P answered
// 19.8-22.9K/s at 22-26 us of server CPU per request against 14.8-25.2K/s at
// 23-37 us with two, and the node spent less per read too; creates and the
// mixed load were alike. Go's idle Ps spin looking for work before they
// sleep, on cores the node needs.
func procsFor(flagValue int, hosts []string, cpus int) (int, string) {
	if flagValue > 0 {
		return flagValue, "-procs"
	}
	if !allLoopback(hosts) {
		return cpus, "all cores"
	}
	return max(1, cpus/2), "half the cores: Cassandra is on this machine"
}

// allLoopback reports whether every host names this machine.
func allLoopback(hosts []string) bool {
	for _, h := range hosts {
		if !loopbackHost(h) {
			return false
		}
	}
	return len(hosts) > 0
}

// loopbackHost reports whether a -cassandra-hosts entry (host or host:port)
// names this machine without a DNS lookup: localhost or a loopback IP.
func loopbackHost(h string) bool {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}

// lookup treats a variable set to the empty string as unset, so that
// `FOO= userapi` does not turn a numeric flag into a parse error.
func lookup(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

// redact keeps secrets out of error messages (which are printed).
func redact(flagName, v string) string {
	if secretFlag(flagName) {
		return redacted
	}
	return v
}

const redacted = "<redacted>"

// secretFlag reports whether a flag's value is a secret: never logged,
// printed or shown by pprof's cmdline (redactArgs).
func secretFlag(name string) bool { return name == "cassandra-password" || name == "api-token" }

// logAttrs describes the configuration for the start-up log, without
// secrets: only whether they are set.
func (c config) logAttrs() []any {
	e := c.engine
	return []any{
		"cassandra_hosts", e.Hosts, "cassandra_port", e.Port, "keyspace", e.Keyspace,
		"datacenter", e.Datacenter, "replication_factor", e.ReplicationFactor,
		"consistency", e.Consistency.String(), "auth", e.Username != "", "username", e.Username,
		"tls", e.TLS.Enabled, "tls_verify_host", e.TLS.VerifyHost,
		"connect_timeout", e.ConnectTimeout.String(), "query_timeout", e.QueryTimeout.String(),
		"conns", e.NumConns, "pool_size", e.PoolSize, "queue_depth", e.QueueDepth,
		"batch_max", e.BatchMax, "batch_adaptive", !e.BatchFixed, "batch_max_bytes", e.BatchMaxBytes, "batch_linger", e.BatchLinger.String(), "batch_inflight", e.BatchInflight,
		"read_group_max", e.ReadGroupMax, "read_group_inflight", e.ReadGroupInflight, "read_group_adaptive", !e.ReadGroupFixed,
		"listen", c.listen, "pprof_listen", c.pprofListen, "request_timeout", c.http.RequestTimeout.String(),
		"shutdown_timeout", c.shutdownTimeout.String(), "engine_close_timeout", c.engineCloseTimeout.String(), "drain_delay", c.drainDelay.String(), "api_token", c.http.APIToken != "",
		"docs_auth", c.http.DocsAuth, "procs", c.procs, "procs_from", c.procsWhy,
		"log_level", c.logLevel.String(), "log_format", c.logFormat,
	}
}

// offIfZero maps a flag's 0 ("off") to the engine's negative "off"; the
// engine reads a zero field as "use the default".
func offIfZero[T int | time.Duration](v T) T {
	if v == 0 {
		return -1
	}
	return v
}
