package daemon

import (
	"strings"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/testkit"
)

// Stop signals the app's whole process group: a grandchild dies with the
// app, even one that ignores SIGTERM (SIGKILL after the kill timeout).
func TestStopKillsGrandchildren(t *testing.T) {
	d := startDaemon(t, func(c *Config) { c.KillTimeout = 200 * time.Millisecond })
	for _, mode := range []string{"grandchild", "grandchild-stubborn"} {
		a := d.start(mode, mode)
		gc := testkit.WaitLogPID(t, a.Spec.OutLog, "grandchild ", 1)
		if mode == "grandchild-stubborn" {
			testkit.WaitLogPID(t, a.Spec.OutLog, "ignoring ", 1) // SIGTERM is ignored from now on
		}
		apps, err := d.action(mode, "stop")
		if err != nil || apps[0].Status != api.StatusStopped || apps[0].PID != 0 {
			t.Fatalf("%s: stop = %+v, %v; want stopped", mode, apps, err)
		}
		testkit.WaitFor(t, mode+": the app and its grandchild to die", 5*time.Second, func() bool {
			return !testkit.Alive(a.PID) && !testkit.Alive(gc)
		})
	}
}

// An app that ignores SIGTERM is killed with SIGKILL after its kill timeout.
func TestStopEscalatesToSIGKILL(t *testing.T) {
	d := startDaemon(t, func(c *Config) { c.KillTimeout = 50 * time.Millisecond })
	a := d.start("stubborn", "ignore-term")
	// Wait until it has installed its handler (it says so in its log).
	testkit.WaitLogPID(t, a.Spec.OutLog, "ignoring ", 1) // SIGTERM is ignored from now on
	apps, err := d.action("stubborn", "stop")
	if err != nil || apps[0].Status != api.StatusStopped {
		t.Fatalf("stop = %+v, %v", apps, err)
	}
	if apps[0].ExitCode != -1 || testkit.Alive(a.PID) {
		t.Fatalf("exit code %d, alive %v: want killed", apps[0].ExitCode, testkit.Alive(a.PID))
	}
	if !strings.Contains(d.log.String(), "event=killing") {
		t.Error("daemon log lacks the SIGKILL escalation")
	}
}
