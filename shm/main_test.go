package shm

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The test binary re-executes itself as the "other process" of a test:
// OPM_SHM_CHILD selects the role, OPM_SHM_DIR the runtime directory.
func TestMain(m *testing.M) {
	switch os.Getenv("OPM_SHM_CHILD") {
	case "":
		os.Exit(m.Run())
	case "hold":
		os.Exit(childHold())
	case "racer":
		os.Exit(childRacer())
	default:
		fmt.Fprintln(os.Stderr, "unknown OPM_SHM_CHILD")
		os.Exit(3)
	}
}

// childHold acquires the flag, says "held", and blocks until stdin closes
// (or it is killed).
func childHold() int {
	f, err := OpenFlag(os.Getenv("OPM_SHM_DIR"))
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	if _, err := f.Acquire(4242); err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println("held")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	return 0
}

// childRacer takes part in rounds driven over stdin: on "go" it tries to
// acquire and answers "won" or "lost <owner pid>"; on "end" a winner
// releases and answers "done".
func childRacer() int {
	f, err := OpenFlag(os.Getenv("OPM_SHM_DIR"))
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	in := bufio.NewScanner(os.Stdin)
	won := false
	for in.Scan() {
		switch in.Text() {
		case "go":
			o, err := f.Acquire(0)
			switch {
			case err == nil:
				won = true
				fmt.Println("won", o.PID)
			default:
				fmt.Println("lost", err)
			}
		case "end":
			if won {
				if err := f.Release(); err != nil {
					fmt.Println("error", err)
					return 1
				}
				won = false
			}
			fmt.Println("done")
		}
	}
	return 0
}

// child is a re-executed test process with a line-oriented stdin/stdout.
type child struct {
	cmd *exec.Cmd
	in  *os.File
	out *bufio.Scanner
}

func startChild(t *testing.T, role, dir string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "OPM_SHM_CHILD="+role, "OPM_SHM_DIR="+dir)
	cmd.Stderr = os.Stderr
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdin = inR
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	inR.Close()
	c := &child{cmd: cmd, in: inW, out: bufio.NewScanner(stdout)}
	t.Cleanup(func() {
		c.in.Close()
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
	})
	return c
}

func (c *child) send(t *testing.T, line string) {
	t.Helper()
	if _, err := fmt.Fprintln(c.in, line); err != nil {
		t.Fatalf("write to child: %v", err)
	}
}

// expect reads the child's next line, failing the test after a deadline.
func (c *child) expect(t *testing.T) string {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		if c.out.Scan() {
			got <- c.out.Text()
		} else {
			got <- "EOF " + fmt.Sprint(c.out.Err())
		}
	}()
	select {
	case line := <-got:
		if strings.HasPrefix(line, "error") || strings.HasPrefix(line, "EOF") {
			t.Fatalf("child %d: %s", c.cmd.Process.Pid, line)
		}
		return line
	case <-time.After(30 * time.Second):
		t.Fatalf("child %d said nothing for 30s", c.cmd.Process.Pid)
		return ""
	}
}

// runtimeDir returns a fresh private directory for one test.
func runtimeDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	if err := os.Chmod(d, 0o700); err != nil {
		t.Fatal(err)
	}
	return d
}

func openFlag(t *testing.T, dir string) *Flag {
	t.Helper()
	f, err := OpenFlag(dir)
	if err != nil {
		t.Fatalf("OpenFlag: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
