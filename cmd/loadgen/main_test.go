package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/userapi/userapi/bench/load"
)

func noopURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = load.ServeNoop(ctx, ln)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return "http://" + ln.Addr().String() + "/"
}

func runArgs(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestBadFlags(t *testing.T) {
	url := "http://127.0.0.1:1/"
	body := filepath.Join(t.TempDir(), "body.json")
	require.NoError(t, os.WriteFile(body, []byte(`{}`), 0o644))
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"-c", "x", url}, "-c"},
		{[]string{"-c", "-3", url}, "-c"},
		{[]string{"-n", "10"}, "-url"},
		{[]string{"-n", "10", url, url}, "one URL"},
		{[]string{"-format", "xml", url}, "-format"},
		{[]string{"-scenario", "dance", url}, "-scenario"},
		{[]string{"-mix", "read=1", url}, "-mix"},
		{[]string{"-scenario", "mix", "-mix", "fly=1", url}, "-mix"},
		{[]string{"-t", "abc", url}, "-t"},
		{[]string{"-d", "1s", "-t", "0", url}, "-t"},
		{[]string{"-d", "soon", url}, "-d"},
		{[]string{"-p", "/nonexistent/body", url}, "-p"},
		{[]string{"-p", body, "-u", body, url}, "-u"},
		{[]string{"-batch-size", "5000", "-scenario", "batch", url}, "-batch-size"},
		{[]string{"-R", "-5", "-n", "1", url}, "-R"},
		{[]string{"-H", "NoColon", url}, "-H"},
		{[]string{"-nosuchflag", url}, "-nosuchflag"},
		{[]string{"-n", "1", "http://192.0.2.1/"}, "-url"},
		{[]string{"raw", "-keyspace", "Bad-Name", "-n", "1"}, "-keyspace"},
		{[]string{"raw", "-hosts", " , "}, "-hosts"},
		{[]string{"raw", "-consistency", "MOST", "-n", "1"}, "-consistency"},
		{[]string{"raw", "-scenario", "list", "-n", "1"}, "-scenario"},
		{[]string{"raw", "extra"}, "no arguments"},
		{[]string{"report"}, "one directory"},
		{[]string{"noop", "-listen", "10.1.2.3:80"}, "-listen"},
		{[]string{"naive", "-listen", "10.1.2.3:80"}, "-listen"},
		{[]string{"naive", "-hosts", " , "}, "-hosts"},
		{[]string{"suite", "-modes", "api dance"}, "-modes"},
		{[]string{"suite", "-scenarios", "get list"}, "-scenarios"},
		{[]string{"suite", "-repeats", "0"}, "-repeats"},
		{[]string{"suite", "-mix", "fly=1"}, "-mix"},
	} {
		code, _, stderr := runArgs(t, tc.args...)
		assert.Equal(t, 2, code, "args %q: exit status (stderr %s)", tc.args, stderr)
		assert.Contains(t, stderr, tc.flag, "args %q: message names the flag", tc.args)
	}
}

func TestHelpExplainsEveryFlag(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		flags []string
	}{
		{[]string{"-help"}, []string{"-n", "-c", "-k", "-p", "-u", "-T", "-H", "-t", "-m", "-d", "-R", "-threads", "-timelimit",
			"-timeout", "-scenario", "-mix", "-batch-size", "-list-limit", "-warmup", "-format", "-out", "-label", "-pid",
			"-seed", "-allow-remote", "-q", "-url", "-cpuprofile"}},
		{[]string{"raw", "-help"}, []string{"-hosts", "-port", "-keyspace", "-rf", "-consistency", "-conns", "-username",
			"-password", "-c", "-n", "-d", "-t", "-R", "-timeout", "-scenario", "-mix", "-warmup", "-format", "-out", "-label", "-pid", "-cpuprofile"}},
		{[]string{"report", "-help"}, []string{"-q"}},
		{[]string{"noop", "-help"}, []string{"-listen", "-d"}},
	} {
		code, _, stderr := runArgs(t, tc.args...)
		assert.Equal(t, 0, code, "%q exits 0", tc.args)
		for _, f := range tc.flags {
			assert.Regexp(t, `\n  `+regexp.QuoteMeta(f)+`\s`, stderr, "%q documents %s", tc.args, f)
		}
	}
}

func TestRunAgainstNoop(t *testing.T) {
	url := noopURL(t)
	out := filepath.Join(t.TempDir(), "run.json")
	all := runtime.GOMAXPROCS(0)
	for _, tc := range []struct {
		name      string
		args      []string
		requests  int64 // 0: any
		threads   int   // GOMAXPROCS during the run
		keepAlive bool
	}{
		{"ab-style", []string{"-n", "50", "-c", "4", url}, 50, all, false},
		{"ab-style keep-alive, URL first", []string{url, "-n", "40", "-k", "-c", "2"}, 40, all, true},
		{"wrk-style", []string{"-d", "300ms", "-c", "4", "-t", "1", url}, 0, 1, true},
		{"ab time limit", []string{"-t", "0.3", "-c", "2", "-k", url}, 0, all, true},
		{"rate", []string{"-R", "100", "-d", "0.2", "-c", "2", url}, 20, all, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-out", out, "-label", "case=" + tc.name}, tc.args...)
			code, stdout, stderr := runArgs(t, args...)
			require.Equal(t, 0, code, "%s: stderr %s", tc.name, stderr)
			assert.NotEmpty(t, stdout, "%s: a report", tc.name)
			b, err := os.ReadFile(out)
			require.NoError(t, err)
			var s load.Summary
			require.NoError(t, json.Unmarshal(b, &s), "%s: JSON summary", tc.name)
			assert.Equal(t, tc.name, s.Labels["case"], "%s: labels carried", tc.name)
			if tc.requests > 0 {
				assert.Equal(t, tc.requests, s.Requests, "%s: requests", tc.name)
			} else {
				assert.Positive(t, s.Requests, "%s: requests", tc.name)
			}
			assert.Equal(t, tc.threads, s.Threads, "%s: threads", tc.name)
			assert.Equal(t, tc.keepAlive, s.KeepAlive, "%s: keep-alive", tc.name)
			assert.Zero(t, s.Errors, "%s: errors %v", tc.name, s.ErrorsByKind)
		})
	}
}
