package main

import (
	"fmt"
	"testing"
	"time"

	"opm/daemon/testkit"
)

// Work on the daemon does not leak descriptors: after starting, listing,
// restarting, flushing and removing apps, it holds what it held before.
func TestDaemonNoFDLeak(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.list() // starts the daemon
	pid := e.daemonStatus().PID
	count := func() (int64, error) { n, err := testkit.FDs(pid); return int64(n), err }
	before := testkit.Settle(t, "the daemon's descriptors", count)
	for i := range 4 {
		e.startApp(fmt.Sprintf("fd%d", i), "block")
	}
	e.startApp("fdcrash", "exit1", "--max-restarts", "2")
	e.list()
	e.ok("restart", "all")
	e.ok("info", "all")
	e.ok("flush")
	e.ok("logs", "all", "--lines", "3")
	e.ok("stop", "all")
	e.ok("remove", "all")
	var after int64
	testkit.WaitFor(t, "the daemon's descriptors to come back down", 5*time.Second, func() bool {
		after, _ = count()
		return after <= before
	})
}
