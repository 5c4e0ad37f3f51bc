package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/proc"
	"opm/daemon/testkit"
)

// rssFileKB is the daemon's resident file-backed memory (its mapped
// executable, mostly), from /proc/<pid>/status.
func rssFileKB(t *testing.T, pid int) int {
	t.Helper()
	u, err := proc.ReadUsage(pid)
	if err != nil {
		t.Fatal(err)
	}
	return int(u.RSSFile >> 10)
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

// A position-independent build (as distributions build Go programs) has
// data the loader relocated and then made read-only: the trim must leave
// those pages alone, or the daemon crashes at its first trim. It trims,
// and it lives.
func TestIdleTrimPIE(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("the go command is needed to build a PIE opm: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "opm-pie")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, gobin, "build", "-buildmode=pie", "-tags", buildTags, "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -buildmode=pie: %v\n%s", err, out)
	}
	home, rt := t.TempDir(), filepath.Join("/dev/shm", "opm-pie-"+strconv.Itoa(os.Getpid()))
	t.Cleanup(func() { os.RemoveAll(rt) })
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(os.Environ(), "OPM_HOME="+home, "OPM_RUNTIME_DIR="+rt)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("opm %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run("start", "sleep", "--name", "pie", "--", "3600")
	t.Cleanup(func() {
		cmd := exec.Command(bin, "daemon", "stop")
		cmd.Env = append(os.Environ(), "OPM_HOME="+home, "OPM_RUNTIME_DIR="+rt)
		cmd.Run()
	})
	var st api.DaemonStatus
	if err := json.Unmarshal([]byte(run("daemon", "status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	busy := rssFileKB(t, st.PID)
	testkit.WaitFor(t, "the PIE daemon to trim its code pages", 30*time.Second, func() bool {
		if !testkit.Alive(st.PID) {
			t.Fatal("the PIE daemon died at its trim")
		}
		return rssFileKB(t, st.PID) < busy/2
	})
	if !testkit.Alive(st.PID) {
		t.Fatal("the PIE daemon died at its trim")
	}
	if out := run("list"); !strings.Contains(out, "pie") {
		t.Fatalf("list after the trim:\n%s", out)
	}
}
