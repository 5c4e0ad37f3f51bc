package main

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"opm/daemon/api"
	"opm/daemon/cgroup"
	"opm/daemon/proc"
	"opm/daemon/testkit"
)

// A grandchild that calls setsid() leaves the app's session and process
// group. With cgroup v2 it stays in the app's cgroup, and stop ends it,
// gently (SIGTERM) or, when it ignores SIGTERM, with cgroup.kill.
func TestCgroupStopKillsSetsidGrandchild(t *testing.T) {
	t.Parallel()
	tests := []struct{ mode, killTimeout string }{
		{"setsid-grandchild", "2s"},
		{"setsid-grandchild-stubborn", "300ms"},
	}
	e := newEnv(t)
	dir := e.needCgroups()
	r := e.ok("daemon", "status")
	if !strings.Contains(r.stdout, "cgroups:      v2") || !strings.Contains(r.stdout, dir) {
		t.Errorf("opm daemon status does not show cgroups v2 in %s:\n%s", dir, r.stdout)
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			app, gc := e.startFamily(tt.mode, tt.mode, "--kill-timeout", tt.killTimeout)
			if strings.HasSuffix(tt.mode, "-stubborn") {
				e.waitLogPID(tt.mode, "ignoring ", 1) // SIGTERM is ignored from now on
			}
			testkit.WaitFor(t, "the grandchild to leave the app's session", 10*time.Second, func() bool {
				sid, err := unix.Getsid(gc)
				return err == nil && sid == gc
			})
			if !testkit.Alive(app.PID) {
				t.Fatalf("app %d not running", app.PID)
			}
			e.ok("stop", tt.mode)
			testkit.WaitFor(t, "the escaped grandchild to die", 10*time.Second, func() bool { return !testkit.Alive(gc) })
			if got := e.app(tt.mode); got.Status != api.StatusStopped || got.PID != 0 || testkit.Alive(app.PID) {
				t.Errorf("after stop: %+v (leader %d alive: %v)", got, app.PID, testkit.Alive(app.PID))
			}
		})
	}
}

// A leader that crashes leaves its escaped grandchild behind; the daemon
// kills it before the restart, so the new process never runs beside it.
func TestCgroupRestartLeavesNoLeftover(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.needCgroups()
	first, gc1 := e.startFamily("crashy", "setsid-grandchild")
	if err := syscall.Kill(first.PID, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	gc2 := e.waitLogPID("crashy", "grandchild ", 2)
	second := e.waitStatus("crashy", api.StatusOnline, 10*time.Second)
	testkit.WaitFor(t, "the first run's grandchild to die", 10*time.Second, func() bool { return !testkit.Alive(gc1) })
	if second.PID == first.PID || second.Restarts != 1 || !testkit.Alive(gc2) {
		t.Fatalf("after the crash: %+v, grandchild %d alive %v; want a new online process with 1 restart", second, gc2, testkit.Alive(gc2))
	}
	// Exactly the new run: its leader and its grandchild.
	want := map[int]bool{second.PID: true, gc2: true}
	for _, pid := range e.appProcs() {
		if !want[pid] {
			t.Errorf("process %d runs beside the restarted app: %s", pid, testkit.Cmdline(pid))
		}
	}
}

// `opm remove` removes the app's cgroup; `opm daemon stop` leaves no app
// cgroup behind.
func TestCgroupRemovedWithApp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := e.needCgroups()
	gone, gc := e.startFamily("gone", "setsid-grandchild")
	kept, keptGC := e.startFamily("kept", "setsid-grandchild-stubborn")
	goneDir, keptDir := appCgroupOf(t, dir, gone.PID), appCgroupOf(t, dir, kept.PID)
	e.ok("remove", "gone")
	testkit.WaitFor(t, "the removed app's cgroup to go", 10*time.Second, func() bool {
		_, err := os.Stat(goneDir)
		return errors.Is(err, fs.ErrNotExist)
	})
	if testkit.Alive(gc) {
		t.Errorf("grandchild %d of the removed app survived", gc)
	}
	if _, err := os.Stat(keptDir); err != nil {
		t.Errorf("removing one app removed another's cgroup: %v", err)
	}

	e.ok("daemon", "stop")
	if left := appCgroups(t, dir); len(left) > 0 {
		t.Errorf("opm daemon stop left app cgroups: %v", left)
	}
	if testkit.Alive(keptGC) {
		t.Errorf("grandchild %d survived opm daemon stop", keptGC)
	}
}

// A new daemon, after the old one was killed with SIGKILL, finds an
// adopted app's cgroup and stops the whole app.
func TestCgroupAdoptedAppStopsWhole(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.needCgroups()
	app, gc := e.startFamily("adopted", "setsid-grandchild")
	old := e.daemonStatus().PID
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the old daemon to die", 10*time.Second, func() bool { return !testkit.Alive(old) })
	e.ok("list")
	if now := e.app("adopted"); now.PID != app.PID || now.Status != api.StatusOnline {
		t.Fatalf("after the daemon's death: %+v, want pid %d adopted", now, app.PID)
	}
	e.ok("stop", "adopted")
	testkit.WaitFor(t, "the adopted app's escaped grandchild to die", 10*time.Second, func() bool { return !testkit.Alive(gc) })
}

// With cgroups = "off" the daemon says so and stops apps by process group,
// as without cgroup v2: a grandchild in the group dies, one that called
// setsid() survives (the documented limit).
func TestCgroupsOff(t *testing.T) {
	t.Parallel()
	e := newEnvConfig(t, fastConfig+"cgroups = \"off\"\n")
	e.ok("daemon", "start")
	st := e.daemonStatus().Cgroups
	if st.Mode != api.CgroupsOff || !strings.Contains(st.Reason, `cgroups = "off"`) {
		t.Errorf("daemon status cgroups = %+v, want off because of config.toml", st)
	}
	if r := e.ok("daemon", "status"); !strings.Contains(r.stdout, "cgroups:      off") {
		t.Errorf("opm daemon status does not show cgroups off:\n%s", r.stdout)
	}
	_, inGroup := e.startFamily("group", "grandchild")
	_, escaped := e.startFamily("escaper", "setsid-grandchild")
	e.ok("stop", "all")
	testkit.WaitFor(t, "the grandchild in the app's group to die", 10*time.Second, func() bool { return !testkit.Alive(inGroup) })
	if !testkit.Alive(escaped) {
		t.Errorf("with cgroups off the setsid grandchild %d died: stop went beyond the process group", escaped)
	}
	_ = syscall.Kill(escaped, syscall.SIGKILL)
	if dir, err := cgroup.Dir(e.home); err == nil {
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("with cgroups off the daemon made %s (%v)", dir, err)
		}
	}
}

// needCgroups skips the test, saying why, unless cgroup v2 is usable here
// (mounted, and delegated to this user: root on these machines), starts
// the daemon, checks that it uses cgroups, and returns the directory of
// its apps' cgroups.
func (e *env) needCgroups() string {
	e.t.Helper()
	dir, err := cgroup.Dir(e.home)
	if err != nil {
		e.t.Skipf("cgroup v2 is not usable here: %v", err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		e.t.Skipf("cgroup v2 is not delegated to this user: %v", err)
	}
	_, kill := os.Stat(filepath.Join(dir, "cgroup.kill"))
	if err := os.Remove(dir); err != nil {
		e.t.Fatal(err)
	}
	if kill != nil {
		e.t.Skipf("this kernel has no cgroup.kill (Linux 5.14 or newer is needed): %v", kill)
	}
	e.ok("daemon", "start")
	st := e.daemonStatus().Cgroups
	if st.Mode != api.CgroupsV2 || st.Path != dir {
		e.t.Fatalf("the daemon does not use cgroups: %+v, want v2 in %s", st, dir)
	}
	return dir
}

// appProcs lists the live processes started for this test's apps: the
// marked processes that play a child mode.
func (e *env) appProcs() []int {
	var pids []int
	for _, pid := range e.marked() {
		if env, err := proc.Environ(pid); err == nil {
			if _, ok := proc.EnvValue(env, testkit.ChildEnv); ok {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// appCgroupOf returns the directory of the app cgroup in dir that holds
// process pid (in one of its run-<n> leaves).
func appCgroupOf(t *testing.T, dir string, pid int) string {
	t.Helper()
	cg, err := cgroup.Of(pid)
	if err != nil {
		t.Fatal(err)
	}
	app := path.Dir(cg)
	if path.Base(path.Dir(app)) != filepath.Base(dir) || !strings.HasPrefix(path.Base(app), "app-") {
		t.Fatalf("process %d is in cgroup %s, not in an app cgroup in %s", pid, cg, dir)
	}
	return filepath.Join(dir, path.Base(app))
}

// appCgroups lists the app cgroups left in dir.
func appCgroups(t *testing.T, dir string) []string {
	t.Helper()
	left, err := filepath.Glob(filepath.Join(dir, "app-*"))
	if err != nil {
		t.Fatal(err)
	}
	return left
}
