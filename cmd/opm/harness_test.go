package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/cgroup"
	"opm/daemon/testkit"
	"opm/shm"
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
		mark:    testkit.NewMark(),
	}
	if err := os.WriteFile(filepath.Join(e.home, "config.toml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	base := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "OPM_") || strings.HasPrefix(kv, "NO_COLOR=") || strings.HasPrefix(kv, "XDG_CONFIG_HOME=")
	})
	e.environ = append(base, "OPM_HOME="+e.home, "OPM_RUNTIME_DIR="+e.runtime, testkit.RoleEnv+"=opm", "OPM_TEST_STRICT_STATES=1", e.mark)
	// opm startup writes where these say, and a test that forgets to say
	// where never writes into /etc or the real ~/.config.
	e.environ = append(e.environ, startupDirEnv+"="+filepath.Join(t.TempDir(), "startup"), "XDG_CONFIG_HOME="+filepath.Join(t.TempDir(), "config"))
	t.Cleanup(e.cleanup)
	return e
}

// result is what one opm command printed and its exit status.
type result struct {
	args   []string
	stdout string
	stderr string
	code   int
	// state is the ended process, with its resource usage.
	state *os.ProcessState
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
	return e.exec(os.Args[0], dir, append(append([]string(nil), e.environ...), extra...), nil, args)
}

// runAs runs opm — the copy of the test binary any user may run — as
// another user, with the environment environ.
func (e *env) runAs(uid int, environ []string, args ...string) result {
	return e.exec(testkit.SharedExe(e.t), "/", environ, testkit.Intruder{UID: uid, GID: uid}.As(), args)
}

// exec runs the opm binary exe, killed if it outlives cmdTimeout.
func (e *env) exec(exe, dir string, environ []string, attr *syscall.SysProcAttr, args []string) result {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Dir, cmd.Env, cmd.SysProcAttr = dir, environ, attr
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("run opm %q: %v", args, err)
	}
	return result{args: args, stdout: out.String(), stderr: errb.String(), code: code, state: cmd.ProcessState}
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
	args := append([]string{"start", os.Args[0], "--name", name, "--env", testkit.ChildEnv + "=" + mode}, flags...)
	e.ok(args...)
	return e.app(name)
}

// startFamily starts an app in one of the grandchild modes and returns it
// with the pid of its grandchild.
func (e *env) startFamily(name, mode string, flags ...string) (api.App, int) {
	e.t.Helper()
	app := e.startApp(name, mode, flags...)
	return app, e.waitLogPID(name, "grandchild ", 1)
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

// waitStatus waits until the app named name has the given status and
// returns it.
func (e *env) waitStatus(name, status string, within time.Duration) api.App {
	e.t.Helper()
	return e.waitApp(name, "to be "+status, within, func(a api.App) bool { return a.Status == status })
}

// waitApp waits until the app named name satisfies cond and returns it.
func (e *env) waitApp(name, what string, within time.Duration, cond func(api.App) bool) api.App {
	e.t.Helper()
	var last api.App
	testkit.WaitFor(e.t, name+" "+what, within, func() bool {
		last = e.app(name)
		return cond(last)
	})
	return last
}

// waitLogPID waits until the app's out log holds count lines starting
// with prefix and returns the pid at the end of the last one.
func (e *env) waitLogPID(name, prefix string, count int) int {
	e.t.Helper()
	return testkit.WaitLogPID(e.t, filepath.Join(e.home, api.LogsDir, name+"-out.log"), prefix, count)
}

// daemonLog returns daemon.log.
func (e *env) daemonLog() string {
	e.t.Helper()
	data, err := os.ReadFile(filepath.Join(e.home, api.DaemonLogName))
	if err != nil {
		e.t.Fatal(err)
	}
	return string(data)
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

// killDaemon kills the daemon with SIGKILL and waits until it is gone; its
// apps run on.
func (e *env) killDaemon() {
	e.t.Helper()
	pid := e.daemonStatus().PID
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		e.t.Fatal(err)
	}
	testkit.WaitFor(e.t, "the daemon to die", 10*time.Second, func() bool { return !testkit.Alive(pid) })
}

// marked lists the live processes (not zombies) carrying this test's
// marker in their environment.
func (e *env) marked() []int {
	return testkit.Marked(e.mark)
}

// daemons lists this environment's live daemon processes.
func (e *env) daemons() []int {
	var out []int
	for _, pid := range e.marked() {
		if strings.Contains(testkit.Cmdline(pid), "daemon run") {
			out = append(out, pid)
		}
	}
	return out
}

// holdFlag starts a process that takes the restore flag like a restorer
// and keeps it until killed; it returns once the flag is held.
func (e *env) holdFlag() *testkit.Child {
	e.t.Helper()
	return testkit.HoldFlag(e.t, e.runtime, e.environ)
}

// flagInProgress reads the restore flag as the daemon does.
func (e *env) flagInProgress() bool {
	if _, err := os.Lstat(filepath.Join(e.runtime, shm.FlagName)); err != nil {
		return false
	}
	f, err := shm.OpenFlag(e.runtime)
	if err != nil {
		return false
	}
	defer f.Close()
	return f.InProgress()
}

// The exactly-once tests tell apps apart by a marker in their argv (after
// "--"), unique to the test environment and the app, and count the live
// processes that carry it.

// appMark is the argv marker of app name in this environment.
func (e *env) appMark(name string) string {
	return "opm-app-" + strings.TrimPrefix(e.mark, testkit.MarkEnv+"=") + "-" + name
}

// startMarked registers and starts an app that blocks, with its marker.
func (e *env) startMarked(name string) {
	e.t.Helper()
	e.ok("start", os.Args[0], "--name", name, "--env", testkit.ChildEnv+"=block", "--", e.appMark(name))
}

// running counts the live processes of app name (see appMark).
func (e *env) running(name string) int {
	return len(testkit.WithArg(e.appMark(name)))
}

// checkExactlyOnce fails the test unless each named app has exactly one
// live process and the environment has exactly one daemon.
func (e *env) checkExactlyOnce(names []string, when string) {
	e.t.Helper()
	var bad []string
	for _, n := range names {
		if c := e.running(n); c != 1 {
			bad = append(bad, fmt.Sprintf("%s: %d processes", n, c))
		}
	}
	if d := e.daemons(); len(d) != 1 {
		bad = append(bad, fmt.Sprintf("%d daemons %v", len(d), d))
	}
	if len(bad) > 0 {
		e.t.Fatalf("%s: not exactly once: %s", when, strings.Join(bad, "; "))
	}
}

// freshContainer brings the environment to the state after a container
// restart: no daemon, no app process, an empty runtime directory; the
// saved dump and logs stay.
func (e *env) freshContainer(names []string) {
	e.t.Helper()
	e.ok("daemon", "stop")
	testkit.WaitFor(e.t, "every app and the daemon to be gone", 20*time.Second, func() bool {
		for _, n := range names {
			if e.running(n) != 0 {
				return false
			}
		}
		return len(e.daemons()) == 0
	})
	if err := os.RemoveAll(e.runtime); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Mkdir(e.runtime, 0o700); err != nil {
		e.t.Fatal(err)
	}
}

// savedApps starts n marked apps, saves them and returns their names.
func (e *env) savedApps(n int) []string {
	e.t.Helper()
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("app%d", i)
		e.startMarked(names[i])
	}
	e.ok("save")
	return names
}

func (e *env) cleanup() {
	t := e.t
	r := e.run("daemon", "stop")
	if r.code != 0 {
		t.Errorf("cleanup: %v", r)
	}
	// The daemon has exited; its apps were stopped before it. Processes
	// being reaped take a moment to go.
	var left []int
	testkit.Poll(5*time.Second, func() bool {
		left = e.marked()
		return len(left) == 0
	})
	for _, pid := range left {
		t.Errorf("leftover process %d: %s", pid, testkit.Cmdline(pid))
		_ = syscall.Kill(pid, syscall.SIGKILL)
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
	testkit.RemoveCgroups(t, e.home)
	// The daemons ran with OPM_TEST_STRICT_STATES: a supervisor bug (an
	// illegal state move) panicked one of them, into daemon.log.
	log, err := os.ReadFile(filepath.Join(e.home, api.DaemonLogName))
	if err == nil && bytes.Contains(log, []byte("panic:")) {
		t.Errorf("a daemon panicked")
	}
	if t.Failed() && err == nil {
		t.Logf("daemon.log:\n%s", log)
	}
	os.RemoveAll(e.runtime)
}
