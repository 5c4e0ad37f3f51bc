package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"opm/daemon/api"
	"opm/daemon/store"
	"opm/daemon/testkit"
)

// Exactly once under resource faults: whatever happens to the runtime
// records — too large, corrupt, stale, impossible to write — a saved app
// ends with one live process.

// recordPath is the runtime record of the app with id.
func (e *env) recordPath(id int) string {
	return filepath.Join(e.runtime, store.RecordsDir, fmt.Sprintf("%d.json", id))
}

// bigEnv returns n variables of size bytes each (one variable may hold at
// most 128 KiB on Linux, the whole environment a few MiB).
func bigEnv(n, size int) []string {
	var env []string
	for i := range n {
		env = append(env, fmt.Sprintf("OPM_TEST_BIG%d=%s", i, strings.Repeat("x", size)))
	}
	return env
}

// An app whose definition is larger than a runtime record may hold is
// refused when it is started, with a message that says what to do; one
// just under the limit is taken over by the next daemon like any other.
func TestSpecSizeLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.runWith(bigEnv(10, 110<<10), "start", os.Args[0], "--name", "huge", "--env", "OPM_TEST_CHILD=block", "--", e.appMark("huge"))
	if r.code != 2 || !strings.Contains(r.stderr, "limit") || !strings.Contains(r.stderr, "environment") {
		t.Fatalf("start with a 1.1 MB environment: %v\nwant exit 2 naming the limit and the environment", r)
	}
	if n := e.running("huge"); n != 0 {
		t.Fatalf("%d processes of the refused app", n)
	}
	if apps := e.apps(); len(apps) != 0 {
		t.Fatalf("the refused app was registered: %+v", apps)
	}

	// Just under the limit: started, adopted after the daemon dies, and
	// never started twice by a restore.
	e.ok("save") // nothing saved yet: restore must not start "big" from a dump
	r = e.runWith(bigEnv(7, 110<<10), "start", os.Args[0], "--name", "big", "--env", "OPM_TEST_CHILD=block", "--", e.appMark("big"))
	if r.code != 0 {
		t.Fatalf("start with a 770 KB environment: %v", r)
	}
	e.ok("save")
	pid := e.app("big").PID
	e.killDaemon()
	e.ok("list") // a new daemon takes over
	if a := e.app("big"); a.PID != pid || a.Status != api.StatusOnline {
		e.t.Fatalf("after the daemon's death big is %s pid %d, want online pid %d (adopted)", a.Status, a.PID, pid)
	}
	e.ok("restore")
	e.checkExactlyOnce([]string{"big"}, "after the takeover and a restore")
}

// A runtime record that cannot be read (corrupt) or names a process that
// is gone while the app runs under another PID: the next daemon finds the
// live process by the token in its environment and adopts it; a restore
// never starts a second copy.
func TestRecordFaultsNeverDuplicate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		spoil func(t *testing.T, path string)
		// orphan: the new daemon finds the live process but no record
		// claims it until the restore.
		orphan bool
	}{
		{name: "corrupt record", orphan: true, spoil: func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte(`{"version":1,"id":`), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		// As an older opm wrote it: no token of the spawn in the record.
		{name: "record naming a dead pid", spoil: func(t *testing.T, path string) {
			gone := exec.Command("true")
			if err := gone.Run(); err != nil {
				t.Fatal(err)
			}
			var rec map[string]any
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &rec); err != nil {
				t.Fatal(err)
			}
			rec["pid"] = gone.Process.Pid
			delete(rec, "spawning")
			data, _ = json.Marshal(rec)
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "record removed", orphan: true, spoil: func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			names := e.savedApps(2)
			victim := e.app("app0")
			e.killDaemon()
			tc.spoil(t, e.recordPath(victim.ID))

			e.ok("list") // a new daemon takes over
			notes := strings.Join(e.daemonStatus().Notes, "\n")
			if tc.orphan != strings.Contains(notes, "no usable runtime record") {
				t.Errorf("daemon status notes %q; want a note on the unclaimed live process: %v", notes, tc.orphan)
			}
			e.ok("restore")
			e.checkExactlyOnce(names, "after the takeover and a restore")
			if a := e.app("app0"); a.PID != victim.PID || a.Status != api.StatusOnline {
				t.Fatalf("app0 is %s pid %d, want its live process %d adopted", a.Status, a.PID, victim.PID)
			}
			// The adopted process is supervised: it is restarted once.
			_ = syscall.Kill(victim.PID, syscall.SIGKILL)
			e.waitApp("app0", "restarted after the adopted process died", 20*time.Second, func(a api.App) bool {
				return a.Status == api.StatusOnline && a.PID != victim.PID && a.PID != 0
			})
			e.checkExactlyOnce(names, "after the restart")
		})
	}
}

// A full runtime tmpfs (anyone can fill /dev/shm): an app whose record
// cannot be written is not started; the records of running apps, rewritten
// in place, keep up with crashes and stops, so that a daemon replaced
// meanwhile neither duplicates a running app nor brings back a stopped
// one; once there is room again, everything works as before.
func TestFullRuntimeTmpfsNeverDuplicates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	testkit.MountTmpfs(t, e.runtime, "1m")
	// Before the unmount: the daemon's socket is on the mount.
	t.Cleanup(func() { e.run("daemon", "stop") })
	names := e.savedApps(2)
	victim := e.app("app0")

	fill := filepath.Join(e.runtime, "fill")
	f, err := os.Create(fill)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 4<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	f.Close()

	// A new app cannot be started: its record cannot be written.
	r := e.run("start", os.Args[0], "--name", "late", "--env", "OPM_TEST_CHILD=block", "--", e.appMark("late"))
	if r.code == 0 || !strings.Contains(r.stderr, "runtime record") {
		t.Errorf("start on a full runtime tmpfs: %v\nwant a failure naming the runtime record", r)
	}
	if n := e.running("late"); n != 0 {
		t.Errorf("%d processes of an app whose record could not be written", n)
	}
	if r := e.ok("daemon", "status"); !strings.Contains(r.stdout, "runtime records cannot be written") {
		t.Errorf("daemon status does not warn of the record it cannot write:\n%s", r.stdout)
	}

	// A crash and a stop: their records are rewritten in place.
	_ = syscall.Kill(victim.PID, syscall.SIGKILL)
	e.waitApp("app0", "restarted", 20*time.Second, func(a api.App) bool {
		return a.Status == api.StatusOnline && a.PID != 0 && a.PID != victim.PID
	})
	e.ok("stop", "app1")
	e.ok("daemon", "restart")
	if a := e.app("app1"); a.Status != api.StatusStopped {
		t.Errorf("after a daemon restart app1 is %s, want stopped as it was", a.Status)
	}
	e.ok("restore")
	e.checkExactlyOnce(names[:1], "after a daemon restart and a restore on a full tmpfs")
	if n := e.running("app1"); n != 0 {
		t.Errorf("the stopped app1 has %d processes", n)
	}

	if err := os.Remove(fill); err != nil {
		t.Fatal(err)
	}
	e.startMarked("late")
	e.ok("start", "app1")
	e.checkExactlyOnce(append(names, "late"), "once there is room again")
}

// A start that fails for a passing cause (too many open files, no memory)
// is treated like a crash: back-off and retry, errored only after the
// limit; the app comes back once the cause is gone.
func TestTransientStartFailureIsRetried(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to lower and raise the daemon's descriptor limit")
	}
	e := newEnvConfig(t, strings.Replace(fastConfig, "max_restarts = 15", "max_restarts = 1000", 1))
	e.startMarked("web")
	web := e.app("web")
	d := e.daemonStatus().PID
	var old unix.Rlimit
	if err := unix.Prlimit(d, unix.RLIMIT_NOFILE, nil, &old); err != nil {
		t.Fatal(err)
	}
	open, err := testkit.FDs(d)
	if err != nil {
		t.Fatal(err)
	}
	// No descriptor to spare: the restart cannot open the app's logs.
	low := unix.Rlimit{Cur: uint64(open), Max: old.Max}
	if err := unix.Prlimit(d, unix.RLIMIT_NOFILE, &low, nil); err != nil {
		t.Fatal(err)
	}
	_ = syscall.Kill(web.PID, syscall.SIGKILL)
	logPath := filepath.Join(e.home, api.DaemonLogName)
	testkit.WaitFor(t, "a restart that failed for want of descriptors, then another attempt", 20*time.Second, func() bool {
		log, _ := os.ReadFile(logPath)
		s := string(log)
		i := strings.Index(s, "event=start-failed app=web")
		return i >= 0 && strings.Contains(s[i:], "too many open files") && strings.Contains(s[i:], "event=restarting app=web")
	})
	if err := unix.Prlimit(d, unix.RLIMIT_NOFILE, &old, nil); err != nil {
		t.Fatal(err)
	}
	e.waitStatus("web", api.StatusOnline, 20*time.Second)
	e.checkExactlyOnce([]string{"web"}, "after the descriptors came back")
}

// An app's leader dies while no daemon runs, leaving a child that called
// setsid (it inherits the app's token): the next daemon does not mistake
// that leftover for the app — it kills it and starts the app again.
func TestLeftoverOfDeadAppNotAdopted(t *testing.T) {
	t.Parallel()
	// Without cgroups: the token alone must tell the leader from the
	// leftover.
	e := newEnvConfig(t, fastConfig+"cgroups = \"off\"\n")
	web, grandchild := e.startFamily("web", "setsid-grandchild")
	e.killDaemon()
	_ = syscall.Kill(web.PID, syscall.SIGKILL)
	testkit.WaitFor(t, "the leader to die", 10*time.Second, func() bool { return !testkit.Alive(web.PID) })

	e.ok("list") // a new daemon takes over
	again := e.waitApp("web", "started again", 20*time.Second, func(a api.App) bool {
		return a.Status == api.StatusOnline && a.PID != 0 && a.PID != web.PID
	})
	if again.PID == grandchild {
		t.Fatalf("the leftover grandchild %d was adopted as the app", grandchild)
	}
	testkit.WaitFor(t, "the leftover to be killed", 10*time.Second, func() bool { return !testkit.Alive(grandchild) })
	// The new run's own grandchild escapes stop without cgroups (the
	// documented limit): end it here.
	_ = syscall.Kill(e.waitLogPID("web", "grandchild ", 2), syscall.SIGKILL)
}
