package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shirou/gopsutil/v3/process"
	"golang.org/x/sys/unix"

	"opm/daemon/api"
	"opm/daemon/proc"
	"opm/daemon/testkit"
)

// `opm daemon start|status|stop` as a user sees them, and a daemon that is
// properly detached: its own session, no terminal, stdin /dev/null,
// stdout and stderr into daemon.log.
func TestDaemonCommands(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if r := e.run("daemon", "status"); r.code != 1 || !strings.Contains(r.stderr, "not running") || !strings.Contains(r.stderr, "opm daemon start") {
		t.Errorf("status with no daemon: %v", r)
	}
	if r := e.run("daemon", "stop"); r.code != 0 || !strings.Contains(r.stdout, "not running") {
		t.Errorf("stop with no daemon: %v", r)
	}
	if len(e.marked()) != 0 {
		t.Fatalf("status or stop started a daemon")
	}
	if r := e.ok("daemon", "start"); !strings.Contains(r.stdout, "started") {
		t.Errorf("first start: %v", r)
	}
	if r := e.ok("daemon", "start"); !strings.Contains(r.stdout, "already running") {
		t.Errorf("second start: %v", r)
	}
	pid := e.daemonStatus().PID
	r := e.ok("daemon", "health")
	for _, want := range []string{fmt.Sprint(pid), e.runtime, "restore flag", "idle"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("daemon status lacks %q:\n%s", want, r.stdout)
		}
	}

	if sid, err := unix.Getsid(pid); err != nil || sid != pid {
		t.Errorf("daemon session %d (%v), want its own (%d)", sid, err, pid)
	}
	if tty, err := process.NewProcess(int32(pid)); err != nil {
		t.Error(err)
	} else if name, err := tty.Terminal(); err != nil || name != "" {
		t.Errorf("daemon has controlling terminal %q (%v)", name, err)
	}
	wantFD := map[int]string{0: os.DevNull, 1: filepath.Join(e.home, "daemon.log"), 2: filepath.Join(e.home, "daemon.log")}
	for fd, want := range wantFD {
		if got, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, fd)); err != nil || got != want {
			t.Errorf("daemon fd %d -> %q (%v), want %s", fd, got, err, want)
		}
	}

	if r := e.ok("daemon", "stop"); !strings.Contains(r.stdout, "stopped") {
		t.Errorf("stop: %v", r)
	}
	if testkit.Alive(pid) {
		t.Errorf("daemon %d still alive after opm daemon stop returned", pid)
	}
}

// A restore that holds the flag and is stopped (SIGSTOP) is reported by
// `opm daemon status`: how long it has held the flag, and that its owner
// is stopped; once it runs again, it is no longer called stopped.
func TestStalledRestoreReported(t *testing.T) {
	t.Parallel()
	e := newEnvConfig(t, fastConfig+"restore_stall = \"1ms\"\n")
	e.startApp("web", "block") // supervised, nothing deferred
	before := time.Now()
	holder := e.holdFlag()
	pid := holder.Pid()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(pid, syscall.SIGCONT)
	testkit.WaitFor(t, "the flag holder to stop", 10*time.Second, func() bool { return state(pid) == 'T' })

	r := e.ok("daemon", "status")
	t.Logf("%s", r.stdout)
	for _, want := range []string{"restore in progress", fmt.Sprintf("owner pid %d", pid), "held ", "owner stopped", "stalled"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("daemon status lacks %q:\n%s", want, r.stdout)
		}
	}
	var st api.DaemonStatus
	if err := json.Unmarshal([]byte(e.ok("daemon", "status", "--json").stdout), &st); err != nil {
		t.Fatal(err)
	}
	const slack = time.Second // the daemon's clocks and ours, read apart
	if f := st.Restore; !f.InProgress || f.OwnerPID != pid || !f.OwnerStopped || !f.Stalled ||
		f.HeldSince.Before(before.Add(-slack)) || f.HeldSince.After(time.Now().Add(slack)) ||
		f.HeldMs < 0 || time.Duration(f.HeldMs)*time.Millisecond > time.Since(before)+slack {
		t.Errorf("daemon status --json restore = %+v, want held by stopped pid %d since about %v", f, pid, before)
	}

	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the flag holder to run again", 10*time.Second, func() bool { return state(pid) != 'T' })
	if r := e.ok("daemon", "status"); !strings.Contains(r.stdout, "restore in progress") || strings.Contains(r.stdout, "stopped") {
		t.Errorf("daemon status with the holder running again:\n%s", r.stdout)
	}
}

// state is the state letter of process pid (0 when it is gone).
func state(pid int) byte {
	st, _ := proc.ReadStat(pid)
	return st.State
}
