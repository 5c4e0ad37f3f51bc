package main

import (
	"fmt"
	"testing"
	"time"
)

// quietWindow is how long an idle daemon is watched. Sleeping here is the
// measurement itself, not a synchronisation.
const quietWindow = 700 * time.Millisecond

// An idle daemon with running apps makes no write syscalls at all.
func TestIdleDaemonWritesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := range 3 {
		e.startApp(fmt.Sprintf("idle%d", i), "block")
	}
	e.list()
	pid := e.daemonStatus().PID
	// Let the last request's connection close down before measuring.
	time.Sleep(100 * time.Millisecond)
	before, err := procIO(pid, "syscw")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(quietWindow)
	after, err := procIO(pid, "syscw")
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("idle daemon made %d write syscalls in %s", after-before, quietWindow)
	}
	t.Logf("syscw %d -> %d over %s", before, after, quietWindow)
}

// Work on the daemon does not leak descriptors: after starting, listing,
// restarting, flushing and removing apps, it holds what it held before.
func TestDaemonNoFDLeak(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok("daemon", "start")
	pid := e.daemonStatus().PID
	before, err := fdCount(pid)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 1 {
		for i := range 4 {
			e.startApp(fmt.Sprintf("fd%d-%d", round, i), "block")
		}
		e.startApp(fmt.Sprintf("fdcrash%d", round), "exit1", "--max-restarts", "2")
		e.list()
		e.ok("restart", "all")
		e.ok("info", "all")
		e.ok("flush")
		e.ok("logs", "all", "--lines", "3")
		e.ok("stop", "all")
		e.ok("remove", "all")
	}
	var after int
	e.waitFor("the daemon's descriptors to settle", 5*time.Second, func() bool {
		after, err = fdCount(pid)
		return err == nil && after <= before
	})
	t.Logf("daemon fds: %d before, %d after", before, after)
}
