package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/testkit"
)

// An OPM_HOME that is not the caller's own (root with `sudo -E`, or a home
// shared with another user) is refused before anything runs from it, with
// a message that says how to fix it; so is one that others may write to.
func TestUntrustedHomeRefused(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		root  bool
		spoil func(home string) error
		want  string
	}{
		{"another user's", true, func(h string) error { return os.Chown(h, testkit.Nobody, testkit.Nobody) }, "belongs to uid 65534"},
		{"group writable", false, func(h string) error { return os.Chmod(h, 0o770) }, "chmod go-w"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.root && os.Geteuid() != 0 {
				t.Skip("needs root to give OPM_HOME to another user")
			}
			e := newEnv(t)
			fi, err := os.Stat(e.home)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.spoil(e.home); err != nil {
				t.Fatal(err)
			}
			// Before the harness's cleanup, which needs a trusted home.
			t.Cleanup(func() {
				_ = os.Chown(e.home, os.Geteuid(), os.Getegid())
				_ = os.Chmod(e.home, fi.Mode().Perm())
			})
			r := e.run("start", os.Args[0], "--name", "web", "--env", "OPM_TEST_CHILD=block")
			if r.code != 1 || !strings.Contains(r.stderr, "OPM_HOME") || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("start in an untrusted home: %v\nwant exit 1 naming OPM_HOME and %q", r, tc.want)
			}
			if d := e.daemons(); len(d) != 0 {
				t.Errorf("a daemon runs from the untrusted home: %v", d)
			}
			if _, err := os.Stat(filepath.Join(e.home, api.DaemonLogName)); err == nil {
				t.Errorf("opm wrote daemon.log into the untrusted home")
			}
		})
	}
}

// victimFile is a file outside opm's home that a planted symlink points
// at; it must never change.
func victimFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(p, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func checkVictim(t *testing.T, p string) {
	t.Helper()
	if b, err := os.ReadFile(p); err != nil || string(b) != "precious\n" {
		t.Errorf("the file behind the planted symlink changed: %q, %v", b, err)
	}
}

// A symlink planted where an app's log goes is never followed: neither the
// app's output nor `opm flush` reaches the file it points at.
func TestPlantedLogSymlinkRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	victim := victimFile(t)
	e.startApp("web", "block")
	out := filepath.Join(e.home, api.LogsDir, "web-out.log")
	plant := func() {
		t.Helper()
		if err := os.Remove(out); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(victim, out); err != nil {
			t.Fatal(err)
		}
	}

	plant()
	r := e.run("flush", "web")
	if r.code != 1 || !strings.Contains(r.stderr, "symlink") {
		t.Errorf("flush through a planted symlink: %v", r)
	}
	checkVictim(t, victim)

	e.ok("stop", "web")
	r = e.run("start", "web")
	if r.code != 1 || !strings.Contains(r.stderr, "symlink") {
		t.Errorf("start with a planted log symlink: %v", r)
	}
	checkVictim(t, victim)
	if n := len(e.marked()); n != 1 { // the daemon alone
		t.Errorf("%d marked processes, want only the daemon: the app ran without its log", n)
	}
}

// The dump says what to run; the daemon writes only where it decides.
// Log paths in the dump are ignored, and a dump that is not the user's own
// is refused.
func TestRestoreTrustsNoPathFromTheDump(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	victim := victimFile(t)
	e.startMarked("web")
	e.ok("save")
	e.freshContainer([]string{"web"})

	path := filepath.Join(e.home, api.DumpName)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	spec := d["apps"].([]any)[0].(map[string]any)["spec"].(map[string]any)
	spec["out_log"], spec["err_log"] = victim, victim
	data, _ = json.Marshal(d)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	e.ok("restore")
	e.checkExactlyOnce([]string{"web"}, "after the restore")
	want := filepath.Join(e.home, api.LogsDir, "web-out.log")
	if got := e.app("web").Spec.OutLog; got != want {
		t.Errorf("out log = %s, want %s", got, want)
	}
	testkit.WaitFor(t, "the app's first line in its own log", 10*time.Second, func() bool {
		b, _ := os.ReadFile(want)
		return strings.Contains(string(b), "block ")
	})
	checkVictim(t, victim)

	if os.Geteuid() != 0 {
		return
	}
	e.freshContainer([]string{"web"})
	if err := os.Chown(path, testkit.Nobody, testkit.Nobody); err != nil {
		t.Fatal(err)
	}
	r := e.run("restore")
	if r.code != 1 || !strings.Contains(r.stderr, "uid 65534") {
		t.Errorf("restore of another user's dump: %v", r)
	}
	if n := e.running("web"); n != 0 {
		t.Errorf("%d processes of web from another user's dump", n)
	}
}
