package testkit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// lineTimeout bounds the wait for one line from a child: a child that
// hangs fails the test instead of CI.
const lineTimeout = 30 * time.Second

// Child is the test binary re-executed in one child mode (modes.go), its
// standard input and output read and written as lines.
type Child struct {
	// Cmd is the command; set its fields (Dir, SysProcAttr, Path for
	// another copy of the binary) before Start.
	Cmd   *exec.Cmd
	t     testing.TB
	out   *os.File // the read end of its stdout
	lines *bufio.Reader
	in    *os.File // the write end of its stdin, nil unless Input
	input bool
}

// Command prepares the test binary in mode, with the environment env (nil
// for this process's), GORACE and OPM_TEST_CHILD=mode.
func Command(mode string, env []string) *Child {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if env == nil {
		env = os.Environ()
	}
	// GORACE as Main set it: a child that exits on purpose does not
	// sleep first.
	cmd.Env = append(WithoutEnv(env, ChildEnv, "GORACE"), "GORACE="+os.Getenv("GORACE"), ChildEnv+"="+mode)
	cmd.Stderr = os.Stderr
	return &Child{Cmd: cmd}
}

// Input gives the child a pipe on its standard input for Send; without
// it, the child reads /dev/null.
func (c *Child) Input() *Child {
	c.input = true
	return c
}

// Start starts the child. When the test ends it is killed, if it still
// runs, and reaped.
func (c *Child) Start(t testing.TB) *Child {
	t.Helper()
	c.t = t
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	c.out, c.lines, c.Cmd.Stdout = r, bufio.NewReader(r), w
	var inR *os.File
	if c.input {
		if inR, c.in, err = os.Pipe(); err != nil {
			t.Fatal(err)
		}
		c.Cmd.Stdin = inR
	}
	err = c.Cmd.Start()
	w.Close()
	if inR != nil {
		inR.Close()
	}
	if err != nil {
		t.Fatalf("start the child %s: %v", c.mode(), err)
	}
	t.Cleanup(c.Kill)
	return c
}

// Pid is the child's process id.
func (c *Child) Pid() int { return c.Cmd.Process.Pid }

// Line returns the child's next line of output, without its newline. It
// fails the test at the end of the output or after 30 s of silence.
func (c *Child) Line() string {
	c.t.Helper()
	_ = c.out.SetReadDeadline(time.Now().Add(lineTimeout))
	l, err := c.lines.ReadString('\n')
	if err != nil {
		c.t.Fatalf("child %s (pid %d) said %q, then: %v", c.mode(), c.Pid(), l, err)
	}
	return strings.TrimSuffix(l, "\n")
}

// Expect reads the child's next line and fails the test unless it starts
// with prefix; it returns the line.
func (c *Child) Expect(prefix string) string {
	c.t.Helper()
	l := c.Line()
	if !strings.HasPrefix(l, prefix) {
		c.t.Fatalf("child %s (pid %d) said %q, want %q", c.mode(), c.Pid(), l, prefix+"...")
	}
	return l
}

// Rest returns what the child writes until it closes its output (it
// exits), at most 30 s from now.
func (c *Child) Rest() string {
	c.t.Helper()
	_ = c.out.SetReadDeadline(time.Now().Add(lineTimeout))
	b, err := io.ReadAll(c.lines)
	if err != nil {
		c.t.Fatalf("child %s (pid %d): %v", c.mode(), c.Pid(), err)
	}
	return string(b)
}

// Send writes line to the child's standard input (see Input).
func (c *Child) Send(line string) {
	c.t.Helper()
	if _, err := fmt.Fprintln(c.in, line); err != nil {
		c.t.Fatalf("write to child %s: %v", c.mode(), err)
	}
}

// Kill kills the child with SIGKILL, if it still runs, and reaps it.
func (c *Child) Kill() {
	if c.Cmd.ProcessState == nil {
		_ = c.Cmd.Process.Kill()
		_ = c.Cmd.Wait()
	}
	if c.in != nil {
		c.in.Close()
	}
	c.out.Close()
}

// Wait waits for the child to exit and returns its exit status; it fails
// the test when the child was killed by a signal or could not be waited
// for.
func (c *Child) Wait() int {
	c.t.Helper()
	err := c.Cmd.Wait()
	var ee *exec.ExitError
	if err != nil && (!errors.As(err, &ee) || ee.ExitCode() < 0) {
		c.t.Fatalf("child %s: %v", c.mode(), err)
	}
	return c.Cmd.ProcessState.ExitCode()
}

func (c *Child) mode() string {
	for _, kv := range c.Cmd.Env {
		if m, ok := strings.CutPrefix(kv, ChildEnv+"="); ok {
			return m
		}
	}
	return "?"
}
