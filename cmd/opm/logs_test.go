package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// `opm logs --follow` prints lines as the app writes them, also after the
// log was flushed, and ends cleanly on Ctrl-C.
func TestLogsFollow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startApp("talk", "crash-on-usr1")
	pid := e.waitLogPID("talk", "armed ", 1)
	if r := e.ok("logs", "talk", "--lines", "1"); r.stdout != fmt.Sprintf("armed %d\n", pid) {
		t.Errorf("logs --lines 1 = %q", r.stdout)
	}

	cmd := exec.Command(os.Args[0], "logs", "talk", "--follow", "--lines", "1")
	cmd.Env = e.environ
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	next := func(what string) string {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("opm logs --follow ended while waiting for %s", what)
			}
			return l
		case <-time.After(15 * time.Second):
			t.Fatalf("opm logs --follow printed no %s", what)
		}
		return ""
	}
	if l := next("tail line"); l != fmt.Sprintf("armed %d", pid) {
		t.Errorf("first line %q, want armed %d", l, pid)
	}
	// A crash and restart write a new line.
	crash := func() int {
		t.Helper()
		if err := syscall.Kill(pid, syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		l := next("line from the restarted app")
		v, ok := strings.CutPrefix(l, "armed ")
		var npid int
		if _, err := fmt.Sscan(v, &npid); !ok || err != nil || npid == pid {
			t.Fatalf("followed line %q, want armed <new pid>", l)
		}
		return npid
	}
	pid = crash()
	// Flushed logs start again from the beginning.
	e.ok("flush", "talk")
	pid = crash()
	_ = pid

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for range lines {
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("opm logs --follow after Ctrl-C: %v", err)
	}
}
