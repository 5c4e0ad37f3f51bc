package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/testkit"
)

// monitWait bounds each wait for the dashboard to show something.
const monitWait = 20 * time.Second

// monitPrompt is the prompt of the shell opm monit runs from.
const monitPrompt = "monit-test$"

// tmuxTerm is a tmux server of the test's own (its own socket, no user
// configuration) with one session of 120x40 running a shell in the
// test's opm environment.
type tmuxTerm struct {
	t    *testing.T
	bin  string
	sock string
}

// newTmux starts the server and its session, or skips the test without
// tmux. Cleanup ends the server and waits for its processes to go.
func newTmux(t *testing.T, e *env) *tmuxTerm {
	t.Helper()
	bin, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed: the opm monit tests skip (apt-get install tmux, or make testdeps OPM_INSTALL_TESTDEPS=1 as root)")
	}
	tm := &tmuxTerm{t: t, bin: bin, sock: filepath.Join(t.TempDir(), "tmux.sock")}
	// The server, and so the session's shell and opm monit, get the
	// environment of the command that starts it: the test's opm.
	environ := append(append([]string(nil), e.environ...), "ENV=", "TERM=xterm-256color", "LANG=C.UTF-8", "LC_ALL=C.UTF-8")
	cmd := exec.Command(bin, "-S", tm.sock, "-f", "/dev/null", "new-session", "-d", "-s", "monit", "-x", "120", "-y", "40", "sh")
	cmd.Env = environ
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	server := tm.pid("#{pid}")
	pane := tm.pid("#{pane_pid}")
	t.Cleanup(func() {
		_ = exec.Command(bin, "-S", tm.sock, "kill-server").Run()
		testkit.WaitFor(t, "the tmux server and its shell to end", 10*time.Second, func() bool {
			return syscall.Kill(server, 0) != nil && syscall.Kill(pane, 0) != nil
		})
	})
	// Quoted in two so that the line typed is not yet the prompt.
	tm.line("PS1='monit-''test$ '") // capture-pane drops the trailing space
	tm.waitScreen("the shell's prompt", func(s string) bool { return strings.Contains(s, monitPrompt) })
	tm.line("clear")
	tm.waitScreen("a clear screen", func(s string) bool { return strings.HasPrefix(s, monitPrompt) })
	return tm
}

// tmux runs one tmux command on the test's server.
func (tm *tmuxTerm) tmux(args ...string) string {
	tm.t.Helper()
	out, err := exec.Command(tm.bin, append([]string{"-S", tm.sock}, args...)...).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// pid is a process id that tmux's format f names.
func (tm *tmuxTerm) pid(f string) int {
	tm.t.Helper()
	s := strings.TrimSpace(tm.tmux("display-message", "-p", "-t", "monit", f))
	n, err := strconv.Atoi(s)
	if err != nil {
		tm.t.Fatalf("tmux %s: %q", f, s)
	}
	return n
}

// screen is what the pane shows now.
func (tm *tmuxTerm) screen() string {
	tm.t.Helper()
	return tm.tmux("capture-pane", "-p", "-t", "monit")
}

// keys types keys (tmux key names: j, Enter, C-c).
func (tm *tmuxTerm) keys(keys ...string) {
	tm.t.Helper()
	tm.tmux(append([]string{"send-keys", "-t", "monit"}, keys...)...)
}

// line types a command line into the shell and runs it.
func (tm *tmuxTerm) line(s string) {
	tm.t.Helper()
	tm.tmux("send-keys", "-t", "monit", "-l", s)
	tm.keys("Enter")
}

// waitScreen polls the pane until cond holds of it, and returns it.
func (tm *tmuxTerm) waitScreen(what string, cond func(string) bool) string {
	tm.t.Helper()
	var last string
	if !testkit.Poll(monitWait, func() bool {
		last = tm.screen()
		return cond(last)
	}) {
		tm.t.Fatalf("timed out after %s waiting for %s; the screen:\n%s", monitWait, what, last)
	}
	return last
}

// monitRow is one app's line of the dashboard.
type monitRow struct {
	selected bool
	status   string
	restarts int
}

// monitRowRE reads an app's line: the selection mark, id, name, status,
// restarts.
var monitRowRE = regexp.MustCompile(`^(▶)?\s+(\d+) (\S+)\s+(\S+)\s+(\d+)\s`)

// rowOf finds the line of the app labelled name on screen.
func rowOf(screen, name string) (monitRow, bool) {
	for _, ln := range strings.Split(screen, "\n") {
		m := monitRowRE.FindStringSubmatch(ln)
		if m == nil || m[3] != name {
			continue
		}
		n, _ := strconv.Atoi(m[5])
		return monitRow{selected: m[1] != "", status: m[4], restarts: n}, true
	}
	return monitRow{}, false
}

// waitRow waits until the app's line satisfies cond.
func (tm *tmuxTerm) waitRow(name, what string, cond func(monitRow) bool) {
	tm.t.Helper()
	tm.waitScreen(name+" "+what+" on the dashboard", func(s string) bool {
		r, ok := rowOf(s, name)
		return ok && cond(r)
	})
}

// TestMonit drives opm monit in a real terminal (tmux) against a real
// daemon: the apps and their logs show, the keys act on the selected
// app, a crash shows, a small terminal is told so, and q gives the
// terminal back.
func TestMonit(t *testing.T) {
	e := newEnv(t)
	web := e.startApp("web", "block")
	worker := e.startApp("worker", "block")
	webPID := e.waitLogPID("web", "block ", 1)
	workerPID := e.waitLogPID("worker", "block ", 1)
	tm := newTmux(t, e)

	tm.line(fmt.Sprintf("'%s' monit", os.Args[0]))
	tm.waitScreen("the dashboard with both apps online", func(s string) bool {
		w, ok1 := rowOf(s, "web")
		k, ok2 := rowOf(s, "worker")
		return strings.Contains(s, "opm monit") && ok1 && ok2 && w.status == "online" && k.status == "online" && w.selected && !k.selected
	})
	if alt := strings.TrimSpace(tm.tmux("display-message", "-p", "-t", "monit", "#{alternate_on}")); alt != "1" {
		t.Errorf("opm monit does not draw on the alternate screen (alternate_on %q)", alt)
	}
	// The log pane shows the selected app's output, as opm logs does.
	tm.waitScreen("web's output in the log pane", func(s string) bool {
		return strings.Contains(s, fmt.Sprintf("web | block %d", webPID))
	})

	// A terminal too small is told so, and the dashboard comes back.
	tm.tmux("resize-window", "-t", "monit", "-x", "50", "-y", "10")
	tm.waitScreen("the too-small message", func(s string) bool { return strings.Contains(s, "terminal too small (50x10)") })
	tm.tmux("resize-window", "-t", "monit", "-x", "120", "-y", "40")
	tm.waitRow("web", "back after the resize", func(r monitRow) bool { return r.status == "online" })

	// j selects the worker: its line is marked and its logs shown.
	tm.keys("j")
	tm.waitRow("worker", "selected", func(r monitRow) bool { return r.selected })
	tm.waitScreen("worker's output in the log pane", func(s string) bool {
		return strings.Contains(s, fmt.Sprintf("worker | block %d", workerPID)) && !strings.Contains(s, "web | block")
	})

	// r restarts the selected app, and only it.
	tm.keys("r")
	restarted := e.waitApp("worker", "restarted by the r key", monitWait, func(a api.App) bool { return a.PID > 0 && a.PID != worker.PID && a.Status == "online" })
	if got := listPID(e, "worker"); got != restarted.PID {
		t.Errorf("opm list --json: worker has pid %d, want %d after r", got, restarted.PID)
	}
	if got := listPID(e, "web"); got != web.PID {
		t.Errorf("r restarted web too: pid %d, was %d", got, web.PID)
	}
	tm.waitScreen("the restart said done", func(s string) bool { return strings.Contains(s, "restarted worker") })

	// s stops it; t starts it again; l reloads it.
	tm.keys("s")
	e.waitStatus("worker", "stopped", monitWait)
	tm.waitRow("worker", "stopped", func(r monitRow) bool { return r.status == "stopped" })
	tm.keys("t")
	started := e.waitStatus("worker", "online", monitWait)
	tm.waitRow("worker", "online again", func(r monitRow) bool { return r.status == "online" })
	tm.keys("l")
	e.waitApp("worker", "reloaded by the l key", monitWait, func(a api.App) bool { return a.PID > 0 && a.PID != started.PID && a.Status == "online" })
	tm.waitScreen("the reload said done", func(s string) bool { return strings.Contains(s, "reloaded worker") })

	// k goes back to web; a crash (SIGKILL) shows as a restart.
	tm.keys("k")
	tm.waitRow("web", "selected again", func(r monitRow) bool { return r.selected })
	before, _ := rowOf(tm.screen(), "web")
	if err := syscall.Kill(web.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	tm.waitRow("web", "restarted after the crash", func(r monitRow) bool { return r.restarts > before.restarts && r.status == "online" })
	if got := e.app("web"); got.PID == web.PID || got.Restarts == 0 {
		t.Errorf("after kill -9 the daemon shows web with pid %d, %d restarts", got.PID, got.Restarts)
	}

	// q quits: the shell's screen and prompt come back, in a terminal
	// whose modes are as they were (canonical input, echo).
	tm.keys("q")
	screen := tm.waitScreen("the shell's prompt after q", func(s string) bool {
		return !strings.Contains(s, "opm monit ·") && strings.Count(s, monitPrompt) >= 2
	})
	if alt := strings.TrimSpace(tm.tmux("display-message", "-p", "-t", "monit", "#{alternate_on}")); alt != "0" {
		t.Errorf("opm monit left the alternate screen on (alternate_on %q):\n%s", alt, screen)
	}
	tm.line("stty -a; echo stty-done")
	screen = tm.waitScreen("stty's answer", func(s string) bool { return strings.Contains(s, "\nstty-done") })
	modes := map[string]bool{}
	for _, f := range strings.Fields(screen) {
		modes[f] = true
	}
	for _, mode := range []string{"icanon", "echo", "isig", "icrnl"} {
		if !modes[mode] || modes["-"+mode] {
			t.Errorf("after q the terminal lacks %s:\n%s", mode, screen)
		}
	}

	// Ctrl-C quits too.
	tm.line("clear")
	tm.line(fmt.Sprintf("'%s' monit", os.Args[0]))
	tm.waitRow("web", "on the dashboard again", func(r monitRow) bool { return r.status == "online" })
	tm.keys("C-c")
	tm.waitScreen("the shell's prompt after Ctrl-C", func(s string) bool {
		return !strings.Contains(s, "opm monit ·") && strings.Count(s, monitPrompt) >= 2
	})
}

// listPID is the pid of the app named name as `opm list --json` says.
func listPID(e *env, name string) int {
	e.t.Helper()
	for _, a := range e.list() {
		if a.Name == name {
			return a.PID
		}
	}
	e.t.Fatalf("opm list --json has no app %s", name)
	return 0
}

// TestMonitNeedsTerminal: without a terminal opm monit says so and
// fails, before it touches anything.
func TestMonitNeedsTerminal(t *testing.T) {
	e := newEnv(t)
	r := e.run("monit")
	if r.code != 1 || !strings.Contains(r.stderr, "needs a terminal") {
		t.Fatalf("opm monit without a terminal: %v", r)
	}
	if _, err := os.Stat(api.SocketPath(e.runtime)); err == nil {
		t.Errorf("opm monit without a terminal started a daemon")
	}
}
