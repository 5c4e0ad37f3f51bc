package daemon

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
	"golang.org/x/sys/unix"

	"opm/daemon/api"
	"opm/daemon/testkit"
)

// startWatching registers a watching app in the fake world, with dir as
// its cwd; the watcher is closed when the test ends.
func (w *fakeWorld) startWatching(t *testing.T, name, dir string, settings api.Settings) *app {
	t.Helper()
	settings.Watch = true
	reply := make(chan result, 1)
	w.handle(startReq{spec: api.Spec{Name: name, Cwd: dir, Restart: api.RestartAlways, MaxRestarts: 3, KillTimeoutMs: 500, Settings: settings}, reply: reply})
	r := <-reply
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() {
		close(w.s.quit) // no loop: posts give up
		w.s.files.close()
	})
	return w.s.apps[r.apps[0].ID]
}

// A burst of changes arms one debounce timer, re-armed by each change;
// when it fires, the app is restarted for "watch". Stale fires and
// changes from a cancelled watch do nothing.
func TestWatchDebounce(t *testing.T) {
	w := newFakeWorld(t)
	a := w.startWatching(t, "web", t.TempDir(), api.Settings{WatchDelayMs: 250})
	change := watchEvent{id: a.id, seq: a.watch.seq, path: "/x/app.js"}
	w.handle(change)
	first := w.lastTimer(t)
	if first.d != 250*time.Millisecond {
		t.Fatalf("debounce of %s, want the app's watch_delay 250ms", first.d)
	}
	w.handle(change)
	second := w.lastTimer(t)
	if !first.stopped || second == first {
		t.Fatal("a second change did not re-arm the debounce")
	}
	w.handle(first.ev) // on its way when re-armed: stale
	if len(w.signals) != 0 {
		t.Fatalf("a stale debounce restarted the app: %v", w.signals)
	}
	w.handle(second.ev)
	if len(w.signals) != 1 || a.state != Stopping || a.lastRestartReason != "watch" {
		t.Fatalf("after the debounce: signals %v, %s, reason %q; want one SIGTERM, stopping, reason watch", w.signals, a.state, a.lastRestartReason)
	}
	w.exit(a, 0)
	if a.state != Online || a.restarts != 1 {
		t.Fatalf("after the restart: %s with %d restarts", a.state, a.restarts)
	}

	// Watching again (a changed definition) makes the old set's changes
	// stale.
	w.s.armWatch(a)
	timers := len(w.timers)
	w.handle(change)
	if len(w.timers) != timers {
		t.Fatal("a change from a cancelled watch armed a debounce")
	}
}

// The default delay is a second; a stopped app is not started by a
// change.
func TestWatchStoppedAppNotStarted(t *testing.T) {
	w := newFakeWorld(t)
	a := w.startWatching(t, "web", t.TempDir(), api.Settings{})
	w.action(t, "web", "stop")
	w.exit(a, 0)
	if a.state != Stopped {
		t.Fatalf("after stop: %s", a.state)
	}
	w.handle(watchEvent{id: a.id, seq: a.watch.seq, path: "/x/app.js"})
	tm := w.lastTimer(t)
	if tm.d != defaultWatchDelay {
		t.Fatalf("debounce of %s, want %s", tm.d, defaultWatchDelay)
	}
	w.handle(tm.ev)
	if a.state != Stopped || w.nextPID != 101 {
		t.Fatalf("a change started a stopped app: %s, pid %d", a.state, w.nextPID)
	}
}

// What a watching app ignores: node_modules, .git, its ignore_watch
// globs (base names, paths from the root or the cwd, absolute), its own
// logs and their backups, and opm's own directories.
func TestWatchIgnores(t *testing.T) {
	cfg := DefaultConfig("/home/u/.opm", "/run/user/1/opm")
	spec := api.Spec{
		Name: "web", Cwd: "/srv/app", OutLog: "/srv/app/out.log", ErrLog: "/srv/app/logs/err.log",
		Settings: api.Settings{WatchPaths: []string{"src", "/srv/app/lib", "/home/u"}, IgnoreWatch: []string{"*.tmp", "cache", "src/gen/*", "./build/**", "/srv/app/lib/vendor", "**/*.bak"}},
	}
	ws := newWatchSet(1, 0, spec, cfg)
	for p, want := range map[string]bool{
		"/srv/app/src/main.js":                 true,
		"/srv/app/src":                         true,
		"/srv/app/lib/x/y.go":                  true,
		"/srv/app/README.md":                   false, // not under a root
		"/srv/app/src/node_modules/a/index.js": false,
		"/srv/app/lib/.git/HEAD":               false,
		"/srv/app/src/a.tmp":                   false,
		"/srv/app/src/deep/cache/x":            false,
		"/srv/app/src/gen/x.js":                false,
		"/srv/app/src/gen":                     true,
		"/srv/app/src/build/out.js":            false,
		"/srv/app/lib/vendor/v.go":             false,
		"/srv/app/src/old.bak":                 false,
		"/home/u/notes.txt":                    true,
		"/home/u/.opm/logs/other-out.log":      false, // opm's own
		"/home/u/.opm/daemon.log":              false,
	} {
		if got := ws.relevant(p); got != want {
			t.Errorf("relevant(%s) = %v, want %v", p, got, want)
		}
	}

	// A log_dir under the watched cwd is opm's own too: daemon.log there
	// changes at each event.
	withLogDir := cfg
	withLogDir.Logs.Dir = "/srv/app/var/opm-logs" // as Run resolves log_dir
	ws = newWatchSet(1, 0, api.Spec{Name: "web", Cwd: "/srv/app", OutLog: "/srv/app/var/opm-logs/web-out.log", ErrLog: api.DevNull}, withLogDir)
	for p, want := range map[string]bool{
		"/srv/app/var/opm-logs/daemon.log": false,
		"/srv/app/var/other.txt":           true,
	} {
		if got := ws.relevant(p); got != want {
			t.Errorf("with log_dir: relevant(%s) = %v, want %v", p, got, want)
		}
	}

	// Own logs, rotated and compressed, under a watched cwd.
	ws = newWatchSet(1, 0, api.Spec{Name: "web", Cwd: "/srv/app", OutLog: "/srv/app/out.log", ErrLog: api.DevNull, CombinedLog: "/srv/app/all.log"}, cfg)
	backup := api.BackupName("/srv/app/out.log", time.Unix(1700000000, 0))
	for p, want := range map[string]bool{
		"/srv/app/out.log":                    false,
		"/srv/app/all.log":                    false,
		backup:                                false,
		backup + api.GzipSuffix:               false,
		backup + api.GzipSuffix + ".tmp":      false,
		"/srv/app/other.log":                  true,
		"/srv/app/out-not-a-time.log":         true,
		"/srv/app/node_modules":               false,
		"/srv/app/sub/node_modules/.bin/tool": false,
	} {
		if got := ws.relevant(p); got != want {
			t.Errorf("relevant(%s) = %v, want %v", p, got, want)
		}
	}
	if ws.needs("/srv/app/node_modules") || !ws.needs("/srv/app/src") || !ws.needs("/srv") {
		t.Error("needs: node_modules must not be walked; a directory under or above a root must")
	}
}

// When inotify's watch limit is reached (ENOSPC from Add), daemon.log
// says so — the app, the path, fs.inotify.max_user_watches and how to
// raise it — and what was watched before the limit stays watched. The
// limit is per user and global: it is simulated, not lowered.
func TestWatchLimitWarns(t *testing.T) {
	w := newFakeWorld(t)
	log := &testkit.SyncBuffer{}
	w.s.log = slog.New(slog.NewTextHandler(log, nil))
	w.s.files = newFileWatch(w.s)
	adds := 0
	w.s.files.add = func(fw *fsnotify.Watcher, dir string) error {
		adds++
		if adds > 2 {
			return unix.ENOSPC
		}
		return fw.Add(dir)
	}
	root := t.TempDir()
	for _, d := range []string{"a", "b", "c"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	w.startWatching(t, "big", root, api.Settings{})
	testkit.WaitFor(t, "the watch limit warning", 10*time.Second, func() bool {
		return strings.Contains(log.String(), "event=watch-limit")
	})
	text := log.String()
	for _, want := range []string{"app=big", "path=" + filepath.Join(root, "b"), "fs.inotify.max_user_watches", "sysctl", "opm daemon restart"} {
		if !strings.Contains(text, want) {
			t.Errorf("the warning lacks %q:\n%s", want, text)
		}
	}
	// root and a were watched before the limit: a change in a is seen.
	changed := filepath.Join(root, "a", "f.txt")
	if err := os.WriteFile(changed, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-w.s.events:
			if we, ok := ev.(watchEvent); ok && we.path == changed {
				return
			}
		case <-deadline:
			t.Fatalf("no change reported for %s after the limit was reached\n%s", changed, log.String())
		}
	}
}

// nextChange waits for the next change the watcher posts for path.
func (w *fakeWorld) nextChange(t *testing.T, path string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-w.s.events:
			if we, ok := ev.(watchEvent); ok && we.path == path {
				return
			}
		case <-deadline:
			t.Fatalf("no change reported for %s", path)
		}
	}
}

// watched reports whether the directory dir is watched.
func (w *fakeWorld) watched(dir string) bool {
	w.s.files.mu.Lock()
	defer w.s.files.mu.Unlock()
	return len(w.s.files.dirs[dir]) > 0
}

// A directory removed is no longer watched; a watched root removed is
// watched for, and followed again once it is made again.
func TestWatchRemovedDirectories(t *testing.T) {
	w := newFakeWorld(t)
	parent := t.TempDir()
	root := filepath.Join(parent, "src")
	sub := filepath.Join(root, "sub")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	w.startWatching(t, "web", parent, api.Settings{WatchPaths: []string{"src"}})
	testkit.WaitFor(t, "src/sub to be watched", 10*time.Second, func() bool { return w.watched(sub) })
	if w.watched(parent) {
		t.Error("the parent of an existing root is watched")
	}

	if err := os.Remove(sub); err != nil {
		t.Fatal(err)
	}
	w.nextChange(t, sub)
	testkit.WaitFor(t, "src/sub to be forgotten", 10*time.Second, func() bool { return !w.watched(sub) })

	if err := os.Remove(root); err != nil {
		t.Fatal(err)
	}
	w.nextChange(t, root)
	testkit.WaitFor(t, "the parent to be watched for src", 10*time.Second, func() bool { return w.watched(parent) && !w.watched(root) })
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	w.nextChange(t, root)
	testkit.WaitFor(t, "src/sub to be watched again", 10*time.Second, func() bool { return w.watched(sub) })
	file := filepath.Join(sub, "a.js")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	w.nextChange(t, file)
}
