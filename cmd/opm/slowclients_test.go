package main

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/testkit"
)

// Clients that connect and never finish a request cannot exhaust the
// daemon's descriptors: it serves a bounded number of connections at once
// and drops a client that takes too long to send its request; the user's
// own commands get through once the stragglers are dropped.
func TestSlowClientsCannotExhaustDescriptors(t *testing.T) {
	t.Parallel()
	const limit = 8
	e := newEnvConfig(t, fastConfig+"api_read_timeout = \"300ms\"\napi_max_connections = 8\n")
	e.startApp("web", "block")
	d := e.daemonStatus().PID
	testkit.WaitFor(t, "the daemon to close the test's own connections", 10*time.Second, func() bool {
		return testkit.Sockets(d) == 2 // its listener and the notify socket
	})
	base, err := testkit.FDs(d)
	if err != nil {
		t.Fatal(err)
	}

	sock := api.SocketPath(e.runtime)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 10 * limit {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		// Half a request, then nothing.
		if _, err := io.WriteString(c, "GET /v1/apps HTTP/1.1\r\nHost: opm\r\n"); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if n, _ := testkit.FDs(d); n > base+limit+2 {
			t.Fatalf("the daemon holds %d descriptors with %d stuck clients, %d before: no cap", n, len(conns), base)
		}
	}
	// Each stuck client is dropped after the read timeout.
	for i, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		b, _ := io.ReadAll(c)
		if len(b) > 0 && !strings.Contains(string(b), "408") && !strings.Contains(string(b), "400") {
			t.Fatalf("stuck client %d got %q", i, b)
		}
	}
	if r := e.ok("list"); !strings.Contains(r.stdout, "web") {
		t.Fatalf("list after the stuck clients: %v", r)
	}
}

// A command that gives up waiting for the daemon does not pretend the
// request failed: the daemon may still carry it out, and does.
func TestTimedOutRequestOutcomeUnknown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startApp("slow", "ignore-term", "--kill-timeout", "2s")
	e.waitLogPID("slow", "ignoring ", 1) // SIGTERM is ignored from now on
	r := e.runWith([]string{"OPM_TIMEOUT=200ms"}, "stop", "slow")
	if r.code != 1 || !strings.Contains(r.stderr, "outcome is unknown") || !strings.Contains(r.stderr, "opm list") {
		t.Fatalf("stop that outlives OPM_TIMEOUT: %v\nwant exit 1 saying the outcome is unknown", r)
	}
	e.waitStatus("slow", api.StatusStopped, 20*time.Second)

	if r := e.runWith([]string{"OPM_TIMEOUT=soon"}, "list"); r.code != 2 || !strings.Contains(r.stderr, "OPM_TIMEOUT") {
		t.Errorf("bad OPM_TIMEOUT: %v", r)
	}
}
