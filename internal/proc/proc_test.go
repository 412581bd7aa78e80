package proc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The test binary doubles as the child process: PROC_HELPER names what it
// does instead of running the tests.
func TestMain(m *testing.M) {
	switch os.Getenv("PROC_HELPER") {
	case "":
		os.Exit(m.Run())
	case "serve": // /ready answers 200 until SIGTERM, then exit 0
		fmt.Println("helper up")
		ln, err := net.Listen("tcp", os.Getenv("PROC_ADDR"))
		if err != nil {
			os.Exit(3)
		}
		go func() {
			_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		}()
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM)
		<-sig
		os.Exit(0)
	case "deaf": // ignores SIGTERM
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("deaf")
		time.Sleep(time.Minute)
	case "fail":
		fmt.Println("cannot start: no config")
		os.Exit(7)
	}
}

func helper(t *testing.T, mode string, env ...string) *Process {
	t.Helper()
	p, err := Start(Spec{Name: "helper-" + mode, Path: os.Args[0], Args: []string{"-test.run=^$"},
		Env: append(os.Environ(), append(env, "PROC_HELPER="+mode)...)})
	require.NoError(t, err, "start helper %s", mode)
	t.Cleanup(func() { _ = p.Stop(time.Second) })
	return p
}

func TestStartReadyStop(t *testing.T) {
	port, err := FreePort()
	require.NoError(t, err)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	p := helper(t, "serve", "PROC_ADDR="+addr)
	require.NoError(t, p.WaitReady(context.Background(), "http://"+addr+"/ready", 10*time.Second))
	assert.True(t, Listening(addr), "listening once ready")
	s, err := Read(p.PID())
	require.NoError(t, err, "read the child's counters")
	assert.Positive(t, s.RSSBytes, "child's resident memory")
	require.NoError(t, p.Stop(5*time.Second), "a clean exit on SIGTERM")
	assert.True(t, p.Exited())
	assert.NoError(t, p.Err())
	assert.Contains(t, p.Logs(), "helper up", "output captured")
	assert.NoError(t, p.Stop(time.Second), "stopping a stopped process")
}

func TestStopKillsADeafProcess(t *testing.T) {
	p := helper(t, "deaf")
	require.Eventually(t, func() bool { return strings.Contains(p.Logs(), "deaf") }, 10*time.Second, 10*time.Millisecond)
	err := p.Stop(200 * time.Millisecond)
	assert.ErrorIs(t, err, ErrKilled, "SIGKILL after the grace period")
	assert.True(t, p.Exited())
}

func TestWaitReadyReportsAnEarlyExit(t *testing.T) {
	p := helper(t, "fail")
	err := p.WaitReady(context.Background(), "http://127.0.0.1:1/ready", 10*time.Second)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exited during start-up", "says what happened")
	assert.Contains(t, err.Error(), "cannot start: no config", "with the process's last words")
	var ee interface{ ExitCode() int }
	require.True(t, errors.As(p.Err(), &ee), "exit status %v", p.Err())
	assert.Equal(t, 7, ee.ExitCode())
}

func TestWaitStopsOnContextEnd(t *testing.T) {
	port, err := FreePort()
	require.NoError(t, err)
	p := helper(t, "serve", fmt.Sprintf("PROC_ADDR=127.0.0.1:%d", port))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, p.Wait(ctx), context.DeadlineExceeded)
	assert.True(t, p.Exited(), "stopped when the context ended")
}

func TestRead(t *testing.T) {
	s, err := Read(os.Getpid())
	require.NoError(t, err)
	assert.Positive(t, s.RSSBytes, "resident memory")
	assert.GreaterOrEqual(t, s.PeakRSSBytes, s.RSSBytes, "peak is at least current")
	assert.Positive(t, clockTicks(), "clock ticks per second")
	_, err = Read(-1)
	assert.Error(t, err, "no such process")

	for _, tc := range []struct {
		line string
		want float64
		bad  bool
	}{
		{line: "1 (a b) c) S 0 0 0 0 0 0 0 0 0 0 250 50 0 0", want: 3.0},
		{line: "1 (x) S 0", bad: true},
		{line: "no name", bad: true},
	} {
		got, err := parseStat([]byte(tc.line))
		if tc.bad {
			assert.Error(t, err, "line %q", tc.line)
			continue
		}
		require.NoError(t, err, "line %q", tc.line)
		assert.InDelta(t, tc.want*100/float64(clockTicks()), got, 1e-9, "line %q", tc.line)
	}
}

func TestTailBuffer(t *testing.T) {
	b := &tailBuffer{limit: 4}
	_, _ = b.Write([]byte("abc"))
	_, _ = b.Write([]byte("defg"))
	assert.Equal(t, "defg", b.String())
}
