package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"opm/daemon/testkit"
)

// rssFileKB is the daemon's resident file-backed memory (its mapped
// executable, mostly), from /proc/<pid>/status.
func rssFileKB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no RssFile in /proc status")
	return 0
}

// Requests map much of the daemon's binary; once it has been quiet for a
// moment it gives those pages back, and what `ps` shows of it falls to
// what an idle daemon runs. Its apps are untouched.
func TestIdleDaemonGivesBackCodePages(t *testing.T) {
	e := newEnv(t)
	var pids []int
	for i := range 10 {
		pids = append(pids, e.startApp(fmt.Sprintf("m%d", i), "block").PID)
	}
	e.list()
	pid := e.daemonStatus().PID
	busy := rssFileKB(t, pid)
	testkit.WaitFor(t, "the idle daemon's file-backed RSS to fall below half of "+strconv.Itoa(busy)+" kB", 30*time.Second, func() bool {
		return rssFileKB(t, pid) < busy/2
	})
	for _, p := range pids {
		if !testkit.Alive(p) {
			t.Fatalf("app process %d is gone", p)
		}
	}
	// And it works as before: the pages come back as they are run.
	if n := len(e.list()); n != 10 {
		t.Fatalf("list after the trim shows %d apps, want 10", n)
	}
}
