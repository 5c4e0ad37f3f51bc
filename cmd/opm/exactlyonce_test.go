package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/testkit"
	"opm/shm"
)

// The state right after a container restart — saved apps, no daemon, an
// empty runtime dir — hit by several restores and lists at the same
// instant: each app ends with exactly one process, under one daemon, and
// every restore reports success. Round after round.
func TestRestoreFreshContainerRace(t *testing.T) {
	e := newEnv(t)
	names := e.savedApps(6)
	rounds := stressRounds(t, 50)
	cmds := [][]string{{"restore"}, {"restore"}, {"resurrect"}, {"list", "--json"}, {"restore"}, {"list"}}
	for round := range rounds {
		e.freshContainer(names)
		for i, r := range e.runAll(cmds) {
			if r.code != 0 {
				t.Fatalf("round %d, command %d: %v", round, i, r)
			}
		}
		e.checkExactlyOnce(names, fmt.Sprintf("round %d, right after the commands", round))
		for _, a := range e.list() {
			if a.Status != "online" || a.Restarts != 0 {
				t.Fatalf("round %d: app %s is %s with %d restarts, want online with 0", round, a.Name, a.Status, a.Restarts)
			}
		}
		e.checkExactlyOnce(names, fmt.Sprintf("round %d, after a list", round))
	}
	t.Logf("%d rounds of %d concurrent commands over %d apps: exactly once every time", rounds, len(cmds), len(names))
}

// A restore killed with SIGKILL at varied moments leaves nothing stuck: the
// next restore proceeds and every app ends up running exactly once.
func TestRestoreKilledMidway(t *testing.T) {
	e := newEnv(t)
	names := e.savedApps(5)
	moments := []struct {
		name string
		when func() bool // the restore is killed as soon as this holds
	}{
		{"at once", func() bool { return true }},
		{"flag taken", func() bool { return e.flagInProgress() }},
		{"daemon listening", func() bool { _, err := os.Lstat(api.SocketPath(e.runtime)); return err == nil }},
		{"first app up", func() bool { return e.running(names[0]) > 0 }},
		{"some apps up", func() bool { return e.running(names[len(names)-1]) > 0 }},
	}
	rounds := stressRounds(t, 4)
	for round := range rounds {
		for _, m := range moments {
			e.freshContainer(names)
			cmd := exec.Command(os.Args[0], "restore")
			cmd.Env = e.environ
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			ended := false
			// The moments pass quickly: poll at a steady, fine interval.
			// A moment seen is struck at once, even when the restore has
			// ended in the same instant (the moment after the last app
			// came up is that close to its end, and both can pass between
			// two looks): only a restore that ended while its moment had
			// not come is a failure.
			if !testkit.PollEvery(20*time.Second, 100*time.Microsecond, func() bool {
				if m.when() {
					return true
				}
				select {
				case <-exited:
					ended = true
					return true
				default:
					return false
				}
			}) {
				t.Fatalf("%s: moment never came", m.name)
			}
			if ended && !m.when() {
				t.Fatalf("%s: the restore finished before it could be killed", m.name)
			}
			if !ended {
				_ = cmd.Process.Signal(syscall.SIGKILL)
				<-exited
			}
			r := e.run("restore")
			if r.code != 0 {
				t.Fatalf("round %d, killed %s: second restore: %v", round, m.name, r)
			}
			e.checkExactlyOnce(names, fmt.Sprintf("round %d, restore killed %s, then restored", round, m.name))
			if e.flagInProgress() {
				t.Fatalf("round %d, killed %s: restore flag still held after the second restore", round, m.name)
			}
		}
	}
}

// `opm daemon restart` replaces the daemon without touching the apps.
func TestDaemonRestartKeepsApps(t *testing.T) {
	e := newEnv(t)
	e.startMarked("a")
	before := e.app("a")
	old := e.daemonStatus().PID
	e.ok("daemon", "restart")
	if now := e.daemonStatus().PID; now == old {
		t.Fatal("daemon restart kept the same daemon process")
	}
	if a := e.app("a"); a.PID != before.PID || a.Status != "online" {
		t.Fatalf("after daemon restart: %+v, want pid %d online", a, before.PID)
	}
	e.checkExactlyOnce([]string{"a"}, "after daemon restart")
}

// An unreadable dump fails the restore with exit 1 and one line that
// names the file and the copy set aside; the apps that run go on running,
// once. (What the daemon keeps and sets aside, for every kind of broken
// dump, is tested in package daemon.)
func TestCorruptDump(t *testing.T) {
	e := newEnv(t)
	e.savedApps(1)
	path := filepath.Join(e.home, api.DumpName)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, good[:len(good)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	r := e.run("restore")
	if r.code != 1 || !strings.HasPrefix(r.stderr, "opm: ") || strings.Count(r.stderr, "\n") != 1 ||
		!strings.Contains(r.stderr, path) || !strings.Contains(r.stderr, path+".corrupt-") {
		t.Fatalf("want exit 1 and one line naming %s and its copy; got %v", path, r)
	}
	e.checkExactlyOnce([]string{"app0"}, "after a failed restore")
}

// A broken restore flag page is rebuilt and the restore works; a hostile
// one (a symlink) is refused with a clear error and its target untouched.
func TestRestoreWithBrokenFlagPage(t *testing.T) {
	e := newEnv(t)
	names := e.savedApps(2)
	flag := filepath.Join(e.runtime, shm.FlagName)

	e.freshContainer(names)
	if err := os.WriteFile(flag, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.ok("restore")
	e.checkExactlyOnce(names, "restore over a broken flag page")
	if fi, err := os.Stat(flag); err != nil || fi.Size() != shm.PageSize {
		t.Fatalf("flag page not rebuilt: %v %v", fi, err)
	}

	e.freshContainer(names)
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, flag); err != nil {
		t.Fatal(err)
	}
	r := e.run("restore")
	if r.code == 0 || !strings.Contains(r.stderr, "symlink") {
		t.Fatalf("restore over a symlinked flag: %v", r)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep me" {
		t.Fatalf("symlink target changed: %q", b)
	}
	for _, n := range names {
		if c := e.running(n); c != 0 {
			t.Fatalf("%s started %d times by a refused restore", n, c)
		}
	}
}

// stressRounds is n, or OPM_STRESS_ROUNDS when set (make stress).
func stressRounds(t *testing.T, n int) int {
	if s := os.Getenv("OPM_STRESS_ROUNDS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("OPM_STRESS_ROUNDS=%q: want a positive number", s)
		}
		return v
	}
	if testing.Short() {
		return max(1, n/10)
	}
	return n
}
