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
	"opm/shm"
)

// stopKeepingApps makes the daemon exit without stopping its apps, as
// `opm daemon restart` does, and waits for it to end.
func (d *testDaemon) stopKeepingApps() {
	d.t.Helper()
	if err := d.cl.Do(context.Background(), http.MethodPost, api.PathStop+"?keep_apps=1", nil, nil); err != nil {
		d.t.Fatal(err)
	}
	d.cl.CloseIdle()
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
	if !alive(a.PID) || !alive(b.PID) {
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
	if alive(b.PID) {
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
	waitFor(t, "app to die", 5*time.Second, func() bool { return !alive(a.PID) })
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
	stranger := exec.Command(os.Args[0])
	mark := "opmtest-stranger-" + filepath.Base(cfg.RuntimeDir)
	stranger.Env = append(os.Environ(), "OPM_TEST_CHILD=block", "OPM_TEST_MARK="+mark)
	stranger.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := stranger.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stranger.Process.Kill()
		_ = stranger.Wait()
	})
	st, err := proc.ReadStat(stranger.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}

	probe := &testDaemon{t: t, home: cfg.Home, mark: "opmtest-reuse-" + filepath.Base(cfg.RuntimeDir)}
	req := probe.req("web", "block")
	sp, err := appspec.Build(req, cfg.specDefaults())
	if err != nil {
		t.Fatal(err)
	}
	writeRecordFile(t, cfg.RuntimeDir, store.Record{Version: store.RecordVersion, ID: 0, Spec: sp, Want: store.WantRunning, PID: stranger.Process.Pid, Start: st.Start + 7})

	d := runDaemon(t, cfg)
	d.mark = probe.mark
	got := d.waitStatus("web", api.StatusOnline)
	if got.PID == stranger.Process.Pid {
		t.Fatal("adopted a process whose start time differs from the record")
	}
	if !alive(stranger.Process.Pid) {
		t.Fatal("the unrelated process was signalled")
	}
	d.stop()
	if !alive(stranger.Process.Pid) {
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
	if c := count(d.log.String(), "event=record-corrupt"); c != 5 {
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
	probe := &testDaemon{t: t, home: cfg.Home, mark: "opmtest-inflight-" + filepath.Base(cfg.RuntimeDir)}
	sp, err := appspec.Build(probe.req("web", "block"), cfg.specDefaults())
	if err != nil {
		t.Fatal(err)
	}
	secret, err := shm.Secret(cfg.Home)
	if err != nil {
		t.Fatal(err)
	}
	token := process.NewTokens(secret).Token("web", process.Spawn{DaemonStart: 2, Seq: 1})
	orphan := exec.Command(sp.Exec)
	orphan.Env = append(sp.Env, process.AppTokenEnv+"="+token)
	orphan.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = orphan.Process.Kill()
		_ = orphan.Wait()
	})
	writeRecordFile(t, cfg.RuntimeDir, store.Record{Version: store.RecordVersion, ID: 0, Spec: sp, Want: store.WantRunning, Spawning: token})

	d := runDaemon(t, cfg)
	d.mark = probe.mark
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
	probe := &testDaemon{t: t, home: cfg.Home, mark: "opmtest-finish-" + filepath.Base(cfg.RuntimeDir)}
	sp, err := appspec.Build(probe.req("web", "ignore-term"), cfg.specDefaults())
	if err != nil {
		t.Fatal(err)
	}
	left := exec.Command(sp.Exec)
	left.Env = sp.Env
	left.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := left.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = left.Wait(); close(done) }()
	t.Cleanup(func() { _ = left.Process.Kill(); <-done })
	st, err := proc.ReadStat(left.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	writeRecordFile(t, cfg.RuntimeDir, store.Record{Version: store.RecordVersion, ID: 0, Spec: sp, Want: store.WantStopped, PID: left.Process.Pid, Start: st.Start})

	d := runDaemon(t, cfg)
	d.mark = probe.mark
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the process of the stopped app was left running")
	}
	if a, err := d.get("web"); err != nil || a.Status != api.StatusStopped {
		t.Fatalf("web = %+v, %v; want stopped", a, err)
	}
}
