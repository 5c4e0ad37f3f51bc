package daemon

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/cgroup"
	"opm/daemon/testkit"
)

// Every run of an app gets a leaf cgroup of its own inside the app's
// cgroup, and survives: the kernel kills at birth a process cloned into a
// cgroup that was once killed through cgroup.kill, as an app's cgroup is
// after each stop.
func TestCgroupEachRunLives(t *testing.T) {
	d := startDaemon(t)
	dir := needCgroups(t, d)
	d.start("a", "print-env")
	out := filepath.Join(d.home, api.LogsDir, "a-out.log")
	for run := 1; run <= 3; run++ {
		testkit.WaitFor(t, "run "+strconv.Itoa(run)+" of the app to print", 10*time.Second, func() bool {
			return strings.Count(readFile(t, out), "OPM_TEST_CHILD=print-env") == run
		})
		a, err := d.get("a")
		if err != nil {
			t.Fatal(err)
		}
		cg, err := cgroup.Of(a.PID)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.cgroupDir(cg); filepath.Dir(filepath.Dir(got)) != dir || !strings.HasPrefix(filepath.Base(filepath.Dir(got)), "app-") || !strings.HasPrefix(filepath.Base(got), "run-") {
			t.Fatalf("run %d is in cgroup %s, want %s/app-<key>/run-<n>", run, got, dir)
		}
		if _, err := d.action("a", "stop"); err != nil {
			t.Fatal(err)
		}
		if _, err := d.action("a", "start"); err != nil {
			t.Fatal(err)
		}
	}
}

// needCgroups skips the test, saying why, unless cgroup v2 is usable here
// (mounted, and delegated to this user: root on these machines), checks
// that the daemon uses it, and returns the directory of its apps' cgroups.
func needCgroups(t *testing.T, d *testDaemon) string {
	t.Helper()
	dir, err := cgroup.Dir(d.home)
	if err != nil {
		t.Skipf("cgroup v2 is not usable here: %v", err)
	}
	var st api.DaemonStatus
	if err := d.cl.Do(t.Context(), "GET", api.PathDaemon, nil, &st); err != nil {
		t.Fatal(err)
	}
	if st.Cgroups.Mode != api.CgroupsV2 {
		if os.Geteuid() != 0 {
			t.Skipf("cgroup v2 is not delegated to this user: %s", st.Cgroups.Reason)
		}
		t.Fatalf("the daemon does not use cgroups: %+v", st.Cgroups)
	}
	if st.Cgroups.Path != dir {
		t.Fatalf("the daemon keeps its cgroups in %s, want %s", st.Cgroups.Path, dir)
	}
	return dir
}

// cgroupDir is the directory of cgroup cg (as /proc/<pid>/cgroup names it).
func (d *testDaemon) cgroupDir(cg string) string {
	dir, err := cgroup.DirOf(cg)
	if err != nil {
		d.t.Fatal(err)
	}
	return dir
}

// A crash with nothing left behind restarts the app in the leaf its last
// process ran in, untouched by cgroup.kill, and the process lives; one
// that left a process behind has it killed and the next process gets a
// new leaf, where it lives too.
func TestCgroupCrashRestartLeaf(t *testing.T) {
	d := startDaemon(t)
	needCgroups(t, d)
	// A leaf by its inode: one removed and made again under the same
	// name is another cgroup.
	leafOf := func(pid int) string {
		t.Helper()
		cg, err := cgroup.Of(pid)
		if err != nil {
			t.Fatal(err)
		}
		var st syscall.Stat_t
		if err := syscall.Stat(d.cgroupDir(cg), &st); err != nil {
			t.Fatal(err)
		}
		return cg + " inode " + strconv.FormatUint(st.Ino, 10)
	}
	a := d.start("a", "block")
	leaf := leafOf(a.PID)
	for i := 1; i <= 3; i++ {
		if err := syscall.Kill(a.PID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		old := a.PID
		a = d.waitApp("a", "to be restarted", func(b api.App) bool { return b.Status == api.StatusOnline && b.PID != old })
		if got := leafOf(a.PID); got != leaf {
			t.Errorf("restart %d runs in %s, want the same leaf %s", i, got, leaf)
		}
		if a.Restarts != i || syscall.Kill(a.PID, 0) != nil {
			t.Fatalf("restart %d: %d restarts, pid %d alive: %v; want %d and alive", i, a.Restarts, a.PID, syscall.Kill(a.PID, 0) == nil, i)
		}
	}

	g := d.start("g", "setsid-grandchild")
	out := filepath.Join(d.home, api.LogsDir, "g-out.log")
	var grandchild int
	testkit.WaitFor(t, "the grandchild's pid", 10*time.Second, func() bool {
		for line := range strings.SplitSeq(readFile(t, out), "\n") {
			if v, ok := strings.CutPrefix(line, "grandchild "); ok {
				grandchild, _ = strconv.Atoi(v)
			}
		}
		return grandchild > 0
	})
	leaf = leafOf(g.PID)
	if err := syscall.Kill(g.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the leftover grandchild to be killed", 10*time.Second, func() bool {
		_, err := os.Stat("/proc/" + strconv.Itoa(grandchild))
		return os.IsNotExist(err)
	})
	old := g.PID
	g = d.waitApp("g", "to be restarted", func(b api.App) bool { return b.Status == api.StatusOnline && b.PID != old })
	if got := leafOf(g.PID); got == leaf {
		t.Errorf("after a leftover was killed, the restart runs in the same leaf (%s)", leaf)
	}
	if g.Restarts != 1 || syscall.Kill(g.PID, 0) != nil {
		t.Fatalf("after the leftover: %d restarts, pid %d alive: %v; want 1 and alive", g.Restarts, g.PID, syscall.Kill(g.PID, 0) == nil)
	}
}
