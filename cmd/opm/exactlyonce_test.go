package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"opm/daemon/api"
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
		{"daemon listening", func() bool { return exists(filepath.Join(e.runtime, "opm.sock")) }},
		{"first app up", func() bool { return argvCount(e.appMark(names[0])) > 0 }},
		{"some apps up", func() bool { return argvCount(e.appMark(names[len(names)-1])) > 0 }},
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
			deadline := time.Now().Add(20 * time.Second)
			for !m.when() {
				select {
				case <-exited:
					t.Fatalf("%s: the restore finished before it could be killed", m.name)
				default:
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: moment never came", m.name)
				}
				time.Sleep(100 * time.Microsecond) // polling for the moment to strike
			}
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-exited
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

// A restore killed while holding the flag must not stop the daemon's own
// restarts for good: once the dead owner is noticed, a crashed app comes
// back.
func TestKilledRestoreDoesNotBlockRestarts(t *testing.T) {
	e := newEnv(t)
	e.startMarked("web")
	before := e.app("web")
	holder := e.holdFlag()
	_ = holder.Process.Kill()
	_ = holder.Wait()
	if !e.flagInProgress() {
		t.Fatal("the killed holder left no flag: the test proves nothing")
	}
	_ = killPid(before.PID)
	e.waitFor("web to be restarted after the dead restore owner", 20*time.Second, func() bool {
		a := e.app("web")
		return a.Status == "online" && a.PID != before.PID && a.PID != 0
	})
	e.checkExactlyOnce([]string{"web"}, "after the restart")
}

// The daemon killed with SIGKILL: the next command brings a daemon back,
// which adopts the same processes and starts none; an adopted app that
// then dies is restarted once.
func TestDaemonKilledAdoptsApps(t *testing.T) {
	e := newEnv(t)
	names := []string{"a", "b", "c"}
	for _, n := range names {
		e.startMarked(n)
	}
	pids := map[string]int{}
	for _, a := range e.list() {
		pids[a.Name] = a.PID
	}
	old := e.daemonStatus().PID
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the old daemon to die", 10*time.Second, func() bool { return !alive(old) })
	for _, a := range e.list() {
		if a.PID != pids[a.Name] || a.Status != "online" {
			t.Fatalf("after daemon restart app %s is %s pid %d, want online pid %d", a.Name, a.Status, a.PID, pids[a.Name])
		}
	}
	if now := e.daemonStatus().PID; now == old {
		t.Fatal("daemon pid unchanged: it was not really killed")
	}
	e.checkExactlyOnce(names, "after adoption")

	_ = killPid(pids["b"])
	b := e.waitStatusWhere("b", "restarted after its adopted process died", func(a api.App) bool {
		return a.Status == "online" && a.PID != pids["b"] && a.PID != 0
	})
	if b.Restarts != 1 {
		t.Fatalf("b restarted %d times, want 1", b.Restarts)
	}
	e.checkExactlyOnce(names, "after the adopted app's restart")
	for _, n := range []string{"a", "c"} {
		if a := e.app(n); a.PID != pids[n] {
			t.Fatalf("%s pid changed from %d to %d", n, pids[n], a.PID)
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

// A restore while everything already runs starts nothing.
func TestRestoreWhileRunning(t *testing.T) {
	e := newEnv(t)
	names := e.savedApps(3)
	before := map[string]int{}
	for _, a := range e.list() {
		before[a.Name] = a.PID
	}
	r := e.ok("restore")
	if !strings.Contains(r.stdout, "already running") {
		t.Errorf("restore summary does not say the apps were already running:\n%s", r.stdout)
	}
	for _, a := range e.list() {
		if a.PID != before[a.Name] {
			t.Fatalf("%s pid %d → %d: restore touched a running app", a.Name, before[a.Name], a.PID)
		}
	}
	e.checkExactlyOnce(names, "after restore over running apps")
}

// An unreadable dump is a clear error naming the file; the file is kept as
// it is, a copy is set aside, and the daemon keeps running.
func TestCorruptDump(t *testing.T) {
	e := newEnv(t)
	e.savedApps(1)
	path := filepath.Join(e.home, "dump.json")
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"truncated":       good[:len(good)/2],
		"not json":        []byte("this is not json"),
		"unknown version": []byte(`{"version": 999, "apps": []}`),
		"empty":           {},
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			r := e.run("restore")
			if r.code != 1 || !strings.Contains(r.stderr, path) {
				t.Fatalf("want exit 1 and an error naming %s; got %v", path, r)
			}
			if got, _ := os.ReadFile(path); string(got) != string(data) {
				t.Fatalf("the corrupt dump was changed: %q", got)
			}
			aside, _ := filepath.Glob(path + ".corrupt-*")
			found := false
			for _, p := range aside {
				if b, _ := os.ReadFile(p); string(b) == string(data) {
					found = true
				}
			}
			if !found {
				t.Fatalf("no copy of the corrupt dump set aside (have %v)", aside)
			}
			e.daemonStatus() // still answers
			e.checkExactlyOnce([]string{"app0"}, "after a failed restore")
		})
	}
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
		if c := argvCount(e.appMark(n)); c != 0 {
			t.Fatalf("%s started %d times by a refused restore", n, c)
		}
	}
}

// flagInProgress reads the restore flag as the daemon does.
func (e *env) flagInProgress() bool {
	if !exists(filepath.Join(e.runtime, shm.FlagName)) {
		return false
	}
	f, err := shm.OpenFlag(e.runtime)
	if err != nil {
		return false
	}
	defer f.Close()
	return f.InProgress()
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// waitStatusWhere polls `opm list --json` until app name satisfies cond.
func (e *env) waitStatusWhere(name, what string, cond func(api.App) bool) api.App {
	e.t.Helper()
	var last api.App
	e.waitFor(name+" "+what, 20*time.Second, func() bool {
		last = e.app(name)
		return cond(last)
	})
	return last
}
