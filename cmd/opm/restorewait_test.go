package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"opm/daemon/testkit"
	"opm/shm"
)

// A restore that finds the flag held by a live owner starts nothing: it
// waits, and gives up at --wait having started nothing, or, when that
// owner dies half-way, takes over, and every saved app ends up running
// exactly once. A restore over running apps says so and starts nothing.
func TestRestoreWaitsForOwner(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	names := e.savedApps(2)
	e.freshContainer(names)

	holder := e.holdFlag()
	r := e.run("restore", "--wait", "300ms")
	if r.code != 1 || !strings.Contains(r.stderr, "in progress") || !strings.Contains(r.stderr, fmt.Sprintf("gave up after 300ms: the restore by pid %d", holder.Pid())) {
		t.Errorf("restore --wait 300ms while pid %d holds the flag: %v", holder.Pid(), r)
	}
	for _, n := range names {
		if c := e.running(n); c != 0 {
			t.Fatalf("%s has %d processes after a restore that waited for another", n, c)
		}
	}
	if d := e.daemons(); len(d) != 0 {
		t.Errorf("a restore that never held the flag started daemons %v", d)
	}

	restore := exec.Command(os.Args[0], "restore")
	restore.Env = e.environ
	var stdout bytes.Buffer
	restore.Stdout = &stdout
	rerr, err := restore.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := restore.Start(); err != nil {
		t.Fatal(err)
	}
	waiting, err := bufio.NewReader(rerr).ReadString('\n')
	if err != nil || !strings.Contains(waiting, "in progress") || !strings.Contains(waiting, "waiting") {
		t.Fatalf("restore said %q (%v), want that it waits", waiting, err)
	}
	holder.Kill()
	if err := restore.Wait(); err != nil {
		t.Fatalf("restore after the owner died: %v\n%s", err, stdout.String())
	}
	if !strings.Contains(stdout.String(), "2 started") {
		t.Errorf("restore summary %q, want 2 started", stdout.String())
	}
	e.checkExactlyOnce(names, "after the waiting restore took over")
	if r := e.ok("restore"); !strings.Contains(r.stdout, "2 already running") {
		t.Errorf("restore over running apps: %v, want 2 already running", r)
	}
	e.checkExactlyOnce(names, "after a restore over running apps")
}

// A process that holds the restore flag's lock without naming itself in
// the flag (a restorer between its two steps, or any other program)
// makes `opm restore` wait — without spinning: it gives up at --wait with
// a message that names the problem, having used a small part of a CPU,
// and SIGTERM ends the wait at once.
func TestRestoreWaitsForNamelessLock(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	testkit.LockPage(t, e.runtime, e.environ)

	began := time.Now()
	r := e.run("restore", "--wait", "1s")
	wall := time.Since(began)
	if r.code != 1 || !strings.Contains(r.stderr, "gave up after 1s") || !strings.Contains(r.stderr, "names no owner") || !strings.Contains(r.stderr, shm.FlagName) {
		t.Errorf("restore with a nameless lock held: %v", r)
	}
	cpu := r.state.UserTime() + r.state.SystemTime()
	t.Logf("restore --wait 1s: %s of CPU in %s", cpu, wall)
	if cpu > wall/4 {
		t.Errorf("restore used %s of CPU in %s while it waited: it spins", cpu, wall)
	}

	restore := exec.Command(os.Args[0], "restore", "--wait", "10m")
	restore.Env = e.environ
	// A pipe of our own, which Wait does not close: the rest of stderr
	// is read once the command has exited (or been killed).
	rerr, werr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer rerr.Close()
	restore.Stderr = werr
	err = restore.Start()
	werr.Close()
	if err != nil {
		t.Fatal(err)
	}
	stderr := bufio.NewReader(rerr)
	if l, err := stderr.ReadString('\n'); err != nil || !strings.Contains(l, "waiting") {
		_ = restore.Process.Kill()
		_ = restore.Wait()
		t.Fatalf("restore said %q (%v), want that it waits", l, err)
	}
	if err := restore.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	st := waitExit(t, restore, 20*time.Second)
	rest, _ := io.ReadAll(stderr)
	if st.ExitCode() != 1 || !strings.Contains(string(rest), "interrupted") {
		t.Errorf("restore ended by SIGTERM: %v, %q; want exit 1 saying it was interrupted", st, rest)
	}
	if d := e.daemons(); len(d) != 0 {
		t.Errorf("a restore that never held the flag started daemons %v", d)
	}
}

// waitExit waits for cmd to exit; past within, it kills it and fails the
// test.
func waitExit(t *testing.T, cmd *exec.Cmd, within time.Duration) *os.ProcessState {
	t.Helper()
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(within):
		_ = cmd.Process.Kill()
		<-done
		t.Errorf("opm %v did not end within %s; killed it", cmd.Args[1:], within)
	}
	return cmd.ProcessState
}
