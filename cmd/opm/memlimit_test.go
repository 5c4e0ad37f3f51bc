package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/testkit"
)

// An app whose memory stays over --max-memory-restart is restarted (not
// stopped), with reason "memory limit" in info and daemon.log; an app
// under its limit, sampled as often, is left alone.
func TestMemoryLimitRestarts(t *testing.T) {
	t.Parallel()
	e := newEnvConfig(t, fastConfig+"memory_check_interval = \"50ms\"\n")
	hog := e.startApp("hog", "hog", "--env", testkit.HogMBEnv+"=64", "--max-memory-restart", "32M")
	e.startApp("calm", "hog", "--env", testkit.HogMBEnv+"=8", "--max-memory-restart", "200M")
	a := e.waitApp("hog", "two restarts for memory", 20*time.Second, func(a api.App) bool {
		return a.Restarts >= 2 && a.Status == api.StatusOnline
	})
	if a.PID == hog.PID || a.LastRestartReason != "memory limit" {
		t.Errorf("hog: pid %d (was %d), reason %q, want restarted for its memory", a.PID, hog.PID, a.LastRestartReason)
	}
	if c := e.app("calm"); c.Restarts != 0 {
		t.Errorf("an app under its limit was restarted %d times (%s)", c.Restarts, c.LastRestartReason)
	}
	log := e.daemonLog()
	if !strings.Contains(log, "event=memory-limit app=hog") || !strings.Contains(log, `reason="memory limit"`) {
		t.Errorf("daemon.log does not say why:\n%s", log)
	}
	if info := e.ok("info", "hog").stdout; !strings.Contains(info, "memory limit") || !strings.Contains(info, "32M") {
		t.Errorf("info does not show the limit:\n%s", info)
	}
}

// Sizes as PM2 writes them; anything else is refused with an example.
func TestMemoryLimitUnits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, bad := range []string{"200X", "-1M", "10"} {
		r := e.run("start", os.Args[0], "--name", "x", "--max-memory-restart", bad)
		if r.code != 2 || !strings.Contains(r.stderr, "--max-memory-restart") {
			t.Errorf("--max-memory-restart %s: %v", bad, r)
		}
	}
	a := e.startApp("web", "block", "--max-memory-restart", "1G")
	if a.Spec.MaxMemoryRestart != 1<<30 {
		t.Errorf("1G read as %d bytes", a.Spec.MaxMemoryRestart)
	}
}
