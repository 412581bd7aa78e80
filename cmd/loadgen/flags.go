package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/userapi/userapi/bench"
)

// usageError is a bad command line: exit status 2, as flag does.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func badFlag(name, format string, args ...any) error {
	return usageError{fmt.Sprintf("-%s: %s", name, fmt.Sprintf(format, args...))}
}

// fieldFlags maps bench config fields to the flags that set them, so that
// a library validation error names what the user typed.
var fieldFlags = map[string]string{
	"URL": "url", "Concurrency": "c", "Requests": "n", "Duration": "d", "Rate": "R",
	"Timeout": "timeout", "Threads": "threads", "Warmup": "warmup", "Scenario": "scenario",
	"Mix": "mix", "BatchSize": "batch-size", "ListLimit": "list-limit", "Format": "format",
	"Keyspace": "keyspace", "Consistency": "consistency", "NumConns": "conns",
	"Modes": "modes", "Scenarios": "scenarios", "Conns": "c", "Repeats": "repeats",
	"Step": "d", "Rates": "rates", "RateConns": "rate-c", "P99Bound": "p99-bound",
}

// asUsage turns a bench.ConfigError into a usageError naming the flag.
func asUsage(err error) error {
	var ce *bench.ConfigError
	if errors.As(err, &ce) {
		if f, ok := fieldFlags[ce.Field]; ok {
			return badFlag(f, "%s", ce.Msg)
		}
	}
	return err
}

// headerList is -H, repeatable: "Name: value".
type headerList []bench.Header

func (h *headerList) String() string { return "" }

func (h *headerList) Set(s string) error {
	k, v, ok := strings.Cut(s, ":")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("want \"Name: value\", got %q", s)
	}
	*h = append(*h, bench.Header{Key: strings.TrimSpace(k), Value: strings.TrimSpace(v)})
	return nil
}

// labelMap is -label, repeatable: key=value, carried into the JSON.
type labelMap map[string]string

func (l labelMap) String() string { return "" }

func (l labelMap) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", s)
	}
	l[k] = v
	return nil
}

// seconds is a duration flag that also takes a bare number of seconds, as
// ab's -t and wrk's -d do ("30" is 30s; "1m" and "1.5s" work too).
type seconds struct{ d *time.Duration }

func (s seconds) String() string {
	if s.d == nil || *s.d == 0 {
		return ""
	}
	return s.d.String()
}

func (s seconds) Set(v string) error {
	d, err := parseSeconds(v)
	if err != nil {
		return err
	}
	*s.d = d
	return nil
}

func parseSeconds(v string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if f < 0 {
			return 0, errors.New("must not be negative")
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("want seconds or a duration like 10s or 1m, got %q", v)
	}
	if d < 0 {
		return 0, errors.New("must not be negative")
	}
	return d, nil
}

// parseInterspersed parses flags that may come before or after positional
// arguments (ab and wrk take the URL anywhere), returning the positionals.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// isSet reports whether the flag was given on the command line.
func isSet(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			found = true
		}
	})
	return found
}

// isTerminal reports whether f is a character device: where a progress
// line helps rather than litters a log.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// writeOut renders the run to stdout and, with -out, its JSON to a file.
func writeOut(stdout io.Writer, res *bench.Result, format, out string) error {
	if err := bench.WriteReport(stdout, res, bench.Format(format)); err != nil {
		return err
	}
	if out == "" {
		return nil
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := bench.WriteJSON(f, res); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func checkFormat(format string) error {
	switch bench.Format(format) {
	case bench.FormatAB, bench.FormatWrk, bench.FormatJSON:
		return nil
	}
	return badFlag("format", "want ab, wrk or json, not %q", format)
}

// startCPUProfile profiles loadgen itself into path ("" does nothing); the
// returned function stops and flushes it.
func startCPUProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, badFlag("cpuprofile", "%v", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, badFlag("cpuprofile", "%v", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// scenarioFlags reads -scenario and -mix, which only -scenario mix takes.
func scenarioFlags(fs *flag.FlagSet, scenario, mix string) (bench.Scenario, bench.Mix, error) {
	sc := bench.Scenario(strings.ToLower(scenario))
	if sc != bench.Mixed {
		if isSet(fs, "mix") {
			return sc, nil, badFlag("mix", "applies to -scenario mix only")
		}
		return sc, nil, nil
	}
	m, err := bench.ParseMix(mix)
	if err != nil {
		return sc, m, asUsage(err)
	}
	return sc, m, nil
}

// profiled runs a load under an optional CPU profile and writes its report.
func profiled(cpuProfile string, run func() (*bench.Result, error), stdout io.Writer, format, out string) error {
	stopProfile, err := startCPUProfile(cpuProfile)
	if err != nil {
		return err
	}
	res, err := run()
	stopProfile()
	if err != nil {
		return asUsage(err)
	}
	return writeOut(stdout, res, format, out)
}

// cassandraFlags adds -hosts and -port with their environment fallbacks.
func cassandraFlags(fs *flag.FlagSet, hosts *string, port *int) {
	defHosts := os.Getenv("CASSANDRA_HOSTS")
	if defHosts == "" {
		defHosts = "127.0.0.1"
	}
	defPort := 9042
	if p, err := strconv.Atoi(os.Getenv("CASSANDRA_PORT")); err == nil {
		defPort = p
	}
	fs.StringVar(hosts, "hosts", defHosts, "Cassandra contact `points`, comma separated (env CASSANDRA_HOSTS)")
	fs.IntVar(port, "port", defPort, "CQL `port` (env CASSANDRA_PORT)")
}

func hostsFlag(s string) ([]string, error) {
	hosts := bench.HostsList(s)
	if len(hosts) == 0 {
		return nil, badFlag("hosts", "at least one contact point is required")
	}
	return hosts, nil
}

// loopbackListen checks that -listen names a loopback address.
func loopbackListen(listen string) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return badFlag("listen", "%v", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return badFlag("listen", "%s is not a loopback address", host)
	}
	return nil
}

// newFlagSet is a subcommand's flag set: errors and -help go to stderr,
// the usage text before the flags.
func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseNoArgs parses the flags of a subcommand that takes no arguments.
func parseNoArgs(fs *flag.FlagSet, args []string) error {
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Sprintf("%s takes no arguments, got %q", fs.Name(), pos)}
	}
	return nil
}
