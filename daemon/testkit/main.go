package testkit

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// RoleEnv names the suite's own part a re-executed test binary plays:
// the opm command in cmd/opm's tests, the daemon in package daemon's.
const RoleEnv = "OPM_TEST_ROLE"

// Main is the TestMain of a suite whose test binary also plays the
// processes its tests need. With OPM_TEST_CHILD set it plays that child
// mode; with OPM_TEST_ROLE set it runs role, the suite's own part (nil
// when the suite has none); otherwise it runs the tests. It does not
// return.
//
// Every process it starts inherits GORACE=atexit_sleep_ms=0: a binary
// built with the race detector otherwise sleeps 1 s at exit, and every
// child here is one.
func Main(m *testing.M, role func() int) {
	if code, ok := RunChild(); ok {
		os.Exit(code)
	}
	if os.Getenv(RoleEnv) != "" && role != nil {
		os.Exit(role())
	}
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	removeStaleIntruders()
	startPoller()
	dir, err := copyExecutable()
	if dir != "" {
		defer os.RemoveAll(dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "copy the test binary:", err)
		return 1
	}
	return m.Run()
}

// startPoller makes the Go runtime open its poller's descriptors (epoll,
// its wake-up eventfd) before any test counts this process's
// descriptors: otherwise the first test to use a socket or a pipe sees
// them appear and reports them as a leak.
func startPoller() {
	if r, w, err := os.Pipe(); err == nil {
		r.Close()
		w.Close()
	}
}
