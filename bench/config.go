package bench

import (
	"fmt"
	"io"
	"net/url"
	"strconv"
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
	Mixed  Scenario = "mix"    // weighted choice among the above (Config.Mix)
)

// Scenarios lists the scenario names that Config.Scenario accepts.
var Scenarios = []Scenario{Get, Create, Batch, Update, List, Delete, Mixed}

// Header is one extra request header.
type Header struct {
	Key, Value string
}

// Config describes one HTTP load run. The zero value of a field means its
// default; Run validates the whole.
type Config struct {
	// URL is the request URL in plain mode, and the API's base URL
	// (scheme, host, optional path prefix) for a scenario.
	URL         string
	Method      string // default GET, or POST when Body is set
	Body        []byte
	ContentType string // default application/json when Body is set
	Headers     []Header

	// When to stop: after Requests requests, after Duration, whichever
	// comes first; at least one must be set. TimeLimit caps the whole run,
	// warm-up included, and ends it early without an error.
	Requests  int64
	Duration  time.Duration
	TimeLimit time.Duration

	Concurrency int // connections (and requests in flight); default 1

	// Rate, when positive, sends Rate requests per second in total on a
	// fixed schedule; latency then counts from each request's intended send
	// time. Requests still unsent Timeout after the schedule ends are
	// reported as Unsent.
	Rate float64

	KeepAlive bool          // reuse connections; off, every request opens one (ab without -k)
	Timeout   time.Duration // per request; default 10s

	Scenario  Scenario
	Mix       Mix // weights for the mix scenario; default read=80,write=20
	BatchSize int // users per POST /users/batch; default 10
	ListLimit int // rows per page for list; default 20

	// Warmup is, in plain mode, the number of unmeasured requests sent
	// first; in a scenario that needs ids, the number of users created
	// before measuring (default 1000).
	Warmup int

	// Threads, when positive, is GOMAXPROCS for the duration of the run
	// (wrk's -t). Run restores the previous value.
	Threads int

	// AllowRemote permits a target outside 127.0.0.0/8 and ::1.
	AllowRemote bool

	// WatchPID, when positive, is a process (the server) whose CPU time and
	// peak RSS over the measured phase go into Result.Server.
	WatchPID int

	// Progress, when non-nil, receives a status line every second once the
	// run has lasted 3 seconds; pass a terminal, not a log file.
	Progress io.Writer

	Labels map[string]string // copied into the JSON summary
	Seed   uint64            // body and id choice; 0 picks one
}

// ConfigError reports an invalid Config field; cmd/loadgen maps Field to
// the flag that sets it.
type ConfigError struct {
	Field string
	Msg   string
}

func (e *ConfigError) Error() string { return strings.ToLower(e.Field) + ": " + e.Msg }

func fieldErr(field, format string, args ...any) error {
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
		return cfg, fieldErr("URL", "is required")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return cfg, fieldErr("URL", "%q is not an http:// or https:// URL with a host", cfg.URL)
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 1
	}
	if cfg.Concurrency < 0 || cfg.Concurrency > maxConcurrency {
		return cfg, fieldErr("Concurrency", "must be between 1 and %d, not %d", maxConcurrency, cfg.Concurrency)
	}
	if cfg.Requests < 0 {
		return cfg, fieldErr("Requests", "must not be negative")
	}
	if cfg.Duration < 0 || cfg.TimeLimit < 0 {
		return cfg, fieldErr("Duration", "must not be negative")
	}
	if cfg.Requests == 0 && cfg.Duration == 0 && cfg.TimeLimit == 0 {
		return cfg, fieldErr("Requests", "set a request count, a duration or a time limit")
	}
	if cfg.Rate < 0 {
		return cfg, fieldErr("Rate", "must not be negative")
	}
	if cfg.Rate > 0 && cfg.Requests == 0 && cfg.Duration == 0 {
		return cfg, fieldErr("Rate", "needs a request count or a duration to fix the schedule")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = defaultTimeout
	}
	if cfg.Timeout < 0 {
		return cfg, fieldErr("Timeout", "must be positive")
	}
	if cfg.Threads < 0 {
		return cfg, fieldErr("Threads", "must not be negative")
	}
	if cfg.Warmup < 0 {
		return cfg, fieldErr("Warmup", "must not be negative")
	}
	switch cfg.Scenario {
	case Plain:
		if cfg.Method == "" {
			cfg.Method = "GET"
			if cfg.Body != nil {
				cfg.Method = "POST"
			}
		}
		cfg.Method = strings.ToUpper(cfg.Method)
	case Get, Create, Batch, Update, List, Delete, Mixed:
		if cfg.Method != "" || cfg.Body != nil {
			return cfg, fieldErr("Scenario", "a scenario builds its own requests: drop the method and body")
		}
	default:
		return cfg, fieldErr("Scenario", "unknown scenario %q (want one of %s)", cfg.Scenario, scenarioNames())
	}
	if cfg.Body != nil && cfg.ContentType == "" {
		cfg.ContentType = "application/json"
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = defaultBatchSize
	}
	if cfg.BatchSize < 1 || cfg.BatchSize > maxBatchSize {
		return cfg, fieldErr("BatchSize", "must be between 1 and %d, not %d", maxBatchSize, cfg.BatchSize)
	}
	if cfg.ListLimit == 0 {
		cfg.ListLimit = defaultListLimit
	}
	if cfg.ListLimit < 1 || cfg.ListLimit > maxListLimit {
		return cfg, fieldErr("ListLimit", "must be between 1 and %d, not %d", maxListLimit, cfg.ListLimit)
	}
	if cfg.Scenario == Mixed {
		if len(cfg.Mix) == 0 {
			cfg.Mix = DefaultMix()
		}
		if err := cfg.Mix.validate(); err != nil {
			return cfg, err
		}
	}
	if cfg.Scenario != Plain && cfg.Warmup == 0 {
		cfg.Warmup = defaultWarmupIDs
	}
	return cfg, nil
}

func scenarioNames() string {
	names := make([]string, len(Scenarios))
	for i, s := range Scenarios {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// MixEntry is one weighted operation of a mix.
type MixEntry struct {
	Op     Scenario
	Weight int
}

// Mix is a weighted choice of operations; see ParseMix.
type Mix []MixEntry

// DefaultMix is 80% get-by-id, 20% create.
func DefaultMix() Mix { return Mix{{Get, 80}, {Create, 20}} }

// ParseMix reads "read=80,write=20" or any of get, create, batch, update,
// list, delete with integer weights; read means get and write means create.
func ParseMix(s string) (Mix, error) {
	var m Mix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, w, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fieldErr("Mix", "%q is not op=weight", part)
		}
		weight, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || weight < 0 {
			return nil, fieldErr("Mix", "weight %q of %s is not a non-negative integer", w, name)
		}
		op := Scenario(strings.ToLower(strings.TrimSpace(name)))
		switch op {
		case "read":
			op = Get
		case "write":
			op = Create
		}
		m = append(m, MixEntry{op, weight})
	}
	return m, m.validate()
}

func (m Mix) validate() error {
	total := 0
	seen := map[Scenario]bool{}
	for _, e := range m {
		switch e.Op {
		case Get, Create, Batch, Update, List, Delete:
		default:
			return fieldErr("Mix", "unknown operation %q (want read, write, get, create, batch, update, list or delete)", e.Op)
		}
		if seen[e.Op] {
			return fieldErr("Mix", "operation %s appears twice", e.Op)
		}
		seen[e.Op] = true
		total += e.Weight
	}
	if total <= 0 {
		return fieldErr("Mix", "weights must add up to more than zero")
	}
	return nil
}

// String renders the mix the way ParseMix reads it.
func (m Mix) String() string {
	parts := make([]string, len(m))
	for i, e := range m {
		parts[i] = fmt.Sprintf("%s=%d", e.Op, e.Weight)
	}
	return strings.Join(parts, ",")
}

func (m Mix) weight(op Scenario) int {
	for _, e := range m {
		if e.Op == op {
			return e.Weight
		}
	}
	return 0
}
