package load

import (
	"fmt"
	"io"
	"net/url"
	"regexp"
	"runtime"
	"strings"
	"time"
)

// Scenario names a request pattern against the user API. The empty scenario
// (Plain) sends the one request that Config describes, as ab and wrk do.
type Scenario string

// The scenarios; see Config.Scenario.
const (
	Plain  Scenario = ""
	Get    Scenario = "get"    // GET /users/{id} over ids created in the warm-up
	Create Scenario = "create" // POST /users with a varied body
	Batch  Scenario = "batch"  // POST /users/batch with Config.BatchSize users
	Update Scenario = "update" // PUT /users/{id} with a partial body
	List   Scenario = "list"   // GET /users?limit=N, following X-Next-Page-State
	Delete Scenario = "delete" // DELETE /users/{id}, each id once
	Mixed  Scenario = "mixed"  // weighted choice among the above (Config.Mix); "mix" reads as mixed
)

// Scenarios lists the scenario names that Config.Scenario accepts.
var Scenarios = []Scenario{Get, Create, Batch, Update, List, Delete, Mixed}

// Header is one extra request header.
type Header struct {
	Key, Value string
}

// Load is what an HTTP run (Config) and a raw run (RawConfig) share: how
// much load for how long, the scenario, what to watch and how to label the
// result. The zero value of a field means its default.
type Load struct {
	// When to stop: after Requests requests, after Duration, whichever
	// comes first; at least one must be set. TimeLimit caps the whole run,
	// warm-up included, and ends it early without an error.
	Requests  int64
	Duration  time.Duration
	TimeLimit time.Duration

	Concurrency int // connections or CQL callers with a request in flight; default 1

	// Rate, when positive, sends Rate requests per second in total on a
	// fixed schedule; latency then counts from each request's intended send
	// time. Requests still unsent Timeout after the schedule ends are
	// reported as Unsent.
	Rate    float64
	Timeout time.Duration // per request; default 10s

	Scenario Scenario
	Mix      Mix // weights for the mix scenario; default read=80,write=20

	// Warmup is, for a scenario that needs ids, the number of users (raw:
	// rows) created before measuring (default 1000); in HTTP plain mode,
	// the number of unmeasured requests sent first (default 0).
	Warmup int

	// Threads, when positive, is GOMAXPROCS for the duration of the run
	// (wrk's -t). The run restores the previous value.
	Threads int

	// AllowRemote permits a target outside 127.0.0.0/8 and ::1.
	AllowRemote bool

	// WatchPID, when positive, is a process (the server) whose CPU time and
	// peak RSS over the measured phase go into Result.Server. loadgen's own
	// CPU time always goes into Result.Client.
	WatchPID int

	// Progress, when non-nil, receives a status line every second once the
	// run has lasted 3 seconds; pass a terminal, not a log file.
	Progress io.Writer

	Labels map[string]string // copied into the JSON summary
	Seed   uint64            // body and id choice; 0 picks one

	// Window, when positive with OnWindow set, cuts the measured phase
	// into intervals of this length: a soak's per-window p50/p99 and
	// errors. OnWindow runs on its own goroutine, once per interval and
	// once for the last partial one, before the run returns.
	Window   time.Duration
	OnWindow func(Window)
}

// withDefaults checks and completes the fields every run shares; the
// caller checks which scenarios it can run.
func (l Load) withDefaults() (Load, error) {
	Default(&l.Concurrency, 1)
	Default(&l.Timeout, defaultTimeout)
	if l.Scenario == Mixed && len(l.Mix) == 0 {
		l.Mix = DefaultMix()
	}
	if l.Scenario != Plain {
		Default(&l.Warmup, defaultWarmupIDs)
	}
	switch {
	case l.Concurrency < 0 || l.Concurrency > maxConcurrency:
		return l, FieldError("Concurrency", "must be between 1 and %d, not %d", maxConcurrency, l.Concurrency)
	case l.Requests < 0:
		return l, FieldError("Requests", "must not be negative")
	case l.Duration < 0 || l.TimeLimit < 0:
		return l, FieldError("Duration", "must not be negative")
	case l.Requests == 0 && l.Duration == 0 && l.TimeLimit == 0:
		return l, FieldError("Requests", "set a request count, a duration or a time limit")
	case l.Rate < 0:
		return l, FieldError("Rate", "must not be negative")
	case l.Rate > 0 && l.Requests == 0 && l.Duration == 0:
		return l, FieldError("Rate", "needs a request count or a duration to fix the schedule")
	case l.Timeout < 0:
		return l, FieldError("Timeout", "must be positive")
	case l.Threads < 0:
		return l, FieldError("Threads", "must not be negative")
	case l.Warmup < 0:
		return l, FieldError("Warmup", "must not be negative")
	case l.Scenario == Mixed:
		return l, l.Mix.validate()
	}
	return l, nil
}

// plan is the driver's part of the load, for the given operations.
func (l Load) plan(ops []string) plan {
	return plan{concurrency: l.Concurrency, requests: l.Requests, duration: l.Duration, rate: l.Rate, grace: l.Timeout,
		ops: ops, progress: l.Progress, window: l.Window, onWindow: l.OnWindow}
}

// describe copies the load's description into a finished run's result.
func (l Load) describe(res *Result) {
	res.Scenario = string(l.Scenario)
	if l.Scenario == Mixed {
		res.Mix = l.Mix.String()
	}
	res.Concurrency = l.Concurrency
	res.Threads = runtime.GOMAXPROCS(0) // as set for the run
	res.Rate = l.Rate
	res.Labels = l.Labels
}

// Config describes one HTTP load run; Run validates it.
type Config struct {
	// URL is the request URL in plain mode, and the API's base URL
	// (scheme, host, optional path prefix) for a scenario.
	URL         string
	Method      string // default GET, or POST when Body is set
	Body        []byte
	ContentType string // default application/json when Body is set
	Headers     []Header

	KeepAlive bool // reuse connections; off, every request opens one (ab without -k)
	BatchSize int  // users per POST /users/batch; default 10
	ListLimit int  // rows per page for list; default 20

	// ReadIDs, when set, are the ids get and update read instead of
	// users created in a warm-up: a preloaded table's, spread over all of
	// it rather than a few recent rows still in the memtable.
	ReadIDs []string
	// Created, when set, receives the body of every 201 answer to a
	// create or batch create, on the worker's goroutine; it must copy
	// what it keeps. A soak checks those users are readable at the end.
	Created func(body []byte)

	Load
}

// ConfigError reports an invalid Config field; cmd/loadgen maps Field to
// the flag that sets it.
type ConfigError struct {
	Field string
	Msg   string
}

func (e *ConfigError) Error() string { return strings.ToLower(e.Field) + ": " + e.Msg }

// FieldError reports an invalid config field as a *ConfigError.
func FieldError(field, format string, args ...any) error {
	return &ConfigError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

const (
	defaultTimeout   = 10 * time.Second
	defaultWarmupIDs = 1000
	defaultBatchSize = 10
	defaultListLimit = 20
	maxBatchSize     = 1000 // the API's limit for POST /users/batch
	maxListLimit     = 1000
	maxConcurrency   = 100000
)

// withDefaults returns cfg with defaults applied, or the first invalid field.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.URL == "" {
		return cfg, FieldError("URL", "is required")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return cfg, FieldError("URL", "%q is not an http:// or https:// URL with a host", cfg.URL)
	}
	switch cfg.Scenario {
	case Plain:
		if cfg.Body != nil {
			Default(&cfg.Method, "POST")
		}
		Default(&cfg.Method, "GET")
		cfg.Method = strings.ToUpper(cfg.Method)
	case Get, Create, Batch, Update, List, Delete, Mixed:
		if cfg.Method != "" || cfg.Body != nil {
			return cfg, FieldError("Scenario", "a scenario builds its own requests: drop the method and body")
		}
	default:
		return cfg, FieldError("Scenario", "unknown scenario %q (want one of %s)", cfg.Scenario, scenarioNames())
	}
	if cfg.Load, err = cfg.Load.withDefaults(); err != nil {
		return cfg, err
	}
	if cfg.Body != nil {
		Default(&cfg.ContentType, "application/json")
	}
	Default(&cfg.BatchSize, defaultBatchSize)
	Default(&cfg.ListLimit, defaultListLimit)
	switch {
	case cfg.BatchSize < 1 || cfg.BatchSize > maxBatchSize:
		return cfg, FieldError("BatchSize", "must be between 1 and %d, not %d", maxBatchSize, cfg.BatchSize)
	case cfg.ListLimit < 1 || cfg.ListLimit > maxListLimit:
		return cfg, FieldError("ListLimit", "must be between 1 and %d, not %d", maxListLimit, cfg.ListLimit)
	}
	return cfg, nil
}

// ParseScenario reads a scenario name, case-insensitively; "mix" is the
// older name of mixed (wrk's mix.lua, the -scenario mix of earlier docs).
func ParseScenario(s string) Scenario {
	sc := Scenario(strings.ToLower(strings.TrimSpace(s)))
	if sc == "mix" {
		return Mixed
	}
	return sc
}

// ValidKeyspace reports whether name is a keyspace name the harness may
// create or drop: a lowercase letter, then up to 47 of a-z, 0-9, _.
func ValidKeyspace(name string) bool { return keyspaceName.MatchString(name) }

var keyspaceName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,47}$`)

// Default sets *p to v when it holds the zero value: how every config of
// the harness takes its defaults.
func Default[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

func scenarioNames() string {
	names := make([]string, len(Scenarios))
	for i, s := range Scenarios {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}
