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
	r, err := StartReaper()
	if err != nil {
		t.Skipf("no reaper here: %v", err)
	}
	defer r.Stop()
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	output := func(api.Spec) (int, int, error) {
		out, err := unix.Open(os.DevNull, unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, -1, err
		}
		errf, err := unix.Dup(out)
		return out, errf, err
	}
	spawn := New(devNull, output, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
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

func errString(err error) string {
	if err == nil {
		return "success"
	}
	return err.Error()
}
