package daemon

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"opm/daemon/api"
)

func TestParseCgroup2Mount(t *testing.T) {
	tests := []struct {
		name, mountinfo string
		mount, root     string
		ok              bool
	}{
		{
			name: "hybrid",
			mountinfo: `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`,
			mount: "/sys/fs/cgroup/unified", root: "/", ok: true,
		},
		{
			name:      "unified, with optional fields",
			mountinfo: "30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n",
			mount:     "/sys/fs/cgroup", root: "/", ok: true,
		},
		{
			name:      "a container's subtree, escaped space",
			mountinfo: `900 800 0:26 /docker/abc /sys/fs/my\040cgroup ro - cgroup2 cgroup2 rw` + "\n",
			mount:     "/sys/fs/my cgroup", root: "/docker/abc", ok: true,
		},
		{
			name:      "v1 only",
			mountinfo: "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n",
		},
		{name: "garbage", mountinfo: "- cgroup2\n\n1 2 3\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mount, root, ok := parseCgroup2Mount([]byte(tt.mountinfo))
			if mount != tt.mount || root != tt.root || ok != tt.ok {
				t.Errorf("got %q %q %v, want %q %q %v", mount, root, ok, tt.mount, tt.root, tt.ok)
			}
		})
	}
}

func TestParseCgroupFile(t *testing.T) {
	tests := []struct {
		name, data, want string
		ok               bool
	}{
		{"hybrid", "4:memory:/x\n1:cpu:/\n0::/\n", "/", true},
		{"unified", "0::/user.slice/opm-1a2b3c4d/app-3/run-0\n", "/user.slice/opm-1a2b3c4d/app-3/run-0", true},
		{"v1 only", "4:memory:/x\n", "", false},
		{"empty", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseCgroupFile([]byte(tt.data))
			if got != tt.want || ok != tt.ok {
				t.Errorf("got %q %v, want %q %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestConfigCgroups(t *testing.T) {
	tests := []struct {
		name, toml, want, err string
	}{
		{"default", "", CgroupsAuto, ""},
		{"off", `cgroups = "off"`, CgroupsOff, ""},
		{"auto", `cgroups = "auto"`, CgroupsAuto, ""},
		{"unknown value", `cgroups = "always"`, "", `cgroups must be "auto" or "off"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			if err := os.WriteFile(filepath.Join(home, ConfigName), []byte(tt.toml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := LoadConfig(home, "/run")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one saying %q", err, tt.err)
				}
				return
			}
			if err != nil || cfg.Cgroups != tt.want {
				t.Fatalf("cgroups = %q (%v), want %q", cfg.Cgroups, err, tt.want)
			}
		})
	}
}

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
		waitFor(t, "run "+strconv.Itoa(run)+" of the app to print", 10*time.Second, func() bool {
			return count(readFile(t, out), "OPM_TEST_CHILD=print-env") == run
		})
		a, err := d.get("a")
		if err != nil {
			t.Fatal(err)
		}
		cg, err := cgroupOfPid(a.PID)
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
	dir, err := CgroupDir(d.home)
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
	t, err := locateCgroups(d.home, CgroupsAuto)
	if err != nil {
		d.t.Fatal(err)
	}
	return t.dir(cg)
}

// removeCgroups kills and removes whatever is left of the cgroups of a
// daemon for home, so that no test leaves a cgroup behind.
func removeCgroups(t *testing.T, home string) {
	dir, err := CgroupDir(home)
	if err != nil {
		return
	}
	if _, err := os.Stat(dir); err != nil {
		return
	}
	_ = writeFile(filepath.Join(dir, "cgroup.kill"), "1")
	var err2 error
	waitFor(t, "the test's cgroup "+dir+" to be removed", 10*time.Second, func() bool {
		err2 = rmdirTree(dir)
		return !errors.Is(err2, syscall.EBUSY)
	})
	if err2 != nil && !errors.Is(err2, fs.ErrNotExist) {
		t.Errorf("remove the test's cgroup %s: %v", dir, err2)
	}
}
