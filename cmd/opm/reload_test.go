package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/testkit"
)

// migrateRequests turns net.ipv4.tcp_migrate_req on for the test (and
// back as it was after); it skips the test where that is not possible.
func migrateRequests(t *testing.T) {
	t.Helper()
	const p = "/proc/sys/net/ipv4/tcp_migrate_req"
	old, err := os.ReadFile(p)
	if err != nil {
		t.Skipf("no %s (Linux 5.14 or later): the kernel resets connections queued on a closing listener", p)
	}
	if strings.TrimSpace(string(old)) == "1" {
		return
	}
	if err := os.WriteFile(p, []byte("1"), 0o644); err != nil {
		t.Skipf("cannot turn on %s (needs root): %v", p, err)
	}
	t.Cleanup(func() { _ = os.WriteFile(p, old, 0o644) })
}

// freePort is a loopback port nobody listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// An HTTP app reloaded 20 times answers every request meanwhile: each
// reload starts the new process beside the old one, waits for its
// READY=1, then stops the old one; when reload returns, one process runs.
func TestReloadKeepsServing(t *testing.T) {
	t.Parallel()
	// Two processes listening with SO_REUSEPORT share the port; when the
	// old one closes its listener, the connections queued on it are
	// reset unless the kernel migrates them to the new one
	// (net.ipv4.tcp_migrate_req, Linux 5.14): what a user who reloads a
	// server this way sets too.
	migrateRequests(t)
	e := newEnv(t)
	port := freePort(t)
	first := e.startApp("web", "http-serve", "--wait-ready", "--env", fmt.Sprintf("%s=%d", testkit.PortEnv, port), "--", e.appMark("web"))
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	requests, pids := 0, map[int]bool{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			resp, err := client.Get(url)
			mu.Lock()
			requests++
			if err != nil {
				failures = append(failures, err.Error())
			} else {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if pid, err := strconv.Atoi(string(b)); err == nil {
					pids[pid] = true
				} else {
					failures = append(failures, fmt.Sprintf("answer %q", b))
				}
			}
			mu.Unlock()
		}
	}()
	prev := first.PID
	for i := range 20 {
		e.ok("reload", "web")
		a := e.app("web")
		if a.Status != api.StatusOnline || a.PID == prev {
			t.Fatalf("reload %d: %s pid %d (was %d)", i, a.Status, a.PID, prev)
		}
		if n := e.running("web"); n != 1 {
			t.Fatalf("reload %d returned with %d processes of the app, want 1", i, n)
		}
		prev = a.PID
	}
	close(stop)
	wg.Wait()
	if len(failures) > 0 {
		t.Errorf("%d of %d requests failed during the reloads: %q", len(failures), requests, failures)
	}
	if len(pids) < 10 {
		t.Errorf("answers came from %d processes over 20 reloads", len(pids))
	}
	if a := e.app("web"); a.Restarts != 20 {
		t.Errorf("%d restarts after 20 reloads", a.Restarts)
	}
}

// A reload whose new process never says READY=1 keeps the old one: the
// new one is killed at its listen_timeout and reload says so. An app
// without wait_ready is reloaded once its new process runs.
func TestReloadFailureKeepsOld(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	old := e.startApp("mute", "notify-ready", "--env", testkit.ReadyNowEnv+"=1", "--wait-ready", "--listen-timeout", "400ms", "--", e.appMark("mute"))
	// From now on its new processes do not say READY=1.
	e.ok("start", "mute", "--env", testkit.ReadyNowEnv+"=")
	old = e.app("mute")
	r := e.run("reload", "mute")
	if r.code != 1 || !strings.Contains(r.stderr, "READY=1") || !strings.Contains(r.stderr, "keeps running") {
		t.Errorf("reload with a new process never ready: %v", r)
	}
	if a := e.app("mute"); a.PID != old.PID || a.Status != api.StatusOnline {
		t.Errorf("after the failed reload: %s pid %d, want the old pid %d online", a.Status, a.PID, old.PID)
	}
	if n := e.running("mute"); n != 1 {
		t.Errorf("%d processes after the failed reload", n)
	}

	e.startMarked("plain")
	before := e.app("plain")
	e.ok("reload", "plain")
	if a := e.app("plain"); a.PID == before.PID || e.running("plain") != 1 {
		t.Errorf("reload without wait_ready: pid %d (was %d), %d processes", a.PID, before.PID, e.running("plain"))
	}
}

// A daemon killed in the middle of a reload (two processes of the app
// running) leaves exactly one after the next daemon takes over: the
// record names the new spawn, and the old process, holding an older
// spawn's token, is killed as a leftover.
func TestReloadInterruptedByDaemonKill(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startApp("web", "notify-ready", "--env", testkit.ReadyNowEnv+"=1", "--wait-ready", "--listen-timeout", "60s", "--", e.appMark("web"))
	// Its next processes wait for SIGUSR1 before READY=1.
	bg := func(args ...string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = e.environ
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	update := bg("start", "web", "--env", testkit.ReadyNowEnv+"=")
	second := e.waitLogPID("web", "waiting ", 2)
	if err := syscall.Kill(second, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	if err := update.Wait(); err != nil {
		t.Fatalf("update: %v", err)
	}
	reload := bg("reload", "web")
	third := e.waitLogPID("web", "waiting ", 3)
	if n := e.running("web"); n != 2 {
		t.Fatalf("%d processes while reloading, want the old and the new", n)
	}
	e.killDaemon()
	_ = reload.Wait() // its daemon died: it fails, whatever it says
	e.ok("list")      // a new daemon takes over
	testkit.WaitFor(t, "one process of the app", 10*time.Second, func() bool { return e.running("web") == 1 })
	if a := e.app("web"); a.PID != third || a.Status != api.StatusOnline {
		t.Errorf("after the takeover: %s pid %d, want the new process %d", a.Status, a.PID, third)
	}
}
