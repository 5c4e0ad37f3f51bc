package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/store"
	"opm/daemon/testkit"
	"opm/shm"
)

func (d *testDaemon) save() api.SaveResult {
	d.t.Helper()
	var res api.SaveResult
	if err := d.cl.Do(context.Background(), http.MethodPost, api.PathSave, nil, &res); err != nil {
		d.t.Fatalf("save: %v", err)
	}
	return res
}

func (d *testDaemon) restore() (api.RestoreResult, error) {
	var res api.RestoreResult
	err := d.cl.Do(context.Background(), http.MethodPost, api.PathRestore, nil, &res)
	return res, err
}

// freshRuntime is the same OPM_HOME after a container restart: an empty
// runtime directory.
func freshRuntime(t *testing.T, cfg Config) Config {
	cfg.RuntimeDir = testkit.ShortTempDir(t)
	return cfg
}

func TestSaveThenRestoreOnFreshRuntime(t *testing.T) {
	d1 := startDaemon(t)
	d1.start("a", "block")
	d1.start("b", "block")
	d1.start("c", "block")
	if _, err := d1.action("c", "stop"); err != nil {
		t.Fatal(err)
	}
	res := d1.save()
	if res.Apps != 3 || res.Path != filepath.Join(d1.home, api.DumpName) {
		t.Fatalf("save = %+v", res)
	}
	raw := readFile(t, res.Path)
	var df map[string]any
	if err := json.Unmarshal([]byte(raw), &df); err != nil || df["version"] != float64(store.DumpVersion) {
		t.Fatalf("dump has no version %d: %v\n%s", store.DumpVersion, err, raw)
	}
	if strings.Contains(raw, `"pid"`) {
		t.Fatal("the dump holds pids")
	}
	d1.stop()

	d2 := runDaemon(t, freshRuntime(t, d1.cfg))
	d2.mark = d1.mark
	if n := len(d2.list()); n != 0 {
		t.Fatalf("fresh daemon has %d apps", n)
	}
	r, err := d2.restore()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(r.Started)
	if !slices.Equal(r.Started, []string{"a", "b"}) || !slices.Equal(r.Stopped, []string{"c"}) || len(r.AlreadyRunning) != 0 || len(r.Failed) != 0 {
		t.Fatalf("restore = %+v", r)
	}
	if n := len(d2.procs()); n != 2 {
		t.Fatalf("%d processes after restore, want 2", n)
	}
	// Restoring again starts nothing.
	r, err = d2.restore()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(r.AlreadyRunning)
	if len(r.Started) != 0 || !slices.Equal(r.AlreadyRunning, []string{"a", "b"}) {
		t.Fatalf("second restore = %+v", r)
	}
	if n := len(d2.procs()); n != 2 {
		t.Fatalf("%d processes after a second restore, want 2", n)
	}
}

// Many restores at once against a fresh daemon (an empty runtime
// directory, as after a container restart) start each app exactly once.
// OPM_STRESS_ROUNDS repeats it (default 3).
func TestConcurrentRestoresStartEachAppOnce(t *testing.T) {
	const apps = 12
	d1 := startDaemon(t)
	for i := range apps {
		d1.start(fmt.Sprintf("app%d", i), "block")
	}
	d1.save()
	d1.stop()
	rounds := 3
	if v, err := strconv.Atoi(os.Getenv("OPM_STRESS_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	for round := range rounds {
		t.Run(fmt.Sprintf("round%d", round), func(t *testing.T) {
			concurrentRestores(t, d1, apps)
		})
	}
}

func concurrentRestores(t *testing.T, d1 *testDaemon, apps int) {
	const restorers = 8
	d2 := runDaemon(t, freshRuntime(t, d1.cfg))
	d2.mark = d1.mark
	var wg sync.WaitGroup
	results := make([]api.RestoreResult, restorers)
	for i := range restorers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := d2.restore()
			if err != nil {
				t.Error(err)
			}
			results[i] = r
		}()
	}
	wg.Wait()
	started := 0
	for _, r := range results {
		started += len(r.Started)
		if len(r.Started)+len(r.AlreadyRunning) != apps {
			t.Errorf("a restore accounted for %d apps, want %d: %+v", len(r.Started)+len(r.AlreadyRunning), apps, r)
		}
	}
	if started != apps {
		t.Errorf("restores started %d apps in total, want %d", started, apps)
	}
	if n := len(d2.procs()); n != apps {
		t.Fatalf("%d processes, want exactly %d", n, apps)
	}
}

// A dump that cannot be read is an error naming it and the copy set
// aside once; the dump is left as it was, the daemon and its apps run on,
// and with no dump at all the error says to save first.
func TestRestoreCorruptDump(t *testing.T) {
	cases := map[string]string{
		"truncated":       `{"version":1,"apps":[{"spec":{"name":"a"`,
		"not json":        "hello",
		"unknown version": `{"version":99,"apps":[]}`,
		"empty":           "",
	}
	d := startDaemon(t)
	web := d.start("web", "block")
	path := filepath.Join(d.home, api.DumpName)
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := d.restore()
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), ".corrupt-") {
				t.Fatalf("restore err = %v, want an error naming %s and the copy", err, path)
			}
			if got := readFile(t, path); got != content {
				t.Fatalf("dump changed to %q", got)
			}
			copies, _ := filepath.Glob(path + ".corrupt-*")
			found := false
			for _, c := range copies {
				found = found || readFile(t, c) == content
			}
			if !found {
				t.Fatalf("no copy with the corrupt content among %v", copies)
			}
			// Failing again on the same content sets nothing more aside.
			if _, err := d.restore(); err == nil {
				t.Fatal("second restore of a corrupt dump succeeded")
			}
			if again, _ := filepath.Glob(path + ".corrupt-*"); len(again) != len(copies) {
				t.Fatalf("a second failed restore of the same dump left %d copies, want %d", len(again), len(copies))
			}
		})
	}
	if _, err := d.cl.Ping(context.Background()); err != nil {
		t.Fatalf("daemon gone after corrupt dumps: %v", err)
	}
	if procs := d.procs(); len(procs) != 1 || procs[0] != web.PID {
		t.Fatalf("processes %v after failed restores, want web's %d alone", procs, web.PID)
	}
	os.Remove(path)
	if _, err := d.restore(); apiCode(err) != api.CodeNotFound || !strings.Contains(err.Error(), "opm save") {
		t.Fatalf("restore without a dump: %v", err)
	}
}

// A daemon killed while saving leaves its temp file; the next daemon
// removes it and leaves everything else alone.
func TestStaleSaveTempsRemoved(t *testing.T) {
	cfg := testConfig(t)
	stale := filepath.Join(cfg.Home, api.DumpName+".tmp-123456")
	other := filepath.Join(cfg.Home, "notes.txt")
	for _, p := range []string{stale, other} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	runDaemon(t, cfg)
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the stale temp file is still there: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another file was removed: %v", err)
	}
}

func TestSaveFailureKeepsOldDump(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, api.DumpName)
	old := store.Dump{Version: store.DumpVersion, Apps: []store.DumpApp{{Spec: api.Spec{Name: "old"}, Running: true}}}
	if err := store.WriteDump(path, old); err != nil {
		t.Fatal(err)
	}
	before := readFile(t, path)
	// A dump whose directory vanished cannot be written...
	if err := store.WriteDump(filepath.Join(dir, "gone", api.DumpName), old); err == nil {
		t.Fatal("writeDump into a missing directory succeeded")
	}
	// ...and a rename that fails leaves the old file and no temp file.
	blocked := filepath.Join(dir, "blocked")
	if err := os.MkdirAll(filepath.Join(blocked, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := store.WriteDump(blocked, old); err == nil {
		t.Fatal("writeDump over a non-empty directory succeeded")
	}
	if got := readFile(t, path); got != before {
		t.Fatal("old dump changed")
	}
	if tmps, _ := filepath.Glob(filepath.Join(dir, "*.tmp-*")); len(tmps) != 0 {
		t.Fatalf("temp files left: %v", tmps)
	}
}

// While a restore holds the flag, a daemon makes none of its own starts of
// apps it does not supervise yet (those it takes over); but an app it
// supervises is restarted on a crash as usual: a stalled restore never
// freezes supervision.
func TestRestoreFlagHoldsOnlyTakeoverStarts(t *testing.T) {
	d := startDaemon(t)
	a := d.start("svc", "block")
	holder := testkit.HoldFlag(t, d.rt, nil)
	if st, _ := d.cl.Ping(context.Background()); !st.Restore.InProgress || st.Restore.OwnerPID != holder.Pid() {
		t.Fatalf("status shows restore %+v, want held by %d", st.Restore, holder.Pid())
	}
	// A stalled restore: stopped, still holding the flag.
	if err := syscall.Kill(holder.Pid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(a.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	b := d.waitApp("svc", "to be restarted under the held flag", func(x api.App) bool {
		return x.Status == api.StatusOnline && x.PID != a.PID
	})

	d.stopKeepingApps()
	if err := syscall.Kill(b.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the app to die", 5*time.Second, func() bool { return !testkit.Alive(b.PID) })
	cfg := d.cfg
	cfg.RestoreStall = 50 * time.Millisecond
	d2 := runDaemon(t, cfg)
	d2.mark = d.mark
	d2.waitApp("svc", "its takeover start to be deferred", func(x api.App) bool { return x.Status == api.StatusLaunching })
	if n := len(d2.procs()); n != 0 {
		t.Fatalf("%d processes started by a takeover while the flag was held", n)
	}
	// Held past restore_stall: logged once, and shown.
	testkit.WaitFor(t, "the stalled restore in the daemon log", 10*time.Second, func() bool {
		return strings.Contains(d2.log.String(), "event=restore-stalled")
	})
	if line := d2.log.String(); strings.Count(line, "event=restore-stalled") != 1 || !strings.Contains(line, fmt.Sprintf("pid=%d", holder.Pid())) || !strings.Contains(line, "owner_stopped=true") {
		t.Errorf("want one restore-stalled line naming the stopped owner %d:\n%s", holder.Pid(), line)
	}
	if st, _ := d2.cl.Ping(context.Background()); !st.Restore.Stalled || !st.Restore.OwnerStopped {
		t.Errorf("status shows restore %+v, want stalled with a stopped owner", st.Restore)
	}
	// The holder dies without releasing: the daemon clears the stale flag
	// and carries on.
	holder.Kill()
	d2.waitStatus("svc", api.StatusOnline)
	if !strings.Contains(d2.log.String(), "event=flag-cleared") {
		t.Error("daemon log lacks the stale flag clearing")
	}
	f, err := shm.OpenFlag(d2.rt)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.InProgress() {
		t.Fatal("flag still set")
	}
}
