package daemon

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/proc"
	"opm/daemon/testkit"
)

// TestMain lets the test binary play the processes of the tests: a
// managed app or a helper process (a child mode of daemon/testkit), the
// daemon as `opm daemon run` runs it (OPM_TEST_ROLE=daemon), or the tests.
// An illegal state move fails the suite.
func TestMain(m *testing.M) {
	strictMoves = true
	testkit.Main(m, func() int {
		if err := Main(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "daemon:", err)
			return 1
		}
		return 0
	})
}

// Main, as a process of its own: the readiness line, a second daemon
// that finds the first, the socket's mode, an idle daemon's silence, the
// signal dispositions apps inherit, and a stop.
func TestMainReadinessIdleAndStop(t *testing.T) {
	home, rt := t.TempDir(), testkit.ShortTempDir(t)
	if err := os.WriteFile(filepath.Join(home, ConfigName), []byte("restart_delay = \"10ms\"\nkill_timeout = \"2s\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, line := spawnMain(t, home, rt)
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		if t.Failed() {
			t.Logf("daemon.log:\n%s%s", readFile(t, filepath.Join(home, "daemon.log")), readFile(t, filepath.Join(home, "daemon.stderr")))
		}
	})
	if line != fmt.Sprintf("ready %d", cmd.Process.Pid) {
		t.Fatalf("readiness line %q, want \"ready %d\"", line, cmd.Process.Pid)
	}

	// A second daemon for the same home says "running" and exits 0.
	second, line2 := spawnMain(t, home, rt)
	if err := second.Wait(); err != nil || line2 != "running" {
		t.Fatalf("second daemon: line %q, exit %v", line2, err)
	}

	fi, err := os.Stat(api.SocketPath(rt))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, %v; want 0600", fi.Mode(), err)
	}

	cl := api.NewClient(api.SocketPath(rt))
	mark := testkit.NewMark()
	for i := range 3 {
		req := api.StartRequest{Command: os.Args[0], Name: "idle" + strconv.Itoa(i), Cwd: home,
			Env: append(os.Environ(), testkit.ChildEnv+"=block", mark)}
		if err := cl.Do(context.Background(), http.MethodPost, api.PathApps, req, nil); err != nil {
			t.Fatal(err)
		}
	}

	// An idle daemon with apps makes no write syscalls and burns no CPU,
	// also after a list (which samples the apps). The window starts once
	// the work just asked for is done: its counters have settled. The
	// window itself is the measurement: no event could say that nothing
	// happened.
	pid := cmd.Process.Pid
	if err := cl.Do(context.Background(), http.MethodGet, api.PathApps, nil, nil); err != nil {
		t.Fatal(err)
	}
	usage := func() proc.Usage {
		u, err := proc.ReadUsage(pid)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	testkit.Settle(t, "the daemon's writes", func() (int64, error) { return int64(usage().Syscw), nil })
	testkit.Settle(t, "the daemon's CPU time", func() (int64, error) { return int64(usage().CPUTicks), nil })
	before := usage()
	time.Sleep(time.Second)
	after := usage()
	t.Logf("idle daemon over 1s: %d write syscalls, %d CPU ticks", after.Syscw-before.Syscw, after.CPUTicks-before.CPUTicks)
	if after.Syscw != before.Syscw {
		t.Errorf("idle daemon made %d write syscalls", after.Syscw-before.Syscw)
	}
	if after.CPUTicks-before.CPUTicks > 1 {
		t.Errorf("idle daemon used %d CPU ticks in 1s", after.CPUTicks-before.CPUTicks)
	}

	// Apps start with default signal dispositions: nothing the daemon
	// ignores leaks into them.
	var sigs api.App
	if err := cl.Do(context.Background(), http.MethodPost, api.PathApps, api.StartRequest{Command: "grep -e SigIgn -e SigBlk /proc/self/status", Name: "sigs", Cwd: home, Env: os.Environ(), Restart: api.RestartNever}, &sigs); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "sigs output", 5*time.Second, func() bool { return strings.Contains(readFile(t, sigs.Spec.OutLog), "SigIgn") })
	if got := strings.TrimSpace(readFile(t, sigs.Spec.OutLog)); got != "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000" {
		t.Errorf("an app started with blocked or ignored signals: %q", got)
	}

	var st api.DaemonStatus
	if err := cl.Do(context.Background(), http.MethodPost, api.PathStop, nil, &st); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("daemon exit: %v", err)
	}
	if n := len(testkit.Marked(mark)); n != 0 {
		t.Fatalf("%d apps left after the daemon stopped", n)
	}
	log := readFile(t, filepath.Join(home, "daemon.log"))
	if c := strings.Count(log, "event=started"); c != 4 {
		t.Errorf("daemon log has %d started lines, want 4", c)
	}
}

// A broken config.toml is reported on the readiness line, naming the
// file, and Main exits 1.
func TestMainReportsErrors(t *testing.T) {
	home, rt := t.TempDir(), testkit.ShortTempDir(t)
	if err := os.WriteFile(filepath.Join(home, ConfigName), []byte("restart_delay = \"soon\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, line := spawnMain(t, home, rt)
	err := cmd.Wait()
	if !strings.HasPrefix(line, "error ") || !strings.Contains(line, ConfigName) || err == nil {
		t.Fatalf("line %q, exit %v; want an error line naming the config and exit 1", line, err)
	}
}
