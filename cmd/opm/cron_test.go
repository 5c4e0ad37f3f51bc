package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"opm/daemon/api"
)

// --cron-restart with a seconds field restarts a running app at each
// fire time, with "cron" as the reason in info and daemon.log.
func TestCronRestartsRunningApp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	first := e.startApp("tick", "block", "--cron-restart", "* * * * * *")
	a := e.waitApp("tick", "two cron restarts", 15*time.Second, func(a api.App) bool {
		return a.Restarts >= 2 && a.Status == api.StatusOnline
	})
	if a.PID == first.PID || a.LastRestartReason != "cron" {
		t.Errorf("after cron restarts: pid %d (was %d), reason %q", a.PID, first.PID, a.LastRestartReason)
	}
	if log := e.daemonLog(); !strings.Contains(log, "reason=cron") {
		t.Errorf("daemon.log does not give the reason:\n%s", log)
	}
	if info := e.ok("info", "tick").stdout; !strings.Contains(info, "(last: cron)") || !strings.Contains(info, "cron restart") {
		t.Errorf("info:\n%s", info)
	}
}

// A job that runs to its end (--no-autorestart) is started at each cron
// time, as PM2 does; one the user stopped is not, also after a daemon
// restart.
func TestCronStartsPeriodicJob(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startApp("job", "exit0", "--no-autorestart", "--cron-restart", "* * * * * *")
	e.startApp("held", "exit0", "--no-autorestart", "--cron-restart", "* * * * * *")
	starts := func(app string) int {
		return strings.Count(e.daemonLog(), `msg="app started" event=started app=`+app+" ")
	}
	e.waitApp("job", "two starts at cron times", 15*time.Second, func(api.App) bool { return starts("job") >= 3 })
	e.ok("stop", "held")
	// The user's stop outlives the daemon.
	e.ok("daemon", "restart")
	before := starts("held")
	// Two more fires of the same schedule, seen on the other job.
	seen := starts("job")
	e.waitApp("job", "two more cron starts", 15*time.Second, func(api.App) bool { return starts("job") >= seen+2 })
	if n := starts("held"); n != before {
		t.Errorf("a stopped job was started by its cron %d times", n-before)
	}
}

// A cron expression opm cannot read is refused before anything starts.
func TestCronRestartRefusesBadExpression(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.run("start", os.Args[0], "--name", "bad", "--cron-restart", "61 * * * *")
	if r.code != 2 || !strings.Contains(r.stderr, "--cron-restart") || !strings.Contains(r.stderr, "0 3 * * *") {
		t.Errorf("bad cron: %v", r)
	}
}
