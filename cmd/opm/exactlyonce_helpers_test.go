package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"opm/shm"
)

// The exactly-once tests tell apps apart by a marker in their argv (after
// "--"), unique to the test environment and the app, and count the live
// processes that carry it.

// appMark is the argv marker of app name in this environment.
func (e *env) appMark(name string) string {
	return "opm-app-" + strings.TrimPrefix(e.mark, "OPM_TEST_MARK=") + "-" + name
}

// startMarked registers and starts an app that blocks, with its marker.
func (e *env) startMarked(name string) {
	e.t.Helper()
	e.ok("start", os.Args[0], "--name", name, "--env", "OPM_TEST_CHILD=block", "--", e.appMark(name))
}

// argvCount counts live processes (not zombies) with marker as one of
// their arguments.
func argvCount(marker string) int {
	return len(argvPIDs(marker))
}

func argvPIDs(marker string) []int {
	ents, _ := os.ReadDir("/proc")
	needle := []byte("\x00" + marker + "\x00")
	var pids []int
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "cmdline"))
		if err != nil || !bytes.Contains(append([]byte{0}, data...), needle) {
			continue
		}
		if alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// daemons lists this environment's live daemon processes.
func (e *env) daemons() []int {
	var out []int
	for _, pid := range e.marked() {
		if strings.Contains(cmdline(pid), "daemon run") {
			out = append(out, pid)
		}
	}
	return out
}

// checkExactlyOnce fails the test unless each named app has exactly one
// live process and the environment has exactly one daemon.
func (e *env) checkExactlyOnce(names []string, when string) {
	e.t.Helper()
	var bad []string
	for _, n := range names {
		if c := argvCount(e.appMark(n)); c != 1 {
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
	e.waitFor("every app and the daemon to be gone", 20*time.Second, func() bool {
		for _, n := range names {
			if argvCount(e.appMark(n)) != 0 {
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

// stressRounds is n, or OPM_STRESS_ROUNDS when set (make stress).
func stressRounds(t *testing.T, n int) int {
	if s := os.Getenv("OPM_STRESS_ROUNDS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("OPM_STRESS_ROUNDS=%q: want a positive number", s)
		}
		return v
	}
	if testing.Short() {
		return max(1, n/10)
	}
	return n
}

// holdFlag is a child mode: take the restore flag in OPM_TEST_FLAG_DIR
// like a restorer, say "held", and block until killed.
func holdFlag() int {
	f, err := shm.OpenFlag(os.Getenv("OPM_TEST_FLAG_DIR"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	if _, err := f.Acquire(0); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	fmt.Println("held")
	never := make(chan os.Signal, 1)
	signal.Notify(never, syscall.SIGUSR2) // never sent: block until killed
	<-never
	return 0
}

// holdFlag starts a process that takes the restore flag like a restorer
// and keeps it until killed; it returns once the flag is held.
func (e *env) holdFlag() *exec.Cmd {
	e.t.Helper()
	holder := exec.Command(os.Args[0], "-test.run=^$")
	holder.Env = append(append([]string(nil), e.environ...), "OPM_TEST_CHILD=hold-flag", "OPM_TEST_FLAG_DIR="+e.runtime)
	out, err := holder.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = holder.Process.Kill(); _ = holder.Wait() })
	if l, err := bufio.NewReader(out).ReadString('\n'); err != nil || l != "held\n" {
		e.t.Fatalf("flag holder said %q, %v", l, err)
	}
	return holder
}
