package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"opm/shm"
)

// A restore that finds the flag held by a live owner starts nothing and
// waits; when that owner dies half-way, the waiting restore takes over and
// every saved app ends up running exactly once.
func TestRestoreWaitsForOwner(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	names := e.savedApps(2)
	e.freshContainer(names)

	holder := e.holdFlag()

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
	// While the owner lives, the waiting restore starts nothing: a quiet
	// window is the measurement.
	time.Sleep(200 * time.Millisecond)
	for _, n := range names {
		if c := argvCount(e.appMark(n)); c != 0 {
			t.Fatalf("%s has %d processes while another restore holds the flag", n, c)
		}
	}
	_ = holder.Process.Kill()
	_ = holder.Wait()
	if err := restore.Wait(); err != nil {
		t.Fatalf("restore after the owner died: %v\n%s", err, stdout.String())
	}
	if !strings.Contains(stdout.String(), "2 started") {
		t.Errorf("restore summary %q, want 2 started", stdout.String())
	}
	e.checkExactlyOnce(names, "after the waiting restore took over")
}

// A process that holds the restore flag's lock without naming itself in
// the flag (a restorer between its two steps, or any other program)
// makes `opm restore` wait — without spinning: it gives up at --wait with
// a message that names the problem, having used a small part of a CPU,
// and SIGTERM ends the wait at once.
func TestRestoreWaitsForNamelessLock(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.lockPage()

	r, ps, wall := e.timedRestore(t, "--wait", "1s")
	if r.code != 1 || !strings.Contains(r.stderr, "gave up after 1s") || !strings.Contains(r.stderr, "names no owner") || !strings.Contains(r.stderr, shm.FlagName) {
		t.Errorf("restore with a nameless lock held: %v", r)
	}
	cpu := ps.UserTime() + ps.SystemTime()
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

// timedRestore runs `opm restore args...`, killing it if it outlives a
// generous bound, and returns what it printed, its resource usage and
// its wall time.
func (e *env) timedRestore(t *testing.T, args ...string) (result, *os.ProcessState, time.Duration) {
	t.Helper()
	args = append([]string{"restore"}, args...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = e.environ
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	began := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	st := waitExit(t, cmd, 30*time.Second)
	return result{args: args, stdout: out.String(), stderr: errb.String(), code: st.ExitCode()}, st, time.Since(began)
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

// lockPage is a child mode: create the restore flag page in
// OPM_TEST_FLAG_DIR, take its lock (the owner's lease) without setting the
// owner word, say "locked" and block until killed.
func lockPage() int {
	dir := os.Getenv("OPM_TEST_FLAG_DIR")
	f, err := shm.OpenFlag(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	defer f.Close()
	page, err := os.OpenFile(filepath.Join(dir, shm.FlagName), os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	if err := unix.FcntlFlock(page.Fd(), unix.F_OFD_SETLK, &lk); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	fmt.Println("locked")
	never := make(chan os.Signal, 1)
	signal.Notify(never, syscall.SIGUSR2) // never sent: block until killed
	<-never
	return 0
}

// lockPage starts a process that holds the restore flag's lock without
// naming itself in the flag, until the test ends.
func (e *env) lockPage() {
	e.t.Helper()
	holder := exec.Command(os.Args[0], "-test.run=^$")
	holder.Env = append(append([]string(nil), e.environ...), "OPM_TEST_CHILD=lock-page", "OPM_TEST_FLAG_DIR="+e.runtime)
	out, err := holder.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = holder.Process.Kill(); _ = holder.Wait() })
	if l, err := bufio.NewReader(out).ReadString('\n'); err != nil || l != "locked\n" {
		e.t.Fatalf("lock holder said %q, %v", l, err)
	}
}
