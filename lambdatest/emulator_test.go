//go:build lambdatest

// Package lambdatest runs every function's built bootstrap under the AWS
// Lambda Runtime Interface Emulator (RIE), the runtime API that Lambda
// itself gives a provided.al2023 function, and invokes it with the events
// AWS sends: API Gateway HTTP API (v2) and REST API (v1) requests, ALB
// requests, EventBridge scheduled events and direct invocations. The unit
// tests of pkg/lambdahttp call the handler in process; these prove that the
// binaries `make build` ships start, read their environment and answer.
//
// The tests need what `make lambda-test` prepares: the functions built for
// amd64 under build/amd64/<group>/bootstrap and the emulator under
// build/tools. They are behind the lambdatest build tag so that `go test
// ./...` does not run them; a missing binary fails them, never skips them.
package lambdatest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"authfn/pkg/testenv"
)

// arch is the GOARCH the functions are built for here: the emulator runs
// them natively, so it must be the machine's.
const arch = "amd64"

var (
	buildDir = filepath.Join("..", "build", arch)
	riePath  = filepath.Join("..", "build", "tools", "aws-lambda-rie")
)

// invokePath is the emulator's invocation endpoint (the Lambda Invoke API
// path, with the function name fixed to "function").
const invokePath = "/2015-03-31/functions/function/invocations"

// bootstrapPath returns where `make build GOARCH=amd64` puts a group's
// bootstrap.
func bootstrapPath(group string) string { return filepath.Join(buildDir, group, "bootstrap") }

// requireFile fails tb, saying how to produce it, when path is missing.
func requireFile(tb testing.TB, path string) string {
	tb.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := os.Stat(abs); err != nil {
		tb.Fatalf("%s is missing (%v): run `make lambda-test` or `make lambda-bench`, which build the functions and install the emulator", abs, err)
	}
	return abs
}

// emulator is one RIE process serving one bootstrap, as one Lambda
// execution environment does. RIE starts the bootstrap on the first
// invocation, so a fresh emulator is a cold start.
type emulator struct {
	name    string
	addr    string // RIE's invocation API, host:port
	cmd     *exec.Cmd
	out     *testenv.Buffer // RIE's log and the function's stdout and stderr
	exited  chan struct{}
	started time.Time
	client  *http.Client
}

// startEmulator starts RIE on free loopback ports with bootstrap as the
// function and env as its whole environment: RIE passes its own
// environment on to the function, so nothing of the test process's leaks
// in. It does not wait for RIE to listen; invoke does.
func startEmulator(name, rie, bootstrap string, env []string) (*emulator, error) {
	// Two ports: RIE's own API, and the runtime API it serves the
	// bootstrap. RIE cannot be given port 0 for either (it would tell the
	// bootstrap ":0"), so they are picked here; another process may take
	// one in between, which invoke and waitListening report as
	// errPortTaken.
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	e := &emulator{
		name:   name,
		addr:   net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])),
		out:    &testenv.Buffer{},
		exited: make(chan struct{}),
		// No timeout of its own: each call's context bounds it.
		client: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
	}
	e.cmd = exec.Command(rie,
		"--log-level", "info",
		"--runtime-interface-emulator-address", e.addr,
		"--runtime-api-address", net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1])),
		bootstrap)
	e.cmd.Dir = filepath.Dir(bootstrap) // as /var/task is in Lambda
	e.cmd.Env = env
	e.cmd.Stdout = e.out // one writer for both: one pipe, lines stay in order
	e.cmd.Stderr = e.out
	// If the test binary dies (a timeout panic), RIE dies with it; the
	// bootstrap then loses its runtime API and exits on its own.
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	e.started = time.Now()
	if err := e.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", rie, err)
	}
	go func() {
		_ = e.cmd.Wait()
		close(e.exited)
	}()
	return e, nil
}

// errPortTaken says that RIE could not listen on a port picked for it.
var errPortTaken = errors.New("emulator: a port picked for it was taken before it listened")

// freePorts asks the kernel for n free loopback ports.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close() // held until all are picked, so they differ
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// invoke sends payload to the function and returns RIE's HTTP status and
// body. Until RIE listens, a refused connection is retried, so the first
// invoke of a fresh emulator also measures its start. RIE answers 200 even
// when the handler fails (the body is then an error payload); callers
// read the body.
func (e *emulator) invoke(ctx context.Context, payload []byte) (int, []byte, error) {
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+e.addr+invokePath, bytes.NewReader(payload))
		if err != nil {
			return 0, nil, err
		}
		resp, err := e.client.Do(req)
		if err == nil {
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			return resp.StatusCode, b, err
		}
		if err := e.pause(ctx, err); err != nil {
			return 0, nil, err
		}
	}
}

// waitListening waits until RIE accepts connections, without invoking
// the function. It returns errPortTaken when RIE exited because another
// process had taken its port.
func (e *emulator) waitListening(ctx context.Context) error {
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", e.addr)
		if err == nil {
			return c.Close()
		}
		if err := e.pause(ctx, err); err != nil {
			return err
		}
	}
}

// pause decides what a failed connection means. A refused one, while RIE
// runs, means it does not listen yet: pause waits a millisecond and
// returns nil to try again. Otherwise it returns why to stop.
func (e *emulator) pause(ctx context.Context, err error) error {
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return err
	}
	select {
	case <-e.exited:
		if strings.Contains(e.out.String(), "address already in use") {
			return errPortTaken
		}
		return fmt.Errorf("the emulator exited before answering: %v", e.cmd.ProcessState)
	case <-ctx.Done():
		return fmt.Errorf("the emulator did not listen on %s: %w", e.addr, ctx.Err())
	case <-time.After(time.Millisecond):
		return nil
	}
}

// stop ends RIE and the function it started. RIE's SIGTERM handler kills
// the function (which runs in a process group of its own) and exits; if it
// does not within a few seconds, both get SIGKILL.
func (e *emulator) stop() {
	select {
	case <-e.exited:
		return
	default:
	}
	children := childProcesses(e.cmd.Process.Pid)
	_ = e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.exited:
	case <-time.After(5 * time.Second):
		_ = e.cmd.Process.Kill()
		<-e.exited
	}
	for _, c := range children {
		c.killIfAlive()
	}
}

// output is everything RIE and the function wrote so far.
func (e *emulator) output() string { return e.out.String() }

// process names one process by pid and start time, so that a pid the
// kernel has since given to another process is never signalled.
type process struct {
	pid   int
	start string
}

// childProcesses lists the children of pid, read from /proc (RIE runs only
// on Linux).
func childProcesses(pid int) []process {
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []process
	for _, d := range dirs {
		p, ppid, start, ok := readStat(d)
		if ok && ppid == pid {
			out = append(out, process{pid: p, start: start})
		}
	}
	return out
}

// readStat parses the pid, parent pid and start time of /proc/<pid>/stat.
func readStat(path string) (pid, ppid int, start string, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, "", false
	}
	s := string(b)
	// The command name, field 2, is in parentheses and may hold spaces.
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, "", false
	}
	pid, _ = strconv.Atoi(strings.Fields(s[:i])[0])
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 20 {
		return 0, 0, "", false
	}
	ppid, _ = strconv.Atoi(f[1])  // field 4
	return pid, ppid, f[19], true // field 22: start time
}

// killIfAlive sends SIGKILL to p's process group (the function's, which
// RIE made), if p is still the process it was.
func (p process) killIfAlive() {
	_, _, start, ok := readStat(fmt.Sprintf("/proc/%d/stat", p.pid))
	if !ok || start != p.start {
		return
	}
	if pgid, err := syscall.Getpgid(p.pid); err == nil && pgid == p.pid {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		return
	}
	_ = syscall.Kill(p.pid, syscall.SIGKILL)
}
