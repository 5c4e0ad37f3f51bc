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
	e.client().CloseIdle()
	// The window starts once the work just asked for has been written
	// (log lines, replies): two readings 100 ms apart agree.
	before := settle(t, "the daemon's write count", func() (int64, error) { return procIO(pid, "syscw") })
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
	count := func() (int64, error) { n, err := fdCount(pid); return int64(n), err }
	e.client().CloseIdle()
	before := settle(t, "the daemon's descriptors", count)
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
	e.client().CloseIdle()
	var after int64
	e.waitFor("the daemon's descriptors to come back down", 5*time.Second, func() bool {
		after, _ = count()
		return after <= before
	})
	t.Logf("daemon fds: %d before, %d after", before, after)
}

// settle reads a counter until two readings 100 ms apart agree, and
// returns it. It fails the test when the counter keeps moving for 10 s.
func settle(t *testing.T, what string, read func() (int64, error)) int64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	prev, err := read()
	for {
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		cur, err2 := read()
		if err2 == nil && cur == prev {
			return cur
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s keeps changing: %d -> %d", what, prev, cur)
		}
		prev, err = cur, err2
	}
}
