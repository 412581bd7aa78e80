package harness

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/userapi/userapi/bench/load"
	"github.com/userapi/userapi/internal/proc"
)

// Config is what every run shares: where its results go, the programs it
// starts, the node and the server's port. The suite's, sweep's, soak's and
// large-table run's configs embed it.
type Config struct {
	Out     string // results directory; default bench/results/<kind><UTC timestamp>
	UserAPI string // the server binary; default bin/userapi
	Loadgen string // loadgen, which drives each load and serves the baselines; default this executable
	Hosts   string // Cassandra contact points, comma separated; default 127.0.0.1
	// Port is the server's on 127.0.0.1 (one server at a time); FreePort
	// picks a free one.
	Port         int
	UserAPIFlags []string  // extra flags for every server start
	Log          io.Writer // progress lines; default stderr
}

// FreePort as a port asks for any free one.
const FreePort = -1

// Defaults returns c with every zero field set: kind prefixes the
// timestamped results directory ("sweep-"), port is the server's.
func (c Config) Defaults(kind string, port int) Config {
	exe, _ := os.Executable()
	load.Default(&c.Out, filepath.Join("bench", "results", kind+time.Now().UTC().Format("20060102T150405Z")))
	load.Default(&c.UserAPI, filepath.Join("bin", "userapi"))
	load.Default(&c.Loadgen, exe)
	load.Default(&c.Hosts, "127.0.0.1")
	load.Default(&c.Port, port)
	load.Default[io.Writer](&c.Log, os.Stderr)
	return c
}

// CheckNames refuses any of names that known does not hold; field and
// what name the setting and its kind in the error ("Modes", "mode").
func CheckNames(field, what string, names, known []string) error {
	for _, n := range names {
		if !slices.Contains(known, n) {
			return load.FieldError(field, "unknown %s %q (want %s)", what, n, strings.Join(known, ", "))
		}
	}
	return nil
}

// Needs says what a run needs before it starts, so that it fails at once
// with what to do rather than minutes in.
type Needs struct{ API, Loadgen, Cassandra bool }

func (c Config) check(n Needs) error {
	if n.Loadgen {
		if _, err := os.Stat(c.Loadgen); err != nil {
			return fmt.Errorf("loadgen binary: %w (go build -o bin/loadgen ./cmd/loadgen)", err)
		}
	}
	if n.API {
		if _, err := os.Stat(c.UserAPI); err != nil {
			return fmt.Errorf("server binary: %w (make build)", err)
		}
	}
	if n.Cassandra {
		hosts := load.HostsList(c.Hosts)
		if len(hosts) == 0 {
			return load.FieldError("Hosts", "no Cassandra contact point")
		}
		addr := hosts[0]
		if _, _, err := net.SplitHostPort(addr); err != nil {
			addr = net.JoinHostPort(addr, "9042")
		}
		if !proc.Listening(addr) {
			return fmt.Errorf("cassandra does not answer at %s: start it with make cassandra-up (scripts/cassandra.sh start), or set CASSANDRA_HOSTS", addr)
		}
	}
	return nil
}
