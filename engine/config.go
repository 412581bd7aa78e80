package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"
)

// Config configures an Engine. The zero value of each field means its
// default (see Defaults); New validates the result.
type Config struct {
	Hosts    []string // contact points; default 127.0.0.1
	Port     int      // CQL port; default 9042
	Keyspace string   // default "user_management"

	// Replication for the keyspace the engine creates: SimpleStrategy with
	// ReplicationFactor, or NetworkTopologyStrategy {Datacenter: RF} when
	// Datacenter is set. Datacenter also makes host selection DC-aware.
	ReplicationFactor int
	Datacenter        string

	Consistency Consistency // default LOCAL_QUORUM

	Username string
	Password string
	TLS      TLSConfig

	ConnectTimeout time.Duration // default 5s
	QueryTimeout   time.Duration // per-attempt driver timeout; default 2s
	NumConns       int           // connections per host; default 2
	// WriteCoalesceWait is how long gocql holds a frame to write it together
	// with others (one writev); default 200us, gocql's own. Under load that
	// saves a syscall per query; on an idle connection it costs about 1.2 ms
	// (Go rounds short timers up when the runtime is idle), which DirectBelow
	// avoids. Negative: every frame is written at once.
	WriteCoalesceWait time.Duration
	// DirectBelow: while at most this many queries execute, a query goes
	// through a second set of connections that writes each frame at once.
	// Default 4; negative keeps one set (and the wait for every query).
	DirectBelow int
	Retries     int // retries of idempotent statements; default 2
	// ReconnectInterval is how often a down host is retried; default 1s.
	ReconnectInterval time.Duration

	// PoolSize workers run queries; QueueDepth more requests may wait.
	// Beyond both, calls fail at once with ErrOverloaded.
	PoolSize   int // default 256
	QueueDepth int // default 4096

	// BatchMax bounds statements per UNLOGGED batch; 1 turns batching off.
	// Within it the write lines' tuner (tuner.go) picks the size from what
	// the node gives: lone writes on a node that syncs its commit log before
	// acknowledging (Cassandra applies a batch's local mutations one after
	// another, each waiting for the sync), batches up to BatchMax on one that
	// syncs periodically.
	BatchMax int // default 16
	// BatchFixed turns the tuner off: every batch may hold BatchMax writes
	// and BatchInflight units run per replica set, as configured.
	BatchFixed bool
	// BatchMaxBytes caps the estimated size of a batch's writes (writeSize),
	// which must stay below the node's batch_size_fail_threshold (50 KiB by
	// default): Cassandra refuses a larger batch whole, failing every write
	// in it. A write larger than the cap goes alone. Default 40 KiB.
	BatchMaxBytes int
	// BatchLinger optionally holds a non-full batch up to this long; 0 flushes
	// as soon as nothing more is queued for its replicas.
	BatchLinger time.Duration
	// BatchInflight caps the units (batches) of a replica set executing at
	// once, so that writes arriving meanwhile gather into the next batch.
	// With the tuner it sets the batch sizes' limits, about twice as many
	// rows in flight (size 16: 4 batches); its lone writes are not capped
	// (the pool bounds them). Fixed, it caps every unit, lone or batched.
	BatchInflight int // default 32

	// ReadGroupMax caps the reads of distinct ids sent as one
	// `SELECT ... WHERE id IN ?` when reads queue up (readgroup.go); 1 sends
	// every read alone.
	ReadGroupMax int // default 16
	// ReadGroupInflight: grouped, the queries per replica set in flight
	// before further reads wait to be grouped into the next one. The read
	// lines' tuner (tuner.go) groups only while that gives more reads/s than
	// sending each read at once (with the node across a network it does
	// not: a read waits a round trip for its group to leave). 2: GET by id
	// at 64 connections on the 2-core dev machine with the node on it,
	// alternating (7 rounds), 2 won 6 against 4, median 27.0K vs 21.9K/s,
	// mean group 14.5 vs 11 ids.
	ReadGroupInflight int // default 2
	// ReadGroupFixed turns the read tuner off: reads always group as above.
	ReadGroupFixed bool

	// BatchIgnoreReplicas groups writes by consistency level only: plain
	// multi-partition batches, the baseline that shows what replica-aware
	// grouping buys. Benchmarks only.
	BatchIgnoreReplicas bool

	// Dialer, when set, opens every connection to Cassandra (a proxy, or a
	// test's fault injector); net.Dialer satisfies it. Default: the driver's.
	Dialer Dialer

	// SkipSchema leaves keyspace and table creation to someone else.
	SkipSchema bool

	Logger *slog.Logger
}

// Dialer opens a connection to a node's address.
type Dialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// TLSConfig enables TLS to Cassandra when CAFile or CertFile is set.
type TLSConfig struct {
	Enabled    bool
	CAFile     string
	CertFile   string
	KeyFile    string
	VerifyHost bool
}

// Defaults returns c with every zero field set to its default.
func (c Config) Defaults() Config {
	if len(c.Hosts) == 0 {
		c.Hosts = []string{"127.0.0.1"}
	}
	if c.Port == 0 {
		c.Port = 9042
	}
	if c.Keyspace == "" {
		c.Keyspace = "user_management"
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = 1
	}
	if c.Consistency == DefaultConsistency {
		c.Consistency = LocalQuorum
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 5 * time.Second
	}
	if c.QueryTimeout == 0 {
		c.QueryTimeout = 2 * time.Second
	}
	if c.NumConns == 0 {
		c.NumConns = 2
	}
	if c.WriteCoalesceWait == 0 {
		c.WriteCoalesceWait = 200 * time.Microsecond
	}
	if c.DirectBelow == 0 {
		c.DirectBelow = 4
	}
	if c.Retries == 0 {
		c.Retries = 2
	}
	if c.ReconnectInterval == 0 {
		c.ReconnectInterval = time.Second
	}
	if c.PoolSize == 0 {
		c.PoolSize = 256
	}
	if c.QueueDepth == 0 {
		c.QueueDepth = 4096
	}
	if c.BatchMax == 0 {
		c.BatchMax = 16
	}
	if c.BatchMaxBytes == 0 {
		c.BatchMaxBytes = 40 << 10
	}
	if c.BatchInflight == 0 {
		c.BatchInflight = 32
	}
	if c.ReadGroupMax == 0 {
		c.ReadGroupMax = 16
	}
	if c.ReadGroupInflight == 0 {
		c.ReadGroupInflight = 2
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.TLS.CAFile != "" || c.TLS.CertFile != "" {
		c.TLS.Enabled = true
	}
	return c
}

// Validate reports the first setting that cannot work, naming its field.
func (c Config) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.Port > 0 && c.Port < 65536, "Port %d out of range 1-65535", c.Port)
	check(ValidKeyspace(c.Keyspace), "Keyspace %q: use letters, digits and _ (at most 48, starting with a letter)", c.Keyspace)
	check(c.ReplicationFactor >= 1, "ReplicationFactor must be at least 1")
	check(c.PoolSize >= 1, "PoolSize must be at least 1")
	check(c.QueueDepth >= 1, "QueueDepth must be at least 1 (0 is the default's marker: Defaults makes it 4096)")
	check(c.BatchMax >= 1 && c.BatchMax <= 1000, "BatchMax must be 1-1000")
	check(c.BatchMaxBytes >= 1, "BatchMaxBytes must be at least 1")
	check(c.BatchInflight >= 1, "BatchInflight must be at least 1")
	check(c.BatchLinger >= 0, "BatchLinger must not be negative")
	check(c.ReadGroupMax >= 1 && c.ReadGroupMax <= 256, "ReadGroupMax must be 1-256")
	check(c.ReadGroupInflight >= 1, "ReadGroupInflight must be at least 1")
	check(c.NumConns >= 1, "NumConns must be at least 1")
	check(c.WriteCoalesceWait <= 10*time.Millisecond, "WriteCoalesceWait must be at most 10ms")
	check(c.Retries >= 0, "Retries must not be negative")
	check((c.TLS.CertFile == "") == (c.TLS.KeyFile == ""), "TLS CertFile and KeyFile go together")
	if _, ok := consistencyToGocql(c.Consistency); !ok {
		errs = append(errs, fmt.Errorf("Consistency %d unknown", c.Consistency))
	}
	return errors.Join(errs...)
}

// ValidKeyspace reports whether s is a keyspace name the engine accepts:
// letters, digits and _, starting with a letter, at most 48 characters.
func ValidKeyspace(s string) bool {
	if len(s) == 0 || len(s) > 48 {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case (r >= '0' && r <= '9' || r == '_') && i > 0:
		default:
			return false
		}
	}
	return true
}
