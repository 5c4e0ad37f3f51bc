package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"opm/daemon/api"
)

// A crashing app is restarted with growing back-off, then errored after
// --max-restarts, and stays down.
func TestCrashRestartsThenErrored(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	begin := time.Now()
	e.startApp("crash", "exit1", "--max-restarts", "3")
	app := e.waitStatus("crash", api.StatusErrored, 20*time.Second)
	elapsed := time.Since(begin)
	if app.Restarts != 3 || app.PID != 0 {
		t.Errorf("errored app = %+v, want 3 restarts and no pid", app)
	}
	// Back-off 20 ms doubling: 20 + 40 + 80 ms at least.
	if elapsed < 140*time.Millisecond {
		t.Errorf("errored after %s: no back-off between restarts", elapsed)
	}
	log := readDaemonLog(t, e)
	if n := strings.Count(log, "app=crash"); n == 0 {
		t.Errorf("daemon log has no events for the app:\n%s", log)
	}
	// Errored means down until the user acts: a quiet window shows no new
	// attempts (a measurement, not a synchronisation).
	time.Sleep(300 * time.Millisecond)
	if again := e.app("crash"); again.Restarts != 3 || again.Status != api.StatusErrored {
		t.Errorf("after the window: %+v, want still errored with 3 restarts", again)
	}
	// The user acts: start resets it.
	e.ok("start", "crash")
	e.waitFor("the app to run again", 10*time.Second, func() bool {
		a := e.app("crash")
		return a.Restarts > 0 || a.Status != api.StatusErrored
	})
}

// on-failure restarts after a failure only; never does not restart.
func TestRestartPolicies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, policy, mode string
		restarts           bool
	}{
		{"on-failure after success", api.RestartOnFailure, "exit0", false},
		{"on-failure after failure", api.RestartOnFailure, "exit1", true},
		{"never after failure", api.RestartNever, "exit1", false},
		{"always after success", api.RestartAlways, "exit0", true},
	}
	e := newEnv(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "p" + string(rune('a'+i))
			e.startApp(name, tt.mode, "--restart", tt.policy, "--max-restarts", "2")
			if tt.restarts {
				app := e.waitStatus(name, api.StatusErrored, 20*time.Second)
				if app.Restarts != 2 {
					t.Errorf("restarts = %d, want 2", app.Restarts)
				}
				return
			}
			var app api.App
			e.waitFor(name+" to exit for good", 10*time.Second, func() bool {
				app = e.app(name)
				return app.PID == 0 && (app.Status == api.StatusStopped || app.Status == api.StatusErrored)
			})
			time.Sleep(200 * time.Millisecond) // quiet window: a measurement
			if again := e.app(name); again.Restarts != 0 || again.PID != 0 {
				t.Errorf("%s with %s restarted: %+v", tt.mode, tt.policy, again)
			}
			wantExit := 0
			if tt.mode == "exit1" {
				wantExit = 1
			}
			if app.ExitCode != wantExit {
				t.Errorf("exit code = %d, want %d", app.ExitCode, wantExit)
			}
		})
	}
}

// Stopping an app while it waits to be restarted cancels the restart.
func TestStopDuringBackoff(t *testing.T) {
	t.Parallel()
	e := newEnvConfig(t, `restart_delay = "400ms"
restart_delay_max = "400ms"
kill_timeout = "2s"
`)
	e.startApp("flaky", "exit1")
	e.waitStatus("flaky", api.StatusWaiting, 10*time.Second)
	e.ok("stop", "flaky")
	app := e.app("flaky")
	if app.Status != api.StatusStopped || app.PID != 0 {
		t.Fatalf("after stop: %+v, want stopped", app)
	}
	// Longer than the back-off: the cancelled restart must not happen.
	time.Sleep(600 * time.Millisecond)
	if again := e.app("flaky"); again.Status != api.StatusStopped || again.PID != 0 || again.Restarts != app.Restarts {
		t.Errorf("a stopped app came back: %+v", again)
	}
}

// A crash is followed by a restart after the minimum back-off. The
// latency, from the daemon's own log (exit event to start event), is
// logged for the record.
func TestCrashRestartLatency(t *testing.T) {
	t.Parallel()
	e := newEnvConfig(t, `restart_delay = "1ms"
restart_delay_max = "1ms"
`)
	e.startApp("latency", "crash-on-usr1")
	for i := range 5 {
		pid := e.waitLogPID("latency", "armed ", i+1)
		if err := syscall.Kill(pid, syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
	}
	e.waitLogPID("latency", "armed ", 6)
	if app := e.app("latency"); app.Restarts != 5 || app.Status != api.StatusOnline {
		t.Errorf("after 5 crashes: %+v, want online with 5 restarts", app)
	}
	var exited time.Time
	var worst, total time.Duration
	n := 0
	for _, line := range strings.Split(readDaemonLog(t, e), "\n") {
		ts, err := time.Parse(time.RFC3339Nano, strings.TrimPrefix(strings.Fields(line + " x")[0], "time="))
		switch {
		case err != nil:
		case strings.Contains(line, "event=exited"):
			exited = ts
		case strings.Contains(line, "event=started") && !exited.IsZero():
			d := ts.Sub(exited)
			worst, total, n = max(worst, d), total+d, n+1
		}
	}
	if n == 5 {
		t.Logf("crash -> restarted (back-off 1 ms): mean %s, worst %s over %d crashes", total/time.Duration(n), worst, n)
	} else {
		t.Logf("found %d restarts in the daemon log", n)
	}
}

// waitLogPID waits until the app's out log holds count lines starting
// with prefix and returns the pid at the end of the last one.
func (e *env) waitLogPID(name, prefix string, count int) int {
	e.t.Helper()
	pid := 0
	path := filepath.Join(e.home, "logs", name+"-out.log")
	e.waitFor(fmt.Sprintf("%d lines %q in %s", count, prefix, path), 10*time.Second, func() bool {
		data, _ := os.ReadFile(path)
		seen := 0
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, prefix); ok {
				seen++
				pid, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		return seen >= count && pid > 0
	})
	return pid
}

func readDaemonLog(t *testing.T, e *env) string {
	t.Helper()
	data, err := os.ReadFile(e.home + "/daemon.log")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
