package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/testkit"
)

// The watch tests tell restarts apart by daemon.log: each burst of
// changes that matters to an app logs one watch-change line naming the
// first path of the burst. Checking that a change did not count (an
// ignored path, a second burst) needs no pause: a real change made after
// it must then be the next line, and the next restart.

// watchedApp starts an app in mode block that watches dir (its cwd) with
// flags, and waits until its files are watched.
func (e *env) watchedApp(name, dir string, flags ...string) api.App {
	e.t.Helper()
	app := e.startApp(name, "block", append([]string{"--cwd", dir}, flags...)...)
	e.waitDaemonLog("the watch of "+name, "event=watch-armed app="+name+" ")
	return app
}

// waitDaemonLog waits until daemon.log holds a line with s.
func (e *env) waitDaemonLog(what, s string) {
	e.t.Helper()
	testkit.WaitFor(e.t, what+" in daemon.log", 20*time.Second, func() bool {
		return strings.Contains(e.daemonLog(), s)
	})
}

// watchChanges are the paths of the app's watch-change lines, in order.
func (e *env) watchChanges(name string) []string {
	e.t.Helper()
	var out []string
	for _, line := range strings.Split(e.daemonLog(), "\n") {
		if !strings.Contains(line, "event=watch-change app="+name+" ") {
			continue
		}
		_, p, _ := strings.Cut(line, " path=")
		p, _, _ = strings.Cut(p, " ")
		out = append(out, p)
	}
	return out
}

// waitRestarts waits until the app has been restarted n times in all
// and is online again.
func (e *env) waitRestarts(name string, n int) api.App {
	e.t.Helper()
	return e.waitApp(name, fmt.Sprintf("restarted %d times and online", n), 30*time.Second, func(a api.App) bool {
		return a.Restarts >= n && a.Status == api.StatusOnline
	})
}

// checkChanges fails the test unless the app's bursts were exactly want
// and it was restarted once for each.
func (e *env) checkChanges(name string, want ...string) {
	e.t.Helper()
	a := e.waitRestarts(name, len(want))
	got := e.watchChanges(name)
	if a.Restarts != len(want) || !slices.Equal(got, want) {
		e.t.Fatalf("%s: %d restarts for the bursts %q; want %d for %q", name, a.Restarts, got, len(want), want)
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A file changed under a watching app's cwd restarts it, once, with
// "watch" as the reason in info, --json and daemon.log; opm list marks
// it as watching.
func TestWatchRestartsOnChange(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "app.js")
	write(t, src, "v1")
	first := e.watchedApp("web", dir, "--watch", "--watch-delay", "300ms")
	e.startApp("plain", "block")

	write(t, src, "v2")
	e.checkChanges("web", src)
	a := e.app("web")
	if a.PID == first.PID || a.LastRestartReason != "watch" {
		t.Errorf("after the change: pid %d (was %d), reason %q", a.PID, first.PID, a.LastRestartReason)
	}
	if log := e.daemonLog(); !strings.Contains(log, "app=web pid="+fmt.Sprint(first.PID)+" reason=watch") {
		t.Errorf("daemon.log does not say why web restarted:\n%s", log)
	}
	var info []api.App
	if err := json.Unmarshal([]byte(e.ok("info", "web", "--json").stdout), &info); err != nil || len(info) != 1 || info[0].LastRestartReason != "watch" {
		t.Errorf("info --json: %v %+v", err, info)
	}
	if out := e.ok("info", "web").stdout; !strings.Contains(out, "(last: watch)") || !strings.Contains(out, dir) {
		t.Errorf("info:\n%s", out)
	}
	list := e.ok("list").stdout
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, " web ") && !strings.Contains(line, "online [watching]") ||
			strings.Contains(line, " plain ") && strings.Contains(line, "watching") {
			t.Errorf("opm list marks the wrong apps as watching:\n%s", list)
		}
	}

	// Exactly one restart: the next change is the next burst.
	again := filepath.Join(dir, "lib.js")
	write(t, again, "x")
	e.checkChanges("web", src, again)
}

// A burst of 50 changes — several files, a directory made meanwhile and
// files written into it — gives one restart; the new directory is
// watched from then on.
func TestWatchBurstOneRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := t.TempDir()
	for _, f := range []string{"a.js", "b.js", "c.js"} {
		write(t, filepath.Join(dir, f), "v0")
	}
	// A second long enough for the 50 writes on a loaded machine.
	e.watchedApp("web", dir, "--watch", "--watch-delay", "1s")

	first := filepath.Join(dir, "a.js")
	for i := range 30 {
		write(t, filepath.Join(dir, []string{"a.js", "b.js", "c.js"}[i%3]), fmt.Sprint("v", i))
	}
	sub := filepath.Join(dir, "sub", "deeper")
	for i := range 20 {
		write(t, filepath.Join(sub, fmt.Sprintf("f%d.js", i)), "new")
	}
	e.checkChanges("web", first)

	inNew := filepath.Join(sub, "late.js")
	write(t, inNew, "late")
	e.checkChanges("web", first, inNew)
}

// Changes under node_modules or .git, to a file --ignore-watch matches,
// or to the app's own log in its cwd (-o) restart nothing.
func TestWatchIgnoresPaths(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := t.TempDir()
	outLog := filepath.Join(dir, "out.log")
	write(t, filepath.Join(dir, "src", "app.js"), "v1") // made after the start, src would be a change
	e.watchedApp("web", dir, "--watch", "--watch-delay", "300ms", "--ignore-watch", "*.tmp,cache", "-o", outLog)
	testkit.WaitLogPID(t, outLog, "block ", 1) // the app wrote its log in its cwd

	write(t, filepath.Join(dir, "node_modules", "x", "index.js"), "x")
	write(t, filepath.Join(dir, ".git", "y"), "y")
	write(t, filepath.Join(dir, "build.tmp"), "t")
	write(t, filepath.Join(dir, "src", "cache", "c.js"), "c")
	real := filepath.Join(dir, "real.js")
	write(t, real, "r")
	e.checkChanges("web", real)

	// The new process logs too, after the restart: not a change.
	testkit.WaitLogPID(t, outLog, "block ", 2)
	write(t, filepath.Join(dir, "node_modules", "x", "other.js"), "x")
	real2 := filepath.Join(dir, "src", "real2.js")
	write(t, real2, "r")
	e.checkChanges("web", real, real2)
}

// --watch-delay sets how long after the last change the app restarts:
// not before, and the default is a second.
func TestWatchDelay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := t.TempDir()
	e.watchedApp("slow", dir, "--watch")
	e.watchedApp("fast", dir, "--watch", "--watch-delay", "400ms")
	changed := time.Now()
	write(t, filepath.Join(dir, "app.js"), "v2")
	e.waitRestarts("fast", 1)
	if took := time.Since(changed); took < 400*time.Millisecond {
		t.Errorf("restarted %s after the change, before its 400ms delay", took)
	}
	e.waitRestarts("slow", 1)
	if took := time.Since(changed); took < time.Second {
		t.Errorf("restarted %s after the change, before the default 1s delay", took)
	}
	log := e.daemonLog()
	if !strings.Contains(log, "app=fast path="+filepath.Join(dir, "app.js")+" restart_in_ms=400") ||
		!strings.Contains(log, "app=slow path="+filepath.Join(dir, "app.js")+" restart_in_ms=1000") {
		t.Errorf("daemon.log does not give the delays:\n%s", log)
	}
}

// --watch=PATH watches those paths, relative to the app's cwd, and
// nothing else.
func TestWatchPaths(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := t.TempDir()
	write(t, filepath.Join(dir, "src", "app.js"), "v1")
	e.watchedApp("web", dir, "--watch=src,conf.json", "--watch-delay", "300ms")
	write(t, filepath.Join(dir, "README.md"), "not watched")
	write(t, filepath.Join(dir, "other.json"), "not watched")
	conf := filepath.Join(dir, "conf.json") // made after the start
	write(t, conf, "{}")
	e.checkChanges("web", conf)
	src := filepath.Join(dir, "src", "app.js")
	write(t, src, "v2")
	e.checkChanges("web", conf, src)
}

// A change does not start a stopped app; opm list still marks it.
func TestWatchStoppedAppStaysStopped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := t.TempDir()
	e.watchedApp("web", dir, "--watch", "--watch-delay", "200ms")
	e.ok("stop", "web")
	write(t, filepath.Join(dir, "app.js"), "v2")
	e.waitDaemonLog("the change seen while stopped", "event=watch-idle app=web ")
	if a := e.app("web"); a.Status != api.StatusStopped || a.Restarts != 0 {
		t.Errorf("after a change: %s with %d restarts, want stopped", a.Status, a.Restarts)
	}
	if out := e.ok("list").stdout; !strings.Contains(out, "stopped [watching]") {
		t.Errorf("opm list:\n%s", out)
	}
}
