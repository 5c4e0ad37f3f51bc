package daemon

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/store"
)

func TestStartListStopRemove(t *testing.T) {
	d := startDaemon(t)
	a := d.start("web", "block")
	if a.Status != api.StatusOnline || a.PID <= 0 || a.ID != 0 {
		t.Fatalf("started app = %+v, want online with a pid and id 0", a)
	}
	b := d.start("worker", "block")
	if b.ID != 1 {
		t.Fatalf("second app id = %d, want 1", b.ID)
	}
	if !alive(a.PID) || !alive(b.PID) {
		t.Fatal("app processes are not running")
	}

	if _, err := d.startReq(d.req("web", "block")); apiCode(err) != api.CodeConflict {
		t.Fatalf("duplicate name: err = %v, want code conflict", err)
	}
	if _, err := d.action("nope", "stop"); apiCode(err) != api.CodeNotFound || !strings.Contains(err.Error(), `no app named "nope" (see 'opm list')`) {
		t.Fatalf("unknown target: err = %v", err)
	}

	apps, err := d.action("web", "stop")
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 1 || apps[0].Status != api.StatusStopped || apps[0].PID != 0 {
		t.Fatalf("stop answered %+v, want web stopped", apps)
	}
	if alive(a.PID) {
		t.Fatal("web's process survived its stop")
	}

	// Removing app 0 does not renumber app 1; a new app gets id 2.
	var removed []api.App
	if err := d.cl.Do(context.Background(), http.MethodDelete, api.TargetPath("0"), nil, &removed); err != nil {
		t.Fatal(err)
	}
	c := d.start("web", "block")
	if c.ID != 2 {
		t.Fatalf("new app id = %d, want 2 (ids are never reused)", c.ID)
	}
	list := d.list()
	if len(list) != 2 || list[0].ID != 1 || list[1].ID != 2 {
		t.Fatalf("list = %+v, want ids 1 and 2", list)
	}
	for _, a := range list {
		if a.Status != api.StatusOnline {
			t.Errorf("app %s: status %s, want online", a.Name, a.Status)
		}
		// The kernel's RSS counter of a process that just exec'd may
		// still read 0; it catches up.
		d.waitApp(a.Name, "to report memory", func(a api.App) bool { return a.Memory > 0 })
	}

	apps, err = d.action("all", "stop")
	if err != nil || len(apps) != 2 {
		t.Fatalf("stop all = %+v, %v", apps, err)
	}
	apps, err = d.action("1,web", "start")
	if err != nil || len(apps) != 2 || apps[0].Status != api.StatusOnline || apps[1].Status != api.StatusOnline {
		t.Fatalf("start 1,web = %+v, %v", apps, err)
	}
}

func TestCrashRestartsWithBackoffThenErrored(t *testing.T) {
	d := startDaemon(t)
	d.start("crashy", "exit1")
	a := d.waitStatus("crashy", api.StatusErrored)
	if a.Restarts != d.cfg.MaxRestarts {
		t.Fatalf("restarts = %d, want %d before errored", a.Restarts, d.cfg.MaxRestarts)
	}
	if a.ExitCode != 1 {
		t.Fatalf("exit code = %d, want 1", a.ExitCode)
	}
	log := d.log.String()
	for _, want := range []string{"event=restarting", "delay_ms=10", "delay_ms=20", "delay_ms=40", "event=errored"} {
		if !strings.Contains(log, want) {
			t.Errorf("daemon log lacks %q", want)
		}
	}
	// Errored stays down until the user acts; starting it resets the burst.
	apps, err := d.action("crashy", "start")
	if err != nil || len(apps) != 1 {
		t.Fatalf("start errored app: %+v %v", apps, err)
	}
	d.waitApp("crashy", "to restart again", func(a api.App) bool { return a.Restarts > d.cfg.MaxRestarts })
}

func TestKilledAppRestarts(t *testing.T) {
	d := startDaemon(t)
	a := d.start("svc", "block")
	t0 := time.Now()
	if err := syscall.Kill(a.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	b := d.waitApp("svc", "to come back", func(b api.App) bool { return b.Status == api.StatusOnline && b.PID != a.PID })
	t.Logf("crash -> online again in %s (restart_delay %s)", time.Since(t0), d.cfg.RestartDelay)
	if b.Restarts != 1 {
		t.Fatalf("restarts = %d, want 1", b.Restarts)
	}
	if alive(a.PID) {
		t.Fatal("old process alive")
	}
}

func TestRestartPolicies(t *testing.T) {
	cases := []struct {
		name, policy, mode, want string
	}{
		{"on-failure-clean-exit", api.RestartOnFailure, "exit0", api.StatusStopped},
		{"on-failure-failing", api.RestartOnFailure, "exit1", api.StatusErrored},
		{"never-failing", api.RestartNever, "exit1", api.StatusErrored},
		{"never-clean-exit", api.RestartNever, "exit0", api.StatusStopped},
		{"always-clean-exit", api.RestartAlways, "exit0", api.StatusErrored},
	}
	d := startDaemon(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := d.req(c.name, c.mode)
			req.Restart = c.policy
			if _, err := d.startReq(req); err != nil {
				t.Fatal(err)
			}
			a := d.waitStatus(c.name, c.want)
			wantRestarts := 0
			switch {
			case c.policy == api.RestartAlways, c.policy == api.RestartOnFailure && c.mode == "exit1":
				wantRestarts = d.cfg.MaxRestarts
			}
			if a.Restarts != wantRestarts {
				t.Fatalf("restarts = %d, want %d", a.Restarts, wantRestarts)
			}
		})
	}
}

func TestStopKillsGrandchildren(t *testing.T) {
	d := startDaemon(t, func(c *Config) { c.KillTimeout = 200 * time.Millisecond })
	out := filepath.Join(d.home, "grandchild.pid")
	req := d.req("tree", "grandchild")
	req.Env = append(req.Env, "OPM_TEST_OUT="+out)
	if _, err := d.startReq(req); err != nil {
		t.Fatal(err)
	}
	var gc int
	waitFor(t, "grandchild pid", 5*time.Second, func() bool {
		gc, _ = strconv.Atoi(readFile(t, out))
		return gc > 0
	})
	if _, err := d.action("tree", "stop"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "grandchild to die", 5*time.Second, func() bool { return !alive(gc) })
}

func TestStopEscalatesToSIGKILL(t *testing.T) {
	d := startDaemon(t, func(c *Config) { c.KillTimeout = 50 * time.Millisecond })
	a := d.start("stubborn", "ignore-term")
	// Wait until it has installed its handler (it says so in its log).
	waitFor(t, "child ready", 5*time.Second, func() bool {
		return strings.Contains(readFile(t, a.Spec.OutLog), "ignoring SIGTERM")
	})
	apps, err := d.action("stubborn", "stop")
	if err != nil || apps[0].Status != api.StatusStopped {
		t.Fatalf("stop = %+v, %v", apps, err)
	}
	if apps[0].ExitCode != -1 || alive(a.PID) {
		t.Fatalf("exit code %d, alive %v: want killed", apps[0].ExitCode, alive(a.PID))
	}
	if !strings.Contains(d.log.String(), "event=killing") {
		t.Error("daemon log lacks the SIGKILL escalation")
	}
}

func TestStopDuringBackoffNeverRestarts(t *testing.T) {
	d := startDaemon(t, func(c *Config) { c.RestartDelay = time.Hour; c.RestartDelayMax = time.Hour })
	d.start("flappy", "exit1")
	a := d.waitStatus("flappy", api.StatusWaiting)
	if a.NextRestartMs <= 0 {
		t.Fatalf("waiting app has next_restart_ms %d", a.NextRestartMs)
	}
	apps, err := d.action("flappy", "stop")
	if err != nil || apps[0].Status != api.StatusStopped {
		t.Fatalf("stop = %+v, %v", apps, err)
	}
	if n := len(d.procs()); n != 0 {
		t.Fatalf("%d processes after stop", n)
	}
}

func TestRestartAction(t *testing.T) {
	d := startDaemon(t)
	a := d.start("svc", "block")
	apps, err := d.action("svc", "restart")
	if err != nil {
		t.Fatal(err)
	}
	b := apps[0]
	if b.Status != api.StatusOnline || b.PID == a.PID || b.Restarts != 1 {
		t.Fatalf("after restart: %+v (old pid %d)", b, a.PID)
	}
	if alive(a.PID) {
		t.Fatal("old process still alive")
	}
	if got := d.procs(); len(got) != 1 || got[0] != b.PID {
		t.Fatalf("processes %v, want just %d", got, b.PID)
	}
}

func TestEnvKeptAcrossRestarts(t *testing.T) {
	d := startDaemon(t)
	req := d.req("envy", "print-env")
	req.Env = append(req.Env, "OPM_TEST_COLOR=blue")
	a, err := d.startReq(req)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "env printed", 5*time.Second, func() bool { return count(readFile(t, a.Spec.OutLog), "OPM_TEST_COLOR=blue") == 1 })
	if _, err := d.action("envy", "restart"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "env printed again", 5*time.Second, func() bool { return count(readFile(t, a.Spec.OutLog), "OPM_TEST_COLOR=blue") == 2 })

	// Flush empties the logs.
	var flushed []api.App
	if err := d.cl.Do(context.Background(), http.MethodPost, api.PathFlush, api.FlushRequest{Target: "envy"}, &flushed); err != nil {
		t.Fatal(err)
	}
	if s := readFile(t, a.Spec.OutLog); s != "" {
		t.Fatalf("log after flush = %q", s)
	}
}

func TestStartErrors(t *testing.T) {
	d := startDaemon(t)
	script := filepath.Join(d.home, "app.js")
	if err := os.WriteFile(script, []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		req  api.StartRequest
		want string
	}{
		{"missing script", api.StartRequest{Command: "./nope.js", Cwd: d.home}, "not found"},
		{"missing command", api.StartRequest{Command: "no-such-program-xyz --flag", Cwd: d.home}, "not found in"},
		{"missing interpreter", api.StartRequest{Command: "app.js", Cwd: d.home, Env: []string{"PATH=" + d.home}}, `interpreter "node" not found`},
		{"bad cwd", api.StartRequest{Command: "true", Cwd: "/nonexistent-dir"}, "does not exist"},
		{"bad policy", api.StartRequest{Command: "true", Cwd: d.home, Restart: "sometimes"}, "unknown restart policy"},
		{"reserved name", api.StartRequest{Command: "true", Cwd: d.home, Name: "all"}, "reserved"},
		{"numeric name", api.StartRequest{Command: "true", Cwd: d.home, Name: "42"}, "mistaken for an id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := d.startReq(c.req)
			if apiCode(err) != api.CodeBadRequest || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want bad_request containing %q", err, c.want)
			}
		})
	}
	if n := len(d.list()); n != 0 {
		t.Fatalf("%d apps registered after failed starts", n)
	}
}

func TestShellScriptAndCommandLine(t *testing.T) {
	d := startDaemon(t)
	script := filepath.Join(d.home, "hello.sh")
	if err := os.WriteFile(script, []byte("echo hello from $0 \"$1\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := d.startReq(api.StartRequest{Command: "hello.sh", Args: []string{"arg1"}, Cwd: d.home, Env: os.Environ(), Restart: api.RestartNever})
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "hello" || a.Spec.Interpreter != "bash" {
		t.Fatalf("app = %+v, want name hello run by bash", a)
	}
	d.waitStatus("hello", api.StatusStopped)
	if got := readFile(t, a.Spec.OutLog); !strings.Contains(got, "hello from "+script+" arg1") {
		t.Fatalf("out log = %q", got)
	}

	b, err := d.startReq(api.StartRequest{Command: "echo piped | tr a-z A-Z", Name: "pipe", Cwd: d.home, Env: os.Environ(), Restart: api.RestartNever})
	if err != nil {
		t.Fatal(err)
	}
	d.waitStatus("pipe", api.StatusStopped)
	if got := readFile(t, b.Spec.OutLog); got != "PIPED\n" {
		t.Fatalf("shell line output = %q", got)
	}
}

func TestSecondDaemonSeesLock(t *testing.T) {
	d := startDaemon(t)
	cfg := d.cfg
	cfg.Ready = nil
	err := Run(context.Background(), cfg)
	if !errors.Is(err, ErrRunning) {
		t.Fatalf("second Run = %v, want ErrRunning", err)
	}
	if _, err := d.cl.Ping(context.Background()); err != nil {
		t.Fatalf("first daemon unreachable after the second gave up: %v", err)
	}
}

// One daemon per OPM_HOME even when two commands resolved different
// runtime directories for it: the second is refused and told where the
// first one serves.
func TestSecondDaemonOfHomeElsewhereRefused(t *testing.T) {
	d := startDaemon(t)
	cfg := d.cfg
	cfg.Ready = nil
	cfg.RuntimeDir = shortTempDir(t)
	err := Run(context.Background(), cfg)
	if err == nil || errors.Is(err, ErrRunning) || !strings.Contains(err.Error(), d.rt) {
		t.Fatalf("second Run elsewhere = %v, want an error naming %s", err, d.rt)
	}
	if _, err := os.Stat(api.SocketPath(cfg.RuntimeDir)); err == nil {
		t.Fatal("the refused daemon left a socket")
	}
}

func TestShutdownStopsAppsAndRemovesSocket(t *testing.T) {
	d := startDaemon(t)
	a := d.start("a", "block")
	b := d.start("b", "ignore-term")
	var st api.DaemonStatus
	if err := d.cl.Do(context.Background(), http.MethodPost, api.PathStop, nil, &st); err != nil {
		t.Fatal(err)
	}
	if st.PID != os.Getpid() {
		t.Fatalf("stop answered %+v", st)
	}
	select {
	case err := <-d.done:
		d.done <- err
	case <-time.After(10 * time.Second):
		t.Fatal("daemon did not exit after POST /v1/daemon/stop")
	}
	if alive(a.PID) || alive(b.PID) {
		t.Fatal("apps survived the daemon stop")
	}
	if _, err := os.Lstat(api.SocketPath(d.rt)); !os.IsNotExist(err) {
		t.Fatalf("socket left behind: %v", err)
	}
	// The table dies with the daemon: no record is left to adopt.
	if ents, err := os.ReadDir(filepath.Join(d.rt, store.RecordsDir)); err != nil || len(ents) != 0 {
		t.Fatalf("runtime records left: %v, %v", ents, err)
	}
}

func TestStatus(t *testing.T) {
	d := startDaemon(t)
	d.start("x", "block")
	st, err := d.cl.Ping(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Apps != 1 || st.RuntimeDir != d.rt || st.Home != d.home || st.Version != api.Version || st.Restore.InProgress {
		t.Fatalf("status = %+v", st)
	}
}

// TestCrashRestartLatency reports how long a crashed app stays down with
// the back-off at its minimum (1 ms): the daemon's own overhead.
func TestCrashRestartLatency(t *testing.T) {
	d := startDaemon(t, func(c *Config) {
		c.RestartDelay, c.RestartDelayMax = time.Millisecond, time.Millisecond
		c.MaxRestarts = 100
	})
	a := d.start("svc", "block")
	var lat []time.Duration
	for range 15 {
		t0 := time.Now()
		if err := syscall.Kill(a.PID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		old := a.PID
		a = d.waitApp("svc", "to come back", func(b api.App) bool { return b.Status == api.StatusOnline && b.PID != old })
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	t.Logf("crash -> online again (restart_delay 1ms, includes polling the API every 2ms): min %s, median %s, max %s", lat[0], lat[len(lat)/2], lat[len(lat)-1])
}
