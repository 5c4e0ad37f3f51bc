package daemon

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/appspec"
	"opm/daemon/proc"
	"opm/daemon/process"
	"opm/daemon/store"
	"opm/daemon/testkit"
	"opm/shm"
)

// stopKeepingApps makes the daemon exit without stopping its apps, as
// `opm daemon restart` does, and waits for it to end.
func (d *testDaemon) stopKeepingApps() {
	d.t.Helper()
	if err := d.cl.Do(context.Background(), http.MethodPost, api.PathStop+"?keep_apps=1", nil, nil); err != nil {
		d.t.Fatal(err)
	}
	d.stop()
}

func TestTakeoverAdoptsLiveApps(t *testing.T) {
	d1 := startDaemon(t)
	a := d1.start("a", "block")
	b := d1.start("b", "block")
	d1.start("c", "block")
	if _, err := d1.action("c", "stop"); err != nil {
		t.Fatal(err)
	}
	d1.stopKeepingApps()
	if !testkit.Alive(a.PID) || !testkit.Alive(b.PID) {
		t.Fatal("apps died with a daemon that was told to keep them")
	}

	d2 := runDaemon(t, d1.cfg)
	d2.mark = d1.mark
	list := d2.list()
	if len(list) != 3 {
		t.Fatalf("new daemon has %d apps, want 3: %+v", len(list), list)
	}
	want := map[string]struct {
		id, pid int
		status  string
	}{"a": {0, a.PID, api.StatusOnline}, "b": {1, b.PID, api.StatusOnline}, "c": {2, 0, api.StatusStopped}}
	for _, app := range list {
		w := want[app.Name]
		if app.ID != w.id || app.PID != w.pid || app.Status != w.status {
			t.Errorf("app %s: id %d pid %d %s, want id %d pid %d %s", app.Name, app.ID, app.PID, app.Status, w.id, w.pid, w.status)
		}
	}
	if n := len(d2.procs()); n != 2 {
		t.Fatalf("%d app processes after takeover, want 2 (no duplicates)", n)
	}
	if !strings.Contains(d2.log.String(), "event=adopted") {
		t.Error("daemon log lacks the adoption")
	}

	// An adopted app that crashes is restarted, once.
	if err := syscall.Kill(a.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	got := d2.waitApp("a", "to be restarted", func(x api.App) bool { return x.Status == api.StatusOnline && x.PID != a.PID })
	if got.Restarts != 1 {
		t.Fatalf("restarts = %d, want 1", got.Restarts)
	}
	if n := len(d2.procs()); n != 2 {
		t.Fatalf("%d app processes after the restart, want 2", n)
	}
	// New ids continue after the old ones.
	if c := d2.start("d", "block"); c.ID != 3 {
		t.Fatalf("new app id %d, want 3", c.ID)
	}
	// Stopping an adopted app stops its process.
	if _, err := d2.action("b", "stop"); err != nil {
		t.Fatal(err)
	}
	if testkit.Alive(b.PID) {
		t.Fatal("adopted app survived its stop")
	}
}

func TestTakeoverRestartsAppsThatDied(t *testing.T) {
	d1 := startDaemon(t)
	a := d1.start("a", "block")
	d1.stopKeepingApps()
	if err := syscall.Kill(a.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "app to die", 5*time.Second, func() bool { return !testkit.Alive(a.PID) })
	d2 := runDaemon(t, d1.cfg)
	d2.mark = d1.mark
	got := d2.waitStatus("a", api.StatusOnline)
	if got.PID == a.PID || got.Restarts != 1 {
		t.Fatalf("app after takeover: %+v", got)
	}
}

// A record whose PID now names another process (its start time differs)
// is never adopted and that process is never signalled.
func TestTakeoverIgnoresReusedPID(t *testing.T) {
	cfg := testConfig(t)
	stranger := testkit.Command("block", nil)
	stranger.Cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	stranger.Start(t)
	st, err := proc.ReadStat(stranger.Pid())
	if err != nil {
		t.Fatal(err)
	}

	probe := &testDaemon{t: t, home: cfg.Home, mark: testkit.NewMark()}
	req := probe.req("web", "block")
	sp, err := appspec.Build(req, cfg.specDefaults())
	if err != nil {
		t.Fatal(err)
	}
	writeRecordFile(t, cfg.RuntimeDir, store.Record{Version: store.RecordVersion, ID: 0, Spec: sp, Want: store.WantRunning, PID: stranger.Pid(), Start: st.Start + 7})

	d := runDaemon(t, cfg)
	d.mark = probe.mark
	got := d.waitStatus("web", api.StatusOnline)
	if got.PID == stranger.Pid() {
		t.Fatal("adopted a process whose start time differs from the record")
	}
	if !testkit.Alive(stranger.Pid()) {
		t.Fatal("the unrelated process was signalled")
	}
	d.stop()
	if !testkit.Alive(stranger.Pid()) {
		t.Fatal("the unrelated process was stopped with the daemon")
	}
}

func TestCorruptRecordsAreIgnored(t *testing.T) {
	cfg := testConfig(t)
	dir := filepath.Join(cfg.RuntimeDir, store.RecordsDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"0.json":     "{not json",
		"1.json":     `{"version":99,"id":1}`,
		"2.json":     `{"version":1,"id":5,"want":"running"}`,
		"junk":       "x",
		"3.json.tmp": "half",
		"4.json":     "",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	d := runDaemon(t, cfg)
	if n := len(d.list()); n != 0 {
		t.Fatalf("%d apps from corrupt records", n)
	}
	if c := strings.Count(d.log.String(), "event=record-corrupt"); c != 5 {
		t.Errorf("%d corrupt-record log lines, want 5:\n%s", c, d.log.String())
	}
	// The daemon works and its records are sane.
	a := d.start("ok", "block")
	recs, bad, err := store.Records{Dir: dir}.ReadAll()
	if err != nil || len(bad) != 0 || len(recs) != 1 || recs[0].PID != a.PID {
		t.Fatalf("records after start: %+v, bad %+v, %v", recs, bad, err)
	}
}

func writeRecordFile(t *testing.T, runtimeDir string, rec store.Record) {
	t.Helper()
	dir := filepath.Join(runtimeDir, store.RecordsDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(store.Records{Dir: dir}.Path(rec.ID), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// A daemon that died between starting a process and learning its PID left
// a record with the spawn's token: the next daemon finds that process by
// its token and adopts it instead of starting a second one.
func TestTakeoverFindsSpawnInFlight(t *testing.T) {
	cfg := testConfig(t)
	secret, err := shm.Secret(cfg.Home)
	if err != nil {
		t.Fatal(err)
	}
	token := process.NewTokens(secret).Token("web", process.Spawn{DaemonStart: 2, Seq: 1})
	mark := testkit.NewMark()
	sp, orphan, _ := leftBehind(t, cfg, mark, "web", "block", process.AppTokenEnv+"="+token)
	writeRecordFile(t, cfg.RuntimeDir, store.Record{Version: store.RecordVersion, ID: 0, Spec: sp, Want: store.WantRunning, Spawning: token})

	d := runDaemon(t, cfg)
	d.mark = mark
	got := d.waitStatus("web", api.StatusOnline)
	if got.PID != orphan.Process.Pid {
		t.Fatalf("app pid %d, want the orphan %d adopted", got.PID, orphan.Process.Pid)
	}
	if n := len(d.procs()); n != 1 {
		t.Fatalf("%d processes, want 1", n)
	}
}

// Records naming init or the daemon itself are never adopted, and no
// process group below 2 is ever signalled (kill(-1) would hit everyone).
func TestNeverAdoptOrSignalInit(t *testing.T) {
	st, err := proc.ReadStat(1)
	if err != nil {
		t.Skip("no /proc/1")
	}
	if err := process.SameProcess(1, st.Start); err == nil {
		t.Fatal("init passes as an app process")
	}
	self, err := proc.ReadStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if err := process.SameProcess(os.Getpid(), self.Start); err == nil {
		t.Fatal("the daemon passes as an app process")
	}
	for _, pid := range []int{-1, 0, 1} {
		if err := process.KillGroup(pid, 0); err == nil {
			t.Fatalf("process.KillGroup(%d) accepted", pid)
		}
	}
}

// A daemon that died while stopping an app leaves a record saying
// "stopped" with the PID: the next daemon finishes the stop.
func TestTakeoverFinishesStop(t *testing.T) {
	cfg := testConfig(t)
	mark := testkit.NewMark()
	sp, left, done := leftBehind(t, cfg, mark, "web", "ignore-term")
	st, err := proc.ReadStat(left.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	writeRecordFile(t, cfg.RuntimeDir, store.Record{Version: store.RecordVersion, ID: 0, Spec: sp, Want: store.WantStopped, PID: left.Process.Pid, Start: st.Start})

	d := runDaemon(t, cfg)
	d.mark = mark
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the process of the stopped app was left running")
	}
	if a, err := d.get("web"); err != nil || a.Status != api.StatusStopped {
		t.Fatalf("web = %+v, %v; want stopped", a, err)
	}
}

// leftBehind starts, in a session of its own, the process that a daemon
// of cfg which then died would have spawned for app name in mode, with
// extra variables and the mark; it returns the app's definition, the
// process, and a channel closed once the process has exited.
func leftBehind(t *testing.T, cfg Config, mark, name, mode string, extra ...string) (api.Spec, *exec.Cmd, <-chan struct{}) {
	t.Helper()
	probe := &testDaemon{t: t, home: cfg.Home, mark: mark}
	sp, err := appspec.Build(probe.req(name, mode), cfg.specDefaults())
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sp.Exec)
	cmd.Env = append(sp.Env, extra...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	return sp, cmd, done
}

// The daemon is SIGKILLed with apps running; the next daemon adopts the
// same processes (which are no longer its children), starts nothing new,
// and restarts an adopted app that crashes, once, leaving the others be.
func TestDaemonKilledAppsAdopted(t *testing.T) {
	home, rt := t.TempDir(), testkit.ShortTempDir(t)
	if err := os.WriteFile(filepath.Join(home, ConfigName), []byte("restart_delay = \"10ms\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mark := testkit.NewMark()
	var cmds []*exec.Cmd
	t.Cleanup(func() {
		for _, c := range cmds {
			if c.ProcessState == nil {
				_ = c.Process.Kill()
				_ = c.Wait()
			}
		}
		for _, pid := range testkit.Marked(mark) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		testkit.RemoveCgroups(t, home)
		if t.Failed() {
			t.Logf("daemon.log:\n%s", readFile(t, filepath.Join(home, "daemon.log")))
		}
	})
	d1, line := spawnMain(t, home, rt)
	cmds = append(cmds, d1)
	if !strings.HasPrefix(line, "ready") {
		t.Fatalf("readiness %q", line)
	}
	cl := api.NewClient(api.SocketPath(rt))
	pids := map[string]int{}
	for _, name := range []string{"a", "b"} {
		var app api.App
		req := api.StartRequest{Command: os.Args[0], Name: name, Cwd: home, Env: append(os.Environ(), testkit.ChildEnv+"=block", mark)}
		if err := cl.Do(context.Background(), http.MethodPost, api.PathApps, req, &app); err != nil {
			t.Fatal(err)
		}
		pids[name] = app.PID
	}
	if err := d1.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = d1.Wait()

	d2, line := spawnMain(t, home, rt)
	cmds = append(cmds, d2)
	if !strings.HasPrefix(line, "ready") {
		t.Fatalf("readiness of the second daemon %q", line)
	}
	var apps []api.App
	if err := cl.Do(context.Background(), http.MethodGet, api.PathApps, nil, &apps); err != nil {
		t.Fatal(err)
	}
	for _, a := range apps {
		if a.Status != api.StatusOnline || a.PID != pids[a.Name] {
			t.Errorf("app %s: %s pid %d, want online with pid %d", a.Name, a.Status, a.PID, pids[a.Name])
		}
	}
	if n := len(testkit.Marked(mark)); n != 2 {
		t.Fatalf("%d app processes after takeover, want 2", n)
	}
	if err := syscall.Kill(pids["a"], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "a restarted", 10*time.Second, func() bool {
		var got []api.App
		err := cl.Do(context.Background(), http.MethodGet, api.TargetPath("a"), nil, &got)
		return err == nil && got[0].Status == api.StatusOnline && got[0].PID != pids["a"] && got[0].Restarts == 1
	})
	if n := len(testkit.Marked(mark)); n != 2 {
		t.Fatalf("%d app processes after the restart, want 2", n)
	}
	var b []api.App
	if err := cl.Do(context.Background(), http.MethodGet, api.TargetPath("b"), nil, &b); err != nil || b[0].PID != pids["b"] {
		t.Fatalf("b after a's restart: %+v, %v; want its pid %d unchanged", b, err, pids["b"])
	}
	if err := cl.Do(context.Background(), http.MethodPost, api.PathStop, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := d2.Wait(); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "apps to stop", 10*time.Second, func() bool { return len(testkit.Marked(mark)) == 0 })
}
