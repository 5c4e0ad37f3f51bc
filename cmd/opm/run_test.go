package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/proc"
	"opm/daemon/store"
	"opm/daemon/testkit"
)

// runProc is a running `opm run` (or a command that ends in one, such as
// unshare), its output collected.
type runProc struct {
	t              *testing.T
	cmd            *exec.Cmd
	stdout, stderr testkit.SyncBuffer
	exited         chan struct{}
	code           int
}

// startRun starts argv with environ. When the test ends, a process
// still running gets SIGTERM, and SIGKILL 20 s later.
func startRun(t *testing.T, environ []string, argv ...string) *runProc {
	t.Helper()
	return startRunTo(t, environ, nil, argv...)
}

// startRunTo is startRun with standard output on stdout (nil: collected
// in r.stdout).
func startRunTo(t *testing.T, environ []string, stdout *os.File, argv ...string) *runProc {
	t.Helper()
	r := &runProc{t: t, cmd: exec.Command(argv[0], argv[1:]...), exited: make(chan struct{})}
	r.cmd.Env = environ
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	if stdout != nil {
		r.cmd.Stdout = stdout
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := r.cmd.Wait()
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			r.code = ee.ExitCode()
		case err != nil:
			r.code = -1
		}
		close(r.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-r.exited:
			return
		default:
		}
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.exited:
		case <-time.After(20 * time.Second):
			_ = r.cmd.Process.Kill()
			<-r.exited
		}
	})
	return r
}

func (r *runProc) String() string {
	return fmt.Sprintf("%s\nstdout:\n%s\nstderr:\n%s", strings.Join(r.cmd.Args, " "), r.stdout.String(), r.stderr.String())
}

// wait waits for the process to exit and returns its exit status.
func (r *runProc) wait(within time.Duration) int {
	r.t.Helper()
	select {
	case <-r.exited:
		return r.code
	case <-time.After(within):
		r.t.Fatalf("still running after %s: %v", within, r)
	}
	return 0
}

// waitOut waits until standard output holds a line that matches re and
// returns its submatches.
func (r *runProc) waitOut(re string) []string {
	r.t.Helper()
	rx := regexp.MustCompile("(?m)" + re)
	var m []string
	testkit.WaitFor(r.t, "a line "+re+" from "+r.cmd.Args[0], 20*time.Second, func() bool {
		m = rx.FindStringSubmatch(r.stdout.String())
		return m != nil
	})
	return m
}

// terminate sends SIGTERM to pid and waits for the run to exit; it
// returns the exit status.
func (r *runProc) terminate(pid int) int {
	r.t.Helper()
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		r.t.Fatal(err)
	}
	return r.wait(30 * time.Second)
}

// waitErr waits until standard error holds a line that matches re.
func (r *runProc) waitErr(re string) {
	r.t.Helper()
	rx := regexp.MustCompile("(?m)" + re)
	testkit.WaitFor(r.t, "a line "+re+" on the standard error of "+r.cmd.Args[0], 20*time.Second, func() bool {
		return rx.MatchString(r.stderr.String()) || !r.running()
	})
	if !rx.MatchString(r.stderr.String()) {
		r.t.Fatalf("exited (status %d) before a line %s on its standard error: %v", r.code, re, r)
	}
}

// running reports whether the process has not exited.
func (r *runProc) running() bool {
	select {
	case <-r.exited:
		return false
	default:
		return true
	}
}

// waitServing waits until the daemon of e answers.
func (e *env) waitServing() {
	e.t.Helper()
	testkit.WaitFor(e.t, "the daemon to answer", 20*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := e.client().Ping(ctx)
		return err == nil
	})
}

// reaped reports whether process pid is gone: not even a zombie left.
func reaped(pid int) bool {
	_, err := proc.ReadStat(pid)
	return errors.Is(err, proc.ErrGone)
}

// waitReaped waits until pid is gone, failing with its state (a zombie
// nobody reaps) when it stays.
func waitReaped(t *testing.T, pid int, what string) {
	t.Helper()
	if !testkit.Poll(10*time.Second, func() bool { return reaped(pid) }) {
		st, err := proc.ReadStat(pid)
		t.Fatalf("%s (pid %d) was not reaped: state %c, parent %d (%v)", what, pid, st.State, st.PPID, err)
	}
}

// Mistakes end `opm run` with exit 2 before any daemon starts.
func TestRunUsage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run"}, "--restore"},
		{[]string{"run", "app.js"}, "ecosystem file"},
		{[]string{"run", "a.yaml", "b.yaml"}, "one ecosystem file"},
		{[]string{"run", "--restore", "--only", "web"}, "--only and --env"},
		{[]string{"run", "--restore", "--json", "--raw"}, "--json and --raw"},
		{[]string{"run", filepath.Join(dir, "missing.yaml")}, "missing.yaml"},
		{[]string{"run", writeFile(t, dir, "bad.yaml", "apps:\n  - name: a\n    script: [x\n")}, "bad.yaml"},
	} {
		r := e.run(c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("want exit 2 and %q; got %v", c.want, r)
		}
	}
	if procs := e.marked(); len(procs) != 0 {
		t.Fatalf("usage errors left processes: %v", procs)
	}
}

// `opm run <file>` starts the file's apps and prints their lines as they
// come, out lines on standard output and err lines on standard error,
// each once and after its app's label — across rotations, for instances,
// for an app started later from another shell, and up to the last words
// of the apps it stops at SIGTERM, after which it exits 0.
func TestRunStreamsLogs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	exe := os.Args[0]
	const lines = 200
	file := writeFile(t, t.TempDir(), "apps.yaml", fmt.Sprintf(`apps:
  - name: talk
    script: %[1]s
    kill_signal: SIGTERM
    log_max_size: 1K
    log_max_files: 100
    env:
      %[2]s: chatter
      %[3]s: "%[6]d"
      %[4]s: "1"
      %[5]s: "60"
  - name: web
    script: %[1]s
    instances: 2
    kill_signal: SIGTERM
    env:
      %[2]s: block
`, exe, testkit.ChildEnv, testkit.ChatterLinesEnv, testkit.ChatterErrEnv, testkit.ChatterSizeEnv, lines))
	r := startRun(t, e.environ, exe, "run", file)
	r.waitOut(fmt.Sprintf(`^talk \| chatter done %d$`, lines))
	r.waitOut(`^web:0 \| block \d+$`)
	r.waitOut(`^web:1 \| block \d+$`)
	testkit.WaitFor(t, "the table of the file's apps on standard error", 10*time.Second, func() bool {
		return strings.Contains(r.stderr.String(), "│ web:1 ")
	})
	if st := e.app("talk").Logs; st.Rotations == 0 {
		t.Errorf("talk's logs never rotated: the test proves nothing about rotation")
	}
	// From another shell.
	e.ok("start", exe, "--name", "late", "--env", testkit.ChildEnv+"=block")
	r.waitOut(`^late \| block \d+$`)

	if code := r.terminate(r.cmd.Process.Pid); code != 0 {
		t.Fatalf("opm run after SIGTERM: exit %d, want 0: %v", code, r)
	}
	out, errOut := r.stdout.String(), r.stderr.String()
	for _, name := range []string{"web:0", "web:1", "late"} {
		if !strings.Contains(out, name+" | block ended by terminated\n") {
			t.Errorf("the last words of %s, written as it stopped, were not printed:\n%s", name, out)
		}
	}
	// Each line once, on its stream.
	for n := 1; n <= lines; n++ {
		line := fmt.Sprintf("talk | line %d x", n)
		onOut, onErr := strings.Count(out, line), strings.Count(errOut, line)
		if want := n%2 == 1; onOut != btoi(want) || onErr != btoi(!want) {
			t.Fatalf("line %d printed %d times on stdout and %d on stderr, want once on std%s", n, onOut, onErr, map[bool]string{true: "out", false: "err"}[want])
		}
	}
	if strings.Contains(out, "level=") || strings.Contains(errOut, "level=") {
		t.Errorf("daemon.log lines were printed:\n%s\n%s", out, errOut)
	}
	for _, pid := range e.marked() {
		t.Errorf("process %d left after opm run ended: %s", pid, testkit.Cmdline(pid))
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Not PID 1, `opm run` is a child subreaper: the orphans its apps leave
// (a grandchild whose parent exited) come to it and are reaped when they
// end — killed by the daemon with their app's group, or from outside.
// Meanwhile the daemon, in the same process, still reaps its own
// children: each crash is seen with its exit status and restarted.
func TestRunReapsOrphansKeepsExitStatuses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := t.TempDir()
	exe := os.Args[0]
	// Each start leaves an orphan (the subshell that started it exits),
	// then crashes with status 1 on SIGUSR1.
	script := writeFile(t, dir, "orphaner.sh", fmt.Sprintf(`( %[1]s=block "$1" >/dev/null 2>&1 & echo "orphan $!" )
%[1]s=crash-on-usr1 exec "$1"
`, testkit.ChildEnv))
	file := writeFile(t, dir, "apps.yaml", fmt.Sprintf("apps:\n  - name: orphaner\n    script: %s\n    args: [%q]\n    kill_signal: SIGTERM\n", script, exe))
	r := startRun(t, e.environ, exe, "run", "--raw", file)
	self := r.cmd.Process.Pid

	orphan := e.waitLogPID("orphaner", "orphan ", 1)
	app := e.waitLogPID("orphaner", "armed ", 1)
	const crashes = 4
	for i := 1; i <= crashes; i++ {
		if st, err := proc.ReadStat(orphan); err != nil || st.PPID != self {
			t.Fatalf("crash %d: the orphan %d has parent %d (%v), want opm run %d", i, orphan, st.PPID, err, self)
		}
		if err := syscall.Kill(app, syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		a := e.waitApp("orphaner", fmt.Sprintf("to be restarted %d times", i), 10*time.Second, func(a api.App) bool {
			return a.Restarts == i && a.Status == api.StatusOnline && a.PID != app
		})
		if a.ExitCode != 1 || a.LastRestartReason != "crash" {
			t.Fatalf("crash %d: exit code %d, reason %q; want 1 and crash: the daemon lost its child's exit status", i, a.ExitCode, a.LastRestartReason)
		}
		// The daemon killed what the crashed app left in its group.
		waitReaped(t, orphan, fmt.Sprintf("the orphan of the run before crash %d", i))
		orphan = e.waitLogPID("orphaner", "orphan ", i+1)
		app = e.waitLogPID("orphaner", "armed ", i+1)
	}
	if err := syscall.Kill(orphan, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitReaped(t, orphan, "an orphan killed from outside")
	if a := e.app("orphaner"); a.Restarts != crashes || a.PID != app {
		t.Fatalf("after the orphan died: %+v, want pid %d and %d restarts", a, app, crashes)
	}
	if code := r.terminate(self); code != 0 {
		t.Fatalf("opm run after SIGTERM: exit %d, want 0: %v", code, r)
	}
	if !strings.Contains(r.stdout.String(), "\narmed ") {
		t.Errorf("--raw: lines not as stored: %v", r)
	}
}

// The exit status: 1 when an app had given up restarting (it is named),
// and when another daemon runs for the home; 0 when the daemon is
// stopped from another shell.
func TestRunExitStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	exe := os.Args[0]
	file := writeFile(t, t.TempDir(), "apps.yaml", fmt.Sprintf(`apps:
  - name: fails
    script: %[1]s
    max_restarts: 1
    kill_signal: SIGTERM
    env: {%[2]s: exit1}
  - name: ok
    script: %[1]s
    kill_signal: SIGTERM
    env: {%[2]s: block}
`, exe, testkit.ChildEnv))
	r := startRun(t, e.environ, exe, "run", file)
	e.waitServing()
	testkit.WaitFor(t, "fails to be errored", 10*time.Second, func() bool {
		for _, a := range e.apps() {
			if a.Name == "fails" && a.Status == api.StatusErrored {
				return true
			}
		}
		return false
	})
	if code := r.terminate(r.cmd.Process.Pid); code != 1 || !strings.Contains(r.stderr.String(), "(errored) when opm run stopped: fails (") {
		t.Fatalf("want exit 1 naming the errored app: exit %d, %v", code, r)
	}

	// Beside a daemon of the home: one word of it, exit 1.
	e.ok("daemon", "start")
	res := e.run("run", "--restore")
	if res.code != 1 || !strings.Contains(res.stderr, "another opm daemon (pid ") || strings.Count(res.stderr, "\n") != 1 {
		t.Fatalf("opm run beside a running daemon: want exit 1 and one line saying so: %v", res)
	}
	if d := e.daemons(); len(d) != 1 {
		t.Fatalf("daemons %v, want the one started", d)
	}
}

// 'opm daemon stop' and 'opm daemon restart' from another shell are
// refused with how to stop opm run instead: they fail, the apps run on
// untouched, and opm run goes on serving until SIGTERM, which ends it
// with exit 0.
func TestRunRefusesDaemonStopRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	exe := os.Args[0]
	file := writeFile(t, t.TempDir(), "apps.yaml", fmt.Sprintf("apps:\n  - name: web\n    script: %s\n    kill_signal: SIGTERM\n    env: {%s: block}\n", exe, testkit.ChildEnv))
	r := startRun(t, e.environ, exe, "run", file)
	pid := r.cmd.Process.Pid
	r.waitOut(`^web \| block \d+$`)
	before := e.app("web")
	for _, cmd := range []string{"stop", "restart"} {
		res := e.run("daemon", cmd)
		hint := fmt.Sprintf("kill -TERM %d", pid)
		if res.code == 0 || !strings.Contains(res.stderr, hint) || !strings.Contains(res.stderr, fmt.Sprintf("opm run (pid %d)", pid)) {
			t.Fatalf("opm daemon %s beside opm run: want a failure saying %q: %v", cmd, hint, res)
		}
		if !r.running() {
			t.Fatalf("opm daemon %s ended opm run: %v", cmd, r)
		}
		if st := e.daemonStatus(); st.PID != pid {
			t.Fatalf("after opm daemon %s the daemon is pid %d, want opm run %d", cmd, st.PID, pid)
		}
		if a := e.app("web"); a.PID != before.PID || a.Status != api.StatusOnline || a.Restarts != before.Restarts {
			t.Fatalf("after opm daemon %s: web %+v, want it untouched (%+v)", cmd, a, before)
		}
	}
	if d := e.daemons(); len(d) != 0 {
		t.Fatalf("background daemons %v beside opm run", d)
	}
	if code := r.terminate(pid); code != 0 {
		t.Fatalf("opm run after SIGTERM: exit %d, want 0: %v", code, r)
	}
	if !strings.Contains(r.stdout.String(), "web | block ended by terminated\n") {
		t.Errorf("web was not stopped by the SIGTERM: %v", r)
	}
}

// nsTools returns the paths of unshare and nsenter, skipping the test
// unless it runs as root and both are installed.
func nsTools(t *testing.T) (unshare, nsenter string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: it runs opm run as PID 1 of a new pid namespace (unshare --pid)")
	}
	var err error
	if unshare, err = exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare (util-linux) to run opm run as PID 1 of a new pid namespace")
	}
	if nsenter, err = exec.LookPath("nsenter"); err != nil {
		t.Skip("needs nsenter (util-linux) to run commands inside the pid namespace")
	}
	return unshare, nsenter
}

// A fresh container without Docker: `opm run --restore` as PID 1 of a
// new pid namespace, with a new tmpfs on /dev/shm holding its runtime
// dir and the home (with the dump of saved apps) from the host. While
// it restores, `opm restore` and `opm list` entered into the namespace
// (as docker exec does) race it: all succeed, each app runs exactly
// once, no second daemon is started. A process left by such a command
// is re-parented to PID 1 and reaped when it dies. SIGTERM to PID 1
// stops every app and it exits 0. Round after round (OPM_STRESS_ROUNDS).
func TestRunPID1FreshContainerRace(t *testing.T) {
	unshare, nsenter := nsTools(t)
	e := newEnv(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	names := e.savedApps(4)
	e.freshContainer(names)
	const runtime = "/dev/shm/opm-run"
	environ := append(testkit.WithoutEnv(e.environ, "OPM_RUNTIME_DIR"), "OPM_RUNTIME_DIR="+runtime)
	// inNS runs argv inside PID 1's pid and mount namespaces.
	inNS := func(pid1 int, argv ...string) result {
		return e.exec(nsenter, "", environ, nil, append([]string{"--target", strconv.Itoa(pid1), "--pid", "--mount", "--"}, argv...))
	}
	cmds := [][]string{{"restore"}, {"restore"}, {"list", "--json"}, {"restore"}, {"list"}}
	rounds := stressRounds(t, 3)
	for round := range rounds {
		r := startRun(t, environ, unshare, "--pid", "--fork", "--mount-proc", "--propagation", "private", "--",
			"sh", "-c", `mount -t tmpfs -o mode=0755 opm-test /dev/shm && exec "$0" run --restore`, exe)
		// PID 1 is unshare's child, once it runs opm.
		var pid1 int
		testkit.WaitFor(t, "opm run to be PID 1 of the namespace", 20*time.Second, func() bool {
			kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", r.cmd.Process.Pid, r.cmd.Process.Pid))
			pid1, _ = strconv.Atoi(strings.TrimSpace(string(kids)))
			return pid1 > 0 && strings.HasSuffix(testkit.Cmdline(pid1), " run --restore")
		})
		t.Cleanup(func() { _ = syscall.Kill(pid1, syscall.SIGKILL) }) // ends the namespace
		if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid1)); err != nil || !regexp.MustCompile(`(?m)^NSpid:\s+\d+\s+1$`).Match(st) {
			t.Fatalf("opm run is not PID 1 in its namespace: %s %v", st, err)
		}
		// The commands come once it listens, while it restores.
		sock := fmt.Sprintf("/proc/%d/root%s/%s", pid1, runtime, api.SocketName)
		testkit.WaitFor(t, "the daemon's socket in the namespace", 20*time.Second, func() bool {
			_, err := os.Stat(sock)
			return err == nil
		})
		results := make([]result, len(cmds))
		var wg sync.WaitGroup
		for i, args := range cmds {
			wg.Go(func() { results[i] = inNS(pid1, append([]string{exe}, args...)...) })
		}
		wg.Wait()
		for i, res := range results {
			if res.code != 0 {
				t.Fatalf("round %d, command %d in the namespace: %v\nopm run: %v", round, i, res, r)
			}
		}
		for _, n := range names {
			if c := e.running(n); c != 1 {
				t.Fatalf("round %d: %s has %d processes, want 1\nopm run: %v", round, n, c, r)
			}
		}
		if d := e.daemons(); len(d) != 0 {
			t.Fatalf("round %d: the commands started daemons %v beside opm run", round, d)
		}
		if round == 0 {
			// What docker exec leaves behind comes to PID 1.
			mark := "opm-orphan-" + testkit.RandomHex(4)
			res := inNS(pid1, "sh", "-c", fmt.Sprintf(`%s=block "$0" %s >/dev/null 2>&1 &`, testkit.ChildEnv, mark), exe)
			if res.code != 0 {
				t.Fatalf("leave an orphan: %v", res)
			}
			var orphan int
			testkit.WaitFor(t, "the orphan to run", 10*time.Second, func() bool {
				p := testkit.WithArg(mark)
				if len(p) == 1 {
					orphan = p[0]
				}
				return orphan > 0
			})
			testkit.WaitFor(t, "the orphan to be re-parented to PID 1", 10*time.Second, func() bool {
				st, err := proc.ReadStat(orphan)
				return err == nil && st.PPID == pid1
			})
			if err := syscall.Kill(orphan, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			waitReaped(t, orphan, "an orphan of PID 1")
			r.waitOut(`^app0 \| block \d+$`)
		}
		if code := r.terminate(pid1); code != 0 {
			t.Fatalf("round %d: opm run as PID 1 after SIGTERM: exit %d, want 0: %v", round, code, r)
		}
		for _, n := range names {
			if c := e.running(n); c != 0 {
				t.Fatalf("round %d: %s has %d processes after opm run stopped", round, n, c)
			}
		}
	}
	t.Logf("%d rounds of opm run as PID 1 with %d concurrent commands over %d apps: exactly once every time", rounds, len(cmds), len(names))
}

// `opm run eco.yaml | head -2`: once standard output is a pipe nobody
// reads, opm run does not die of SIGPIPE (and its daemon with it, the
// apps left unsupervised): it says that printing stopped and runs on,
// the apps supervised, until SIGTERM ends it with exit 0.
func TestRunSurvivesClosedStdout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	exe := os.Args[0]
	file := writeFile(t, t.TempDir(), "apps.yaml", fmt.Sprintf(`apps:
  - name: talk
    script: %[1]s
    kill_signal: SIGTERM
    env:
      %[2]s: chatter
      %[3]s: "0"
      %[4]s: 5ms
`, exe, testkit.ChildEnv, testkit.ChatterLinesEnv, testkit.ChatterEveryEnv))
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r := startRunTo(t, e.environ, pw, exe, "run", file)
	pw.Close()
	// head -2.
	in := bufio.NewReader(pr)
	for range 2 {
		line, err := in.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "talk | line ") {
			pr.Close()
			t.Fatalf("read %q, %v from opm run's standard output: %v", line, err, r)
		}
	}
	pr.Close()
	r.waitErr(`^opm: warning: printing the apps' logs stopped: .*broken pipe`)
	if !r.running() {
		t.Fatalf("opm run ended when its standard output closed: %v", r)
	}
	// Supervised still: the app is online, and the daemon answers.
	a := e.waitStatus("talk", api.StatusOnline, 10*time.Second)
	if a.Logs.LinesLost != 0 {
		t.Errorf("talk lost lines: %+v", a.Logs)
	}
	if code := r.terminate(r.cmd.Process.Pid); code != 0 {
		t.Fatalf("opm run after SIGTERM: exit %d, want 0: %v", code, r)
	}
	for _, pid := range e.marked() {
		t.Errorf("process %d left after opm run ended: %s", pid, testkit.Cmdline(pid))
	}
}

// A second SIGTERM does not wait for the apps' kill timeout: opm run says
// so and kills them (SIGKILL to their process groups), and exits 0.
func TestRunSecondSignalKills(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	exe := os.Args[0]
	file := writeFile(t, t.TempDir(), "apps.yaml", fmt.Sprintf(`apps:
  - name: stubborn
    script: %[1]s
    kill_timeout: 600000
    kill_signal: SIGTERM
    env: {%[2]s: ignore-term}
`, exe, testkit.ChildEnv))
	r := startRun(t, e.environ, exe, "run", file)
	pid := r.cmd.Process.Pid
	app, _ := strconv.Atoi(r.waitOut(`^stubborn \| ignoring (\d+)$`)[1])
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r.waitErr(`^opm: SIGTERM: stopping every app \(a second SIGTERM or Ctrl-C kills them at once\)$`)
	e.waitStatus("stubborn", api.StatusStopping, 10*time.Second)
	if !testkit.Alive(app) {
		t.Fatalf("stubborn (pid %d) died of the first SIGTERM: the test proves nothing", app)
	}
	start := time.Now()
	if code := r.terminate(pid); code != 0 {
		t.Fatalf("opm run after a second SIGTERM: exit %d, want 0: %v", code, r)
	}
	t.Logf("ended %s after the second SIGTERM", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(r.stderr.String(), "opm: SIGTERM again: killing every app (SIGKILL to its process group)\n") {
		t.Errorf("the second SIGTERM was not told: %v", r)
	}
	if testkit.Alive(app) {
		t.Errorf("stubborn (pid %d) outlived opm run", app)
	}
}

// A SIGTERM while the file's apps start, or while the saved apps are
// restored (an app waiting to be ready holds either), is no failure:
// opm run stops the apps and exits 0 — and, with the daemon refusing
// starts as it stops, never starts one in the background.
func TestRunSignalDuringStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	exe := os.Args[0]
	slow := func(name string) string {
		return fmt.Sprintf("  - name: %s\n    script: %s\n    wait_ready: true\n    listen_timeout: 600000\n    kill_signal: SIGTERM\n    env: {%s: notify-ready}\n", name, exe, testkit.ChildEnv)
	}
	file := writeFile(t, t.TempDir(), "apps.yaml", "apps:\n"+slow("slow")+slow("after"))
	for round := range 3 {
		r := startRun(t, e.environ, exe, "run", file)
		r.waitOut(`^slow \| waiting \d+$`)
		if code := r.terminate(r.cmd.Process.Pid); code != 0 {
			t.Fatalf("round %d: SIGTERM while the file's apps start: exit %d, want 0: %v", round, code, r)
		}
		if d := e.daemons(); len(d) != 0 {
			t.Fatalf("round %d: a daemon was started in the background: %v", round, d)
		}
	}

	// The saved app waits to be ready as the restore starts it.
	dir := t.TempDir()
	e.ok("start", exe, "--name", "slow", "--wait-ready", "--listen-timeout", "600s", "--kill-signal", "SIGTERM", "--env", testkit.ChildEnv+"=notify-ready", "--env", testkit.ReadyNowEnv+"=1", "--output", filepath.Join(dir, "slow.log"))
	e.ok("save")
	e.ok("daemon", "stop")
	editDump(t, e, func(d *store.Dump) {
		for i := range d.Apps {
			d.Apps[i].Spec.Env = testkit.WithoutEnv(d.Apps[i].Spec.Env, testkit.ReadyNowEnv)
		}
	})
	for round := range 3 {
		r := startRun(t, e.environ, exe, "run", "--restore")
		// Its first run, under 'opm start', wrote one.
		testkit.WaitLogPID(t, filepath.Join(dir, "slow.log"), "waiting ", round+2)
		if code := r.terminate(r.cmd.Process.Pid); code != 0 || strings.Contains(r.stderr.String(), "restore:") {
			t.Fatalf("round %d: SIGTERM while the saved apps are restored: exit %d, want 0: %v", round, code, r)
		}
		if d := e.daemons(); len(d) != 0 {
			t.Fatalf("round %d: a daemon was started in the background: %v", round, d)
		}
	}
}

// editDump changes the dump of e's home.
func editDump(t *testing.T, e *env, edit func(*store.Dump)) {
	t.Helper()
	path := filepath.Join(e.home, api.DumpName)
	d, err := store.ReadDump(path)
	if err != nil {
		t.Fatal(err)
	}
	edit(&d)
	if err := store.WriteDump(path, d); err != nil {
		t.Fatal(err)
	}
}

// restore_on_start = true in config.toml does not make `opm run <file>`
// restore: only --restore does.
func TestRunRestoresOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	e := newEnvConfig(t, fastConfig+"restore_on_start = true\n")
	exe := os.Args[0]
	e.startApp("saved", "block")
	e.ok("save")
	e.ok("daemon", "stop")
	file := writeFile(t, t.TempDir(), "apps.yaml", fmt.Sprintf("apps:\n  - name: web\n    script: %s\n    kill_signal: SIGTERM\n    env: {%s: block}\n", exe, testkit.ChildEnv))
	logged := len(e.daemonLog()) // the background daemon restored on start
	r := startRun(t, e.environ, exe, "run", file)
	r.waitOut(`^web \| block \d+$`)
	for _, a := range e.apps() {
		if a.Name != "web" {
			t.Errorf("opm run <file> with restore_on_start = true: %s runs too", a.Name)
		}
	}
	if strings.Contains(e.daemonLog()[logged:], "event=restore-on-start") {
		t.Errorf("the daemon of opm run <file> restored on start")
	}
	if code := r.terminate(r.cmd.Process.Pid); code != 0 {
		t.Fatalf("opm run after SIGTERM: exit %d, want 0: %v", code, r)
	}
}

// Logs that held lines before opm run started are printed from where
// they ended then, each new line once: an out_file outside OPM_HOME/logs,
// written to before opm run finds it (the app writes as the restore
// waits for it to be ready); and logs in OPM_HOME/logs that rotate —
// plain or compressed — before opm run finds them.
func TestRunSkipsOldLines(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	exe := os.Args[0]
	dir := t.TempDir()
	out := filepath.Join(dir, "pre.log")
	// Each run of a rot app writes 60 lines of about 100 bytes tagged
	// with its run, then waits to be stopped, ready.
	// ($1 is the test binary, $2 the app's tag.)
	script := writeFile(t, dir, "rot.sh", fmt.Sprintf(`n=$(cat "$2.run" 2>/dev/null || echo 0); n=$((n+1)); echo $n >"$2.run"
i=1; while [ $i -le 60 ]; do echo "run$n $2 line $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"; i=$((i+1)); done
export %s=notify-ready %s=1
exec "$1"
`, testkit.ChildEnv, testkit.ReadyNowEnv))
	e.ok("start", exe, "--name", "pre", "--wait-ready", "--listen-timeout", "600s", "--kill-signal", "SIGTERM",
		"--env", testkit.ChildEnv+"=notify-ready", "--env", testkit.ReadyNowEnv+"=1", "--output", out)
	for _, name := range []string{"rot", "rotgz"} {
		args := []string{"start", script, "--name", name, "--wait-ready", "--listen-timeout", "600s", "--kill-signal", "SIGTERM", "--log-max-size", "1K", "--log-max-files", "100"}
		if name == "rotgz" {
			args = append(args, "--log-compress")
		}
		e.ok(append(args, "--", exe, filepath.Join(dir, name))...)
	}
	e.waitLogPID("rot", "waiting ", 1)
	e.waitLogPID("rotgz", "waiting ", 1)
	e.ok("save")
	e.ok("daemon", "stop")
	f, err := os.OpenFile(out, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "old line 1\nold line 2\n")
	f.Close()
	editDump(t, e, func(d *store.Dump) {
		for i := range d.Apps {
			if d.Apps[i].Spec.Name == "pre" {
				d.Apps[i].Spec.Env = testkit.WithoutEnv(d.Apps[i].Spec.Env, testkit.ReadyNowEnv)
			}
		}
	})

	r := startRun(t, e.environ, exe, "run", "--restore")
	// pre writes as the restore waits for it, before opm run follows its
	// log; then it is told to be ready.
	pre := testkit.WaitLogPID(t, out, "waiting ", 2)
	if err := syscall.Kill(pre, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	r.waitOut(`^pre \| notified true <nil>$`)
	r.waitOut(`^rot \| notified true <nil>$`)
	r.waitOut(`^rotgz \| notified true <nil>$`)
	for _, name := range []string{"rot", "rotgz"} {
		if a := e.app(name); a.Logs.Rotations == 0 {
			t.Errorf("%s's logs never rotated: the test proves nothing about rotation", name)
		}
	}
	if code := r.terminate(r.cmd.Process.Pid); code != 0 {
		t.Fatalf("opm run after SIGTERM: exit %d, want 0: %v", code, r)
	}
	got := r.stdout.String()
	if strings.Contains(got, "old line") || strings.Contains(got, "run1 ") || strings.Count(got, "pre | waiting ") != 1 {
		t.Errorf("lines written before opm run started were printed:\n%s", got)
	}
	for _, name := range []string{"rot", "rotgz"} {
		for i := 1; i <= 60; i++ {
			line := fmt.Sprintf("%s | run2 %s line %d x", name, filepath.Join(dir, name), i)
			if c := strings.Count(got, line); c != 1 {
				t.Fatalf("%q printed %d times, want once:\n%s", line, c, got)
			}
		}
	}
}

// The logs of an app removed from another shell are read to their end
// and let go of (no descriptor of opm run stays on them); an app of that
// name started again is followed again from where its log was left:
// each line once.
func TestRunLetsGoOfRemovedApps(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	exe := os.Args[0]
	file := writeFile(t, t.TempDir(), "apps.yaml", fmt.Sprintf(`apps:
  - name: web
    script: %[1]s
    kill_signal: SIGTERM
    env: {%[2]s: block}
  - name: other
    script: %[1]s
    kill_signal: SIGTERM
    env: {%[2]s: block}
`, exe, testkit.ChildEnv))
	r := startRun(t, e.environ, exe, "run", file)
	pid := r.cmd.Process.Pid
	first := r.waitOut(`^web \| block (\d+)$`)[1]
	r.waitOut(`^other \| block \d+$`)
	logs := filepath.Join(e.home, api.LogsDir)
	open := func(name string) []string {
		var held []string
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, fd := range fds {
			l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
			if strings.HasPrefix(l, filepath.Join(logs, name+"-")) {
				held = append(held, l)
			}
		}
		return held
	}
	if len(open("other")) == 0 {
		t.Fatalf("opm run holds no log of other open: the test proves nothing")
	}
	e.ok("remove", "web")
	r.waitOut(`^web \| block ended by terminated$`)
	testkit.WaitFor(t, "opm run to let go of web's logs", 10*time.Second, func() bool { return len(open("web")) == 0 })
	if len(open("other")) == 0 {
		t.Fatalf("opm run let go of other's logs too")
	}

	e.ok("start", exe, "--name", "web", "--env", testkit.ChildEnv+"=block")
	var second string
	rx := regexp.MustCompile(`(?m)^web \| block (\d+)$`)
	testkit.WaitFor(t, "the line of web started again", 20*time.Second, func() bool {
		for _, m := range rx.FindAllStringSubmatch(r.stdout.String(), -1) {
			if m[1] != first {
				second = m[1]
			}
		}
		return second != ""
	})
	if code := r.terminate(pid); code != 0 {
		t.Fatalf("opm run after SIGTERM: exit %d, want 0: %v", code, r)
	}
	out := r.stdout.String()
	for _, line := range []string{"web | block " + first + "\n", "web | block " + second + "\n", "other | block ended by terminated\n"} {
		if c := strings.Count(out, line); c != 1 {
			t.Errorf("%q printed %d times, want once:\n%s", line, c, out)
		}
	}
	if c := strings.Count(out, "web | block ended by terminated\n"); c != 2 {
		t.Errorf("web's last words printed %d times, want twice (one a run):\n%s", c, out)
	}
}

// With log_dir (OPM_LOG_DIR) the apps' logs are elsewhere: opm run
// follows them there, and daemon.log with them.
func TestRunFollowsLogDir(t *testing.T) {
	t.Parallel()
	logDir := filepath.Join(t.TempDir(), "logs")
	e := newEnv(t)
	exe := os.Args[0]
	file := writeFile(t, t.TempDir(), "apps.yaml", fmt.Sprintf("apps:\n  - name: web\n    script: %s\n    kill_signal: SIGTERM\n    env: {%s: block}\n", exe, testkit.ChildEnv))
	r := startRun(t, append(append([]string(nil), e.environ...), "OPM_LOG_DIR="+logDir), exe, "run", file)
	pid := r.cmd.Process.Pid
	r.waitOut(`^web \| block \d+$`)
	if _, err := os.Stat(filepath.Join(logDir, "web-out.log")); err != nil {
		t.Fatalf("web's log is not in OPM_LOG_DIR: %v", err)
	}
	if code := r.terminate(pid); code != 0 {
		t.Fatalf("opm run after SIGTERM: exit %d, want 0: %v", code, r)
	}
	if !strings.Contains(r.stdout.String(), "web | block ended by terminated\n") {
		t.Errorf("web's last line was not printed: %v", r)
	}
}
