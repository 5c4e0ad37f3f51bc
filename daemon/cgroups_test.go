package daemon

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
