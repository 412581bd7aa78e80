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

	"github.com/userapi/userapi/bench/harness"
	"github.com/userapi/userapi/bench/load"
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
	"Keyspace": "keyspace", "Consistency": "consistency", "NumConns": "conns", "Hosts": "hosts",
	"Modes": "modes", "Scenarios": "scenarios", "Conns": "c", "Repeats": "repeats",
	"Step": "d", "Rates": "rates", "RateConns": "rate-c", "P99Bound": "p99-bound", "ConcurrencySteps": "concurrency",
	"Sweep": "sweep", "KneeShare": "knee-share", "Window": "window", "Verify": "verify",
	"Users": "users", "SmallUsers": "small-users", "Sample": "sample",
}

// asUsage turns a load.ConfigError into a usageError naming the flag.
func asUsage(err error) error {
	var ce *load.ConfigError
	if errors.As(err, &ce) {
		if f, ok := fieldFlags[ce.Field]; ok {
			return badFlag(f, "%s", ce.Msg)
		}
	}
	return err
}

// headerList is -H, repeatable: "Name: value".
type headerList []load.Header

func (h *headerList) String() string { return "" }

func (h *headerList) Set(s string) error {
	k, v, ok := strings.Cut(s, ":")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("want \"Name: value\", got %q", s)
	}
	*h = append(*h, load.Header{Key: strings.TrimSpace(k), Value: strings.TrimSpace(v)})
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
	if err == nil {
		*s.d = d
	}
	return err
}

func parseSeconds(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if f, ferr := strconv.ParseFloat(v, 64); ferr == nil {
		d, err = time.Duration(f*float64(time.Second)), nil
	}
	if err != nil {
		return 0, fmt.Errorf("want seconds or a duration like 10s or 1m, got %q", v)
	}
	if d < 0 {
		return 0, errors.New("must not be negative")
	}
	return d, nil
}

// fields is a flag holding a space-separated list ("-batch-max 1").
type fields struct{ p *[]string }

func (f fields) String() string {
	if f.p == nil {
		return ""
	}
	return strings.Join(*f.p, " ")
}

func (f fields) Set(v string) error { *f.p = strings.Fields(v); return nil }

// port is a port flag whose 0 asks for a free one.
type port struct{ p *int }

func (f port) String() string {
	if f.p == nil || *f.p <= 0 {
		return ""
	}
	return strconv.Itoa(*f.p)
}

func (f port) Set(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("want a port number, got %q", v)
	}
	*f.p = n
	if n == 0 {
		*f.p = harness.FreePort
	}
	return nil
}

// errFlagParse marks an error that package flag has already reported.
var errFlagParse = errors.New("bad flag")

// parseFlags parses flags that may come before or after positional
// arguments (ab and wrk take the URL anywhere), returning the positionals.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
			return nil, err
		} else if err != nil {
			return nil, errFlagParse
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
	fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

// positive refuses an integer flag below 1: its 0 would mean the default.
func positive(fs *flag.FlagSet, names ...string) error {
	for _, name := range names {
		if n, _ := strconv.Atoi(fs.Lookup(name).Value.String()); n < 1 {
			return badFlag(name, "must be a positive integer, not %s", fs.Lookup(name).Value)
		}
	}
	return nil
}

// isTerminal reports whether f is a character device: where a progress
// line helps rather than litters a log.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// cassandraFlags adds -hosts and -port with their environment fallbacks.
func cassandraFlags(fs *flag.FlagSet, hosts *string, port *int) {
	fs.StringVar(hosts, "hosts", env.str("CASSANDRA_HOSTS", "127.0.0.1"), "Cassandra contact `points`, comma separated (env CASSANDRA_HOSTS)")
	fs.IntVar(port, "port", env.int("CASSANDRA_PORT", 9042), "CQL `port` (env CASSANDRA_PORT)")
}

func hostsFlag(s string) ([]string, error) {
	hosts := load.HostsList(s)
	if len(hosts) == 0 {
		return nil, badFlag("hosts", "at least one contact point is required")
	}
	return hosts, nil
}

// listenLoopback listens on -listen, which must name a loopback address.
func listenLoopback(listen string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, badFlag("listen", "%v", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, badFlag("listen", "%s is not a loopback address", host)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, badFlag("listen", "%v", err)
	}
	return ln, nil
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

// env reads flag defaults from the environment.
var env envFlags

type envFlags struct{}

// envOr is the environment variable name read by parse, or def when it is
// unset or does not parse.
func envOr[T any](name string, def T, parse func(string) (T, error)) T {
	if v, ok := os.LookupEnv(name); ok {
		if x, err := parse(v); err == nil {
			return x
		}
	}
	return def
}

func (envFlags) str(name, def string) string {
	return envOr(name, def, func(s string) (string, error) { return s, nil })
}

func (envFlags) int(name string, def int) int { return envOr(name, def, strconv.Atoi) }

func (envFlags) dur(name string, def time.Duration) time.Duration {
	return envOr(name, def, parseSeconds)
}

func (envFlags) float(name string, def float64) float64 { return envOr(name, def, parseFloat) }

// port reads a port, whose 0 asks for a free one.
func (e envFlags) port(name string, def int) int {
	if p := e.int(name, def); p != 0 {
		return p
	}
	return harness.FreePort
}

// wrote ends a run of suite, sweep, soak or large: it says where the
// report is, or turns the run's error into a usage error where it names a
// setting.
func wrote(stdout io.Writer, r interface{ Path() string }, err error) error {
	if err != nil {
		return asUsage(err)
	}
	fmt.Fprintf(stdout, "wrote %s\n", r.Path())
	return nil
}

// harnessFlags registers, once for suite, sweep, soak and large, the flags
// of the harness.Config they embed, with the defaults of def; the results
// directory and the server's port fall back to PREFIX_OUT and PREFIX_PORT.
// A run whose loads are loadgen processes also gets -loadgen.
func harnessFlags(fs *flag.FlagSet, c *harness.Config, def harness.Config, prefix, kind string, loadgen bool) {
	c.Port = env.port(prefix+"_PORT", def.Port)
	c.UserAPIFlags = strings.Fields(env.str("BENCH_USERAPI_FLAGS", ""))
	fs.StringVar(&c.Out, "out", env.str(prefix+"_OUT", ""), fmt.Sprintf("results `directory` [%s_OUT] (default bench/results/%s<UTC timestamp>)", prefix, kind))
	fs.Var(port{&c.Port}, "port", fmt.Sprintf("the server's `port` on 127.0.0.1; 0 picks a free one [%s_PORT]", prefix))
	fs.StringVar(&c.UserAPI, "userapi", env.str("BENCH_USERAPI", def.UserAPI), "the server `binary` [BENCH_USERAPI]")
	if loadgen {
		fs.StringVar(&c.Loadgen, "loadgen", env.str("BENCH_LOADGEN", ""), "the loadgen `binary` that drives each load (default this one) [BENCH_LOADGEN]")
	}
	fs.StringVar(&c.Hosts, "hosts", env.str("CASSANDRA_HOSTS", def.Hosts), "Cassandra contact `points` [CASSANDRA_HOSTS]")
	fs.Var(fields{&c.UserAPIFlags}, "userapi-flags", "extra `flags` for every server start [BENCH_USERAPI_FLAGS]")
}

// list reads "1 4 16" or "1,4,16" as numbers, each positive.
func list[T int | float64](flag, s string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		n, err := parse(f)
		if err != nil || n <= 0 {
			return nil, badFlag(flag, "%q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func parseFloat(s string) (float64, error) { return strconv.ParseFloat(s, 64) }

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
