package process

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"opm/daemon/api"
	"opm/daemon/proc"
	"opm/daemon/testkit"
)

// While the reaper runs, the exit statuses of this process's own
// children still reach their waiters: children of the spawner (its
// registry) and of os/exec (their pidfds) alike, many at once. An orphan
// re-parented to this process (a subreaper) is reaped when it dies.
func TestReaperLeavesOwnChildren(t *testing.T) {
	r, err := StartReaper(func(msg string) { t.Errorf("reaper: %s", msg) })
	if err != nil {
		t.Skipf("no reaper here: %v", err)
	}
	defer r.Stop()
	defer undoSubreaper(t, r)
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	spawn := testSpawner(devNull)
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}

	const n = 40
	var wg sync.WaitGroup
	errs := make(chan string, 2*n)
	for i := range n {
		code := i%100 + 1
		wg.Go(func() {
			p, err := spawn(api.Spec{Name: "t", Exec: sh, Argv: []string{sh, "-c", "exit " + strconv.Itoa(code)}, Cwd: "/"}, "", "")
			if err != nil {
				errs <- err.Error()
				return
			}
			if st := p.Wait(); !st.Known || st.Code != code {
				errs <- "spawned child: " + st.String() + ", want exit status " + strconv.Itoa(code)
			}
		})
		wg.Go(func() {
			err := exec.Command(sh, "-c", "exit "+strconv.Itoa(code)).Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != code {
				errs <- "os/exec child: " + strconv.Quote(errString(err)) + ", want exit status " + strconv.Itoa(code)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if !r.Subreaper {
		t.Skip("PID 1: no orphan test")
	}

	// The intermediate shell exits at once: sleep is re-parented here.
	out, err := exec.Command(sh, "-c", "sleep 1000 >/dev/null 2>&1 & echo $!").Output()
	if err != nil {
		t.Fatal(err)
	}
	orphan, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	if st, err := proc.ReadStat(orphan); err != nil || st.PPID != os.Getpid() {
		_ = syscall.Kill(orphan, syscall.SIGKILL)
		t.Fatalf("orphan %d: parent %d (%v), want this process %d", orphan, st.PPID, err, os.Getpid())
	}
	before := r.Reaped()
	if err := syscall.Kill(orphan, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the orphan to be reaped", 10*time.Second, func() bool {
		_, err := proc.ReadStat(orphan)
		return errors.Is(err, proc.ErrGone)
	})
	if r.Reaped() <= before {
		t.Errorf("reaped count %d, want more than %d", r.Reaped(), before)
	}
}

// testSpawner is a spawner whose apps write to /dev/null.
func testSpawner(devNull *os.File) Spawner {
	output := func(api.Spec) (int, int, error) {
		out, err := unix.Open(os.DevNull, unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, -1, err
		}
		errf, err := unix.Dup(out)
		return out, errf, err
	}
	return New(devNull, output, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// undoSubreaper makes the test process an ordinary parent again once r
// is stopped: the tests after this one do not reap orphans.
func undoSubreaper(t *testing.T, r *Reaper) {
	if !r.Subreaper {
		return
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0); err != nil {
		t.Errorf("undo the subreaper attribute: %v", err)
	}
}

// The spawner's children are pinned by their pidfds, and registered:
// with the pidfd of a spawned child hidden from the reaper, the registry
// alone must keep its exit status for Child.Wait. A pass runs on the
// child's zombie before the wait, so a broken registry (owned() false)
// loses the status.
func TestReaperRegistryKeepsSpawnedChildren(t *testing.T) {
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	spawn := testSpawner(devNull)
	p, err := spawn(api.Spec{Name: "t", Exec: sh, Argv: []string{sh, "-c", "exit 7"}, Cwd: "/"}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	pid := p.Pid()
	pidfdPins = func() (map[int]bool, error) {
		pins, err := pidfdPids()
		if !pins[pid] && err == nil {
			t.Errorf("the spawner holds no pidfd of its child %d", pid)
		}
		delete(pins, pid)
		return pins, err
	}
	defer func() { pidfdPins = pidfdPids }()
	testkit.WaitFor(t, "the spawned child to exit", 10*time.Second, func() bool {
		st, err := proc.ReadStat(pid)
		return err == nil && st.State == 'Z'
	})
	r := &Reaper{}
	if pinned := r.pass(); len(pinned) != 0 {
		t.Errorf("the pass left %v as pinned; want the child passed over as the spawner's", pinned)
	}
	if st := p.Wait(); !st.Known || st.Code != 7 {
		t.Fatalf("spawned child: %s, want exit status 7: the reaper took it (reaped %d)", st, r.Reaped())
	}
}

// A zombie a pidfd pins for good is looked at again with a back-off for
// giveUp only: then the reaper says so once and arms no more timers,
// even when SIGCHLD comes again; once the pidfd is closed, the next pass
// reaps it.
func TestReaperGivesUpOnPinnedZombie(t *testing.T) {
	if err := checkPidfdInfo(readFdinfo); err != nil {
		t.Skipf("no reaper here: %v", err)
	}
	warned := make(chan string, 10)
	// Not a subreaper: the zombie is a child of this process.
	r := startReaper(func(msg string) { warned <- msg }, 200*time.Millisecond)
	defer r.Stop()

	// A child that exits at once, pinned by a pidfd this test holds and
	// never waits on until the end.
	pidfd := -1
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	pid, err := syscall.ForkExec(sh, []string{sh, "-c", "exit 0"}, &syscall.ProcAttr{Sys: &syscall.SysProcAttr{PidFD: &pidfd}})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			unix.Close(pidfd)
		}
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
	}()
	var msg string
	select {
	case msg = <-warned:
	case <-time.After(20 * time.Second):
		t.Fatalf("no word of the pinned zombie %d after 20 s", pid)
	}
	if !strings.Contains(msg, strconv.Itoa(pid)) {
		t.Errorf("warning %q does not name the zombie %d", msg, pid)
	}
	if r.isArmed() {
		t.Fatalf("after giving up, a look again is still due")
	}
	// SIGCHLD again: a pass, and still no timer.
	before := r.passCount()
	if err := syscall.Kill(os.Getpid(), syscall.SIGCHLD); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "a pass on SIGCHLD", 10*time.Second, func() bool { return r.passCount() > before })
	if r.isArmed() {
		t.Errorf("a pass on SIGCHLD armed the timer again for a zombie given up on")
	}
	select {
	case msg := <-warned:
		t.Errorf("warned again: %s", msg)
	default:
	}
	if st, err := proc.ReadStat(pid); err != nil || st.State != 'Z' {
		t.Fatalf("the pinned zombie %d: %+v, %v; want it left a zombie", pid, st, err)
	}
	// Its holder lets go: the next SIGCHLD reaps it.
	unix.Close(pidfd)
	closed = true
	reaped := r.Reaped()
	if err := syscall.Kill(os.Getpid(), syscall.SIGCHLD); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the zombie to be reaped", 10*time.Second, func() bool {
		_, err := proc.ReadStat(pid)
		return errors.Is(err, proc.ErrGone)
	})
	if r.Reaped() != reaped+1 {
		t.Errorf("reaped %d, want %d", r.Reaped(), reaped+1)
	}
}

// Without a Pid: line in a pidfd's fdinfo (Linux 5.3, 5.4) the reaper
// refuses to start.
func TestReaperNeedsPidfdInfo(t *testing.T) {
	if err := checkPidfdInfo(readFdinfo); err != nil {
		t.Skipf("this kernel: %v", err)
	}
	old := func(int) ([]byte, error) { return []byte("pos:\t0\nflags:\t02000002\nmnt_id:\t15\n"), nil }
	err := checkPidfdInfo(old)
	if err == nil || !strings.Contains(err.Error(), "Pid:") {
		t.Fatalf("with a 5.3 fdinfo: %v, want a refusal naming the Pid: line", err)
	}
}

// isArmed reports whether a look again at pinned zombies is due.
func (r *Reaper) isArmed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.armed
}

// passCount is how many passes the reaper has made.
func (r *Reaper) passCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.passes
}

func errString(err error) string {
	if err == nil {
		return "success"
	}
	return err.Error()
}
