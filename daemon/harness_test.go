package daemon

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/testkit"
)

// testDaemon is a real daemon running in the test process on a temporary
// OPM_HOME and runtime directory.
type testDaemon struct {
	t        *testing.T
	home, rt string
	cfg      Config
	cl       *api.Client
	mark     string
	log      *testkit.SyncBuffer
	cancel   context.CancelFunc
	done     chan error
}

func testConfig(t *testing.T) Config {
	cfg := DefaultConfig(t.TempDir(), testkit.ShortTempDir(t))
	cfg.RestartDelay = 10 * time.Millisecond
	cfg.RestartDelayMax = 80 * time.Millisecond
	cfg.RestartResetAfter = 10 * time.Second
	cfg.KillTimeout = 3 * time.Second
	cfg.MaxRestarts = 3
	cfg.RestoreRecheck = 10 * time.Millisecond
	return cfg
}

// startDaemon runs a daemon until the test ends, then checks that it
// stopped every app and left no goroutine, descriptor or process behind.
func startDaemon(t *testing.T, mutate ...func(*Config)) *testDaemon {
	t.Helper()
	cfg := testConfig(t)
	for _, m := range mutate {
		m(&cfg)
	}
	return runDaemon(t, cfg)
}

func runDaemon(t *testing.T, cfg Config) *testDaemon {
	t.Helper()
	d := &testDaemon{
		t: t, home: cfg.Home, rt: cfg.RuntimeDir, log: &testkit.SyncBuffer{},
		mark: testkit.NewMark(),
		done: make(chan error, 1),
	}
	fds, goroutines := countFDs(t), runtime.NumGoroutine()
	openBefore := testkit.FDTargets(os.Getpid())
	cfg.Logger = slog.New(slog.NewTextHandler(d.log, nil))
	ready := make(chan struct{})
	cfg.Ready = func(int) { close(ready) }
	d.cfg = cfg
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	go func() { d.done <- Run(ctx, cfg) }()
	select {
	case <-ready:
	case err := <-d.done:
		cancel()
		t.Fatalf("daemon did not start: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("daemon not ready after 10s")
	}
	d.cl = api.NewClient(api.SocketPath(cfg.RuntimeDir))
	t.Cleanup(func() {
		d.stop()
		testkit.WaitFor(t, "no app process left", 5*time.Second, func() bool { return len(d.procs()) == 0 })
		testkit.WaitFor(t, "goroutines to end", 5*time.Second, func() bool { return runtime.NumGoroutine() <= goroutines })
		if !testkit.Poll(5*time.Second, func() bool { return countFDs(t) <= fds }) {
			var left []string
			for fd, what := range testkit.FDTargets(os.Getpid()) {
				if openBefore[fd] != what {
					left = append(left, fd+": "+what)
				}
			}
			t.Errorf("descriptors still open 5s after the daemon stopped (%d, %d before): %v", countFDs(t), fds, left)
		}
		testkit.RemoveCgroups(t, cfg.Home)
		if t.Failed() {
			t.Logf("daemon log:\n%s", d.log.String())
		}
	})
	return d
}

// stop cancels the daemon (it stops its apps) and waits for Run to end.
func (d *testDaemon) stop() {
	d.t.Helper()
	d.cancel()
	select {
	case err := <-d.done:
		if err != nil {
			d.t.Errorf("daemon: %v", err)
		}
		d.done <- nil // later calls return at once
	case <-time.After(10 * time.Second):
		d.t.Fatal("daemon did not exit 10s after its context ended")
	}
}

// req builds a start request for the test binary as an app in mode, with
// more environment variables env.
func (d *testDaemon) req(name, mode string, env ...string) api.StartRequest {
	exe, err := os.Executable()
	if err != nil {
		d.t.Fatal(err)
	}
	env = append(append(os.Environ(), testkit.ChildEnv+"="+mode, d.mark), env...)
	return api.StartRequest{Command: exe, Name: name, Cwd: d.home, Env: env}
}

func (d *testDaemon) startReq(req api.StartRequest) (api.App, error) {
	var app api.App
	err := d.cl.Do(context.Background(), http.MethodPost, api.PathApps, req, &app)
	return app, err
}

func (d *testDaemon) start(name, mode string) api.App {
	d.t.Helper()
	app, err := d.startReq(d.req(name, mode))
	if err != nil {
		d.t.Fatalf("start %s: %v", name, err)
	}
	return app
}

func (d *testDaemon) action(target, action string) ([]api.App, error) {
	var apps []api.App
	err := d.cl.Do(context.Background(), http.MethodPost, api.TargetPath(target)+"/"+action, nil, &apps)
	return apps, err
}

func (d *testDaemon) list() []api.App {
	d.t.Helper()
	var apps []api.App
	if err := d.cl.Do(context.Background(), http.MethodGet, api.PathApps, nil, &apps); err != nil {
		d.t.Fatalf("list: %v", err)
	}
	return apps
}

func (d *testDaemon) get(target string) (api.App, error) {
	var apps []api.App
	if err := d.cl.Do(context.Background(), http.MethodGet, api.TargetPath(target), nil, &apps); err != nil {
		return api.App{}, err
	}
	if len(apps) != 1 {
		return api.App{}, fmt.Errorf("get %s: %d apps", target, len(apps))
	}
	return apps[0], nil
}

// waitApp polls app name until cond holds.
func (d *testDaemon) waitApp(name, what string, cond func(api.App) bool) api.App {
	d.t.Helper()
	var last api.App
	testkit.WaitFor(d.t, name+" "+what, 10*time.Second, func() bool {
		a, err := d.get(name)
		if err != nil {
			d.t.Fatalf("get %s: %v", name, err)
		}
		last = a
		return cond(a)
	})
	return last
}

func (d *testDaemon) waitStatus(name, status string) api.App {
	d.t.Helper()
	return d.waitApp(name, "to be "+status, func(a api.App) bool { return a.Status == status })
}

// procs lists the live (non-zombie) processes carrying this daemon's mark.
func (d *testDaemon) procs() []int {
	return testkit.Marked(d.mark)
}

// countFDs is the number of descriptors this process has open.
func countFDs(t *testing.T) int {
	n, err := testkit.FDs(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// spawnMain runs Main in a process of its own, as `opm daemon run` does,
// and returns the command and the line it wrote on $OPM_READY_FD.
func spawnMain(t *testing.T, home, rt string) (*exec.Cmd, string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	logf, err := os.OpenFile(filepath.Join(home, "daemon.stderr"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), testkit.RoleEnv+"=daemon", "OPM_HOME="+home, "OPM_RUNTIME_DIR="+rt, api.ReadyFDEnv+"=3")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	_ = r.SetReadDeadline(time.Now().Add(20 * time.Second))
	line, _ := bufio.NewReader(r).ReadString('\n')
	return cmd, strings.TrimSpace(line)
}

// file writes content into the file name in the daemon's home and
// returns its path.
func (d *testDaemon) file(name, content string) string {
	d.t.Helper()
	path := filepath.Join(d.home, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		d.t.Fatal(err)
	}
	return path
}

func apiCode(err error) string {
	var e *api.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}
