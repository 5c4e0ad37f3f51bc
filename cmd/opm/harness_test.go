package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/cgroup"
)

// fastConfig makes restarts and stops take milliseconds.
const fastConfig = `restart_delay = "20ms"
restart_delay_max = "200ms"
restart_reset_after = "30s"
kill_timeout = "2s"
max_restarts = 15
`

// cmdTimeout bounds one opm command; a hang fails the test instead of CI.
const cmdTimeout = 60 * time.Second

// env is one test's private opm: its own OPM_HOME and runtime directory,
// its own daemon, and a marker in the environment of every process it
// starts, so that leftovers can be found in /proc.
type env struct {
	t       *testing.T
	home    string
	runtime string
	mark    string // OPM_TEST_MARK=<random>, inherited by daemon and apps
	environ []string
	cl      *api.Client
}

// newEnv prepares an opm environment with a fast config. Cleanup stops the
// daemon, dumps its log if the test failed, fails the test if any process
// carrying its marker survives, and removes what is left of its cgroups.
func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvConfig(t, fastConfig)
}

func newEnvConfig(t *testing.T, config string) *env {
	t.Helper()
	rt, err := os.MkdirTemp("", "opm")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{
		t:       t,
		home:    t.TempDir(),
		runtime: rt,
		mark:    "OPM_TEST_MARK=" + randomHex(8),
	}
	if err := os.WriteFile(filepath.Join(e.home, "config.toml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OPM_") && !strings.HasPrefix(kv, "NO_COLOR=") && !strings.HasPrefix(kv, "GORACE=") {
			base = append(base, kv)
		}
	}
	// A race-enabled binary sleeps 1 s at exit by default; every opm
	// command and app here is one.
	gorace := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	e.environ = append(base, "GORACE="+gorace, "OPM_HOME="+e.home, "OPM_RUNTIME_DIR="+e.runtime, "OPM_TEST_ROLE=opm", "OPM_TEST_STRICT_STATES=1", e.mark)
	t.Cleanup(e.cleanup)
	return e
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// result is what one opm command printed and its exit status.
type result struct {
	args   []string
	stdout string
	stderr string
	code   int
}

func (r result) String() string {
	return fmt.Sprintf("opm %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// run runs opm with args in the test's environment.
func (e *env) run(args ...string) result {
	return e.runWith(nil, args...)
}

// runWith runs opm with extra environment variables.
func (e *env) runWith(extra []string, args ...string) result {
	return e.runIn("", extra, args...)
}

// runIn runs opm in the directory dir ("" for the test's own) with extra
// environment variables.
func (e *env) runIn(dir string, extra []string, args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(append([]string(nil), e.environ...), extra...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			e.t.Fatalf("run opm %q: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return result{args: args, stdout: out.String(), stderr: errb.String(), code: code}
}

// ok runs opm and fails the test unless it exits 0.
func (e *env) ok(args ...string) result {
	e.t.Helper()
	r := e.run(args...)
	if r.code != 0 {
		e.t.Fatalf("%v", r)
	}
	return r
}

// startApp registers an app that runs this test binary in the given child
// mode and returns it as the daemon reported it.
func (e *env) startApp(name, mode string, flags ...string) api.App {
	e.t.Helper()
	args := append([]string{"start", os.Args[0], "--name", name, "--env", "OPM_TEST_CHILD=" + mode}, flags...)
	e.ok(args...)
	return e.app(name)
}

// list returns `opm list --json`.
func (e *env) list() []api.App {
	e.t.Helper()
	r := e.ok("list", "--json")
	var apps []api.App
	if err := json.Unmarshal([]byte(r.stdout), &apps); err != nil {
		e.t.Fatalf("decode opm list --json: %v\n%s", err, r.stdout)
	}
	return apps
}

// apps returns the app table straight from the daemon's API. Waits and
// checks of state use it: an opm process per poll would cost more CPU than
// the test itself. What the CLI prints is tested through list and run.
func (e *env) apps() []api.App {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	var apps []api.App
	if err := e.client().Do(ctx, "GET", api.PathApps, nil, &apps); err != nil {
		e.t.Fatalf("list apps through the API: %v", err)
	}
	return apps
}

// client is an API client for this environment's daemon; it does not
// start one.
func (e *env) client() *api.Client {
	if e.cl == nil {
		e.cl = api.NewClient(api.SocketPath(e.runtime))
	}
	return e.cl
}

// app returns the app named name, from the API.
func (e *env) app(name string) api.App {
	e.t.Helper()
	for _, a := range e.apps() {
		if a.Name == name {
			return a
		}
	}
	e.t.Fatalf("no app %q in the app table", name)
	return api.App{}
}

// waitFor polls cond until it holds or the deadline passes. Polling with a
// deadline is how a test waits for another process to change state.
func (e *env) waitFor(what string, within time.Duration, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(within)
	delay := 5 * time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(delay)
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// waitStatus waits until the app named name has the given status and
// returns it.
func (e *env) waitStatus(name, status string, within time.Duration) api.App {
	e.t.Helper()
	var last api.App
	e.waitFor(fmt.Sprintf("app %s to be %s", name, status), within, func() bool {
		last = e.app(name)
		return last.Status == status
	})
	return last
}

// daemonStatus returns the daemon's status, from the API.
func (e *env) daemonStatus() api.DaemonStatus {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	st, err := e.client().Ping(ctx)
	if err != nil {
		e.t.Fatalf("daemon status through the API: %v", err)
	}
	return st
}

// marked lists the live processes (not zombies) carrying this test's
// marker in their environment.
func (e *env) marked() []int {
	return processesWith(e.mark)
}

func (e *env) cleanup() {
	t := e.t
	r := e.run("daemon", "stop")
	if r.code != 0 {
		t.Errorf("cleanup: %v", r)
	}
	// The daemon has exited; its apps were stopped before it. Give
	// processes that are being reaped a moment to go.
	deadline := time.Now().Add(5 * time.Second)
	left := e.marked()
	for len(left) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		left = e.marked()
	}
	for _, pid := range left {
		t.Errorf("leftover process %d: %s", pid, cmdline(pid))
		_ = killPid(pid)
	}
	// A daemon that stopped its apps removed their cgroups; what is left
	// after a daemon that did not (killed by the test) is removed here.
	if strings.Contains(r.stdout, "daemon stopped") {
		if dir, err := cgroup.Dir(e.home); err == nil {
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("the daemon stopped every app but left their cgroups in %s", dir)
			}
		}
	}
	removeCgroups(t, e.home)
	// The daemons ran with OPM_TEST_STRICT_STATES: a supervisor bug (an
	// illegal state move) panicked one of them, into daemon.log.
	if log, err := os.ReadFile(filepath.Join(e.home, api.DaemonLogName)); err == nil && bytes.Contains(log, []byte("panic:")) {
		t.Errorf("a daemon panicked")
	}
	if t.Failed() {
		if log, err := os.ReadFile(filepath.Join(e.home, api.DaemonLogName)); err == nil {
			t.Logf("daemon.log:\n%s", log)
		}
	}
	if e.cl != nil {
		e.cl.CloseIdle()
	}
	os.RemoveAll(e.runtime)
}

// removeCgroups kills and removes whatever is left of the cgroups of a
// daemon for home (a test that killed its daemon and then its apps), so
// that no test leaves a cgroup behind.
func removeCgroups(t *testing.T, home string) {
	dir, err := cgroup.Dir(home)
	if err != nil {
		return
	}
	if _, err := os.Stat(dir); err != nil {
		return
	}
	_ = os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0)
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := rmdirAll(dir)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("cannot remove the test's cgroup %s: %v", dir, err)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rmdirAll removes the cgroup dir and those below it, deepest first.
func rmdirAll(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir() {
			if err := rmdirAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := syscall.Rmdir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
