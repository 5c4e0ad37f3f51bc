package daemon

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/testkit"
)

// A real process that keeps failing is restarted with growing back-off,
// then errored with its exit status, until the user starts it again.
// (The policy itself, delays and limits, is tested with the fake world in
// supervisor_test.go.)
func TestCrashRestartsWithBackoffThenErrored(t *testing.T) {
	d := startDaemon(t)
	d.start("crashy", "exit1")
	a := d.waitStatus("crashy", api.StatusErrored)
	if a.Restarts != d.cfg.MaxRestarts {
		t.Fatalf("restarts = %d, want %d before errored", a.Restarts, d.cfg.MaxRestarts)
	}
	if a.ExitCode != 1 || a.PID != 0 {
		t.Fatalf("errored app: exit code %d, pid %d; want 1 and no process", a.ExitCode, a.PID)
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

// An app killed from outside is restarted once.
func TestKilledAppRestarts(t *testing.T) {
	d := startDaemon(t)
	a := d.start("svc", "block")
	if err := syscall.Kill(a.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	b := d.waitApp("svc", "to come back", func(b api.App) bool { return b.Status == api.StatusOnline && b.PID != a.PID })
	if b.Restarts != 1 {
		t.Fatalf("restarts = %d, want 1", b.Restarts)
	}
	if testkit.Alive(a.PID) {
		t.Fatal("old process alive")
	}
}

// A crash that is restarted at once costs one line of daemon.log, written
// once the new process runs, with the old process's end; a crash whose
// restart waits costs a line when it ends and one when the next starts.
func TestCrashLogLines(t *testing.T) {
	d := startDaemon(t, func(c *Config) { c.RestartDelay, c.RestartDelayMax = time.Nanosecond, time.Nanosecond })
	a := d.start("svc", "block")
	for i := 1; i <= 3; i++ {
		old := a.PID
		if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		a = d.waitApp("svc", "to be restarted", func(b api.App) bool { return b.Status == api.StatusOnline && b.PID != old })
		want := fmt.Sprintf(`msg="app restarted after a crash" event=started app=svc pid=%d exited_pid=%d status="signal killed" uptime_ms=`, a.PID, old)
		testkit.WaitFor(t, "the restart's line", 5*time.Second, func() bool { return strings.Contains(d.log.String(), want) })
	}
	log := d.log.String()
	for ev, n := range map[string]int{"event=started": 4, "event=exited": 0, "event=restarting": 0} {
		if got := strings.Count(log, ev); got != n {
			t.Errorf("%d lines with %s after 3 crashes restarted at once, want %d:\n%s", got, ev, n, log)
		}
	}
}
