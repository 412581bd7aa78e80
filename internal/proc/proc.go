package proc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Spec describes a process to start.
type Spec struct {
	Name string // in errors and log lines; default the binary's path
	Path string
	Args []string
	// Env is the whole environment, as in exec.Cmd; nil inherits this
	// process's.
	Env []string
	Dir string
	// LogFile, when set, is created and receives everything the process
	// writes to stdout and stderr; it stays open until the process exits.
	// The last LogTail bytes are kept in memory as well, for Logs.
	LogFile string
}

// LogTail is how much of a process's output Logs keeps.
const LogTail = 16 << 10

// Process is a running (or finished) process that Start began. Its
// lifetime: Start, then any of WaitReady, Signal, Wait or Stop; Done closes
// once the process has exited and been reaped, whoever ended it.
type Process struct {
	Name string
	cmd  *exec.Cmd
	tail *tailBuffer
	done chan struct{}
	err  error // the exit status; read only after done is closed
}

// Start starts the process described by s.
func Start(s Spec) (*Process, error) {
	if s.Name == "" {
		s.Name = s.Path
	}
	cmd := exec.Command(s.Path, s.Args...)
	cmd.Env, cmd.Dir = s.Env, s.Dir
	tail := &tailBuffer{limit: LogTail}
	var out io.Writer = tail
	var logFile *os.File
	if s.LogFile != "" {
		f, err := os.Create(s.LogFile)
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", s.Name, err)
		}
		logFile, out = f, io.MultiWriter(f, tail)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		if logFile != nil {
			logFile.Close()
		}
		return nil, fmt.Errorf("start %s: %w", s.Name, err)
	}
	p := &Process{Name: s.Name, cmd: cmd, tail: tail, done: make(chan struct{})}
	// The reaper is the only caller of cmd.Wait; it exits when the
	// process does, and Stop makes sure that happens. The log file is
	// closed only then: a process whose output has nowhere to go dies of
	// SIGPIPE in the middle of its shutdown.
	go func() {
		p.err = cmd.Wait()
		if logFile != nil {
			logFile.Close()
		}
		close(p.done)
	}()
	return p, nil
}

// PID is the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is the exit status (nil for exit code 0); call it after Done.
func (p *Process) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return errors.New("BUG: proc: Err called before the process exited")
	}
}

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal sends sig to the process; a process that has already exited is
// not an error.
func (p *Process) Signal(sig os.Signal) error {
	if p.Exited() {
		return nil
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal %s (pid %d): %w", p.Name, p.PID(), err)
	}
	return nil
}

// Wait waits until the process exits and returns its exit status. If ctx
// ends first, the process is stopped (see Stop) and ctx's error returned.
func (p *Process) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		_ = p.Stop(5 * time.Second)
		return ctx.Err()
	}
}

// ErrKilled is returned by Stop when the process outlived its grace
// period and was killed.
var ErrKilled = errors.New("did not stop in time and was killed")

// Stop sends SIGTERM and waits up to grace for the process to exit, then
// sends SIGKILL. It returns the exit status of a process that stopped on
// SIGTERM, ErrKilled for one that had to be killed, and nil for one that had
// already exited.
func (p *Process) Stop(grace time.Duration) error {
	if p.Exited() {
		return nil
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		return p.err
	case <-t.C:
	}
	_ = p.Signal(syscall.SIGKILL)
	<-p.done
	return fmt.Errorf("%s (pid %d): %w", p.Name, p.PID(), ErrKilled)
}

// Kill sends SIGKILL, unless the process has exited, and waits until it
// has: for tests that end a process without caring how it shuts down.
func (p *Process) Kill() {
	_ = p.Signal(syscall.SIGKILL)
	<-p.done
}

// Logs returns the last LogTail bytes the process wrote.
func (p *Process) Logs() string { return p.tail.String() }

// WaitReady polls url with GET until it answers 200. It fails when the
// process exits first (with the tail of its output), when timeout passes,
// or when ctx ends.
func (p *Process) WaitReady(ctx context.Context, url string, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	return p.poll(ctx, timeout, "GET "+url+" answered 200", func() bool {
		resp, err := client.Get(url)
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// WaitListening polls until a TCP connection to addr succeeds, for a
// process with no readiness route.
func (p *Process) WaitListening(ctx context.Context, addr string, timeout time.Duration) error {
	return p.poll(ctx, timeout, addr+" accepted a connection", func() bool { return Listening(addr) })
}

func (p *Process) poll(ctx context.Context, timeout time.Duration, what string, ok func() bool) error {
	deadline := time.Now().Add(timeout)
	for {
		if ok() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s (pid %d): not ready after %s: nothing %s\n%s", p.Name, p.PID(), timeout, what, p.Logs())
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited during start-up (%v):\n%s", p.Name, p.err, p.Logs())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Listening reports whether something accepts TCP connections on addr.
func Listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// tailBuffer keeps the last limit bytes written to it.
type tailBuffer struct {
	mu    sync.Mutex
	limit int
	b     []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.limit; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
