package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/testkit"
)

// An app started with --wait-ready is launching until it says READY=1 on
// its NOTIFY_SOCKET (through go-systemd's sd_notify, as any sd_notify
// library would), and `opm start` returns once it has.
func TestWaitReadyUntilNotify(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok("daemon", "start")
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	start := exec.CommandContext(ctx, os.Args[0], "start", os.Args[0], "--name", "web", "--env", testkit.ChildEnv+"=notify-ready", "--wait-ready", "--listen-timeout", "60s")
	start.Env = e.environ
	if err := start.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- start.Wait() }()
	pid := e.waitLogPID("web", "waiting ", 1)
	a := e.waitApp("web", "the process running", 10*time.Second, func(a api.App) bool { return a.PID == pid })
	if a.Status != api.StatusLaunching {
		t.Errorf("before READY=1 the app is %s, want launching", a.Status)
	}
	select {
	case err := <-done:
		t.Fatalf("opm start returned before the app was ready: %v", err)
	default:
	}
	if err := syscall.Kill(pid, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("opm start: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("opm start did not return after READY=1")
	}
	if a := e.app("web"); a.Status != api.StatusOnline || a.PID != pid {
		t.Errorf("after READY=1: %s pid %d, want online pid %d", a.Status, a.PID, pid)
	}
	if !strings.Contains(e.daemonLog(), "event=ready app=web") {
		t.Error("daemon.log does not say the app is ready")
	}
	if out, _ := os.ReadFile(e.home + "/logs/web-out.log"); !strings.Contains(string(out), "notified true <nil>") {
		t.Errorf("the app's sd_notify did not reach a socket: %s", out)
	}
}

// An app that never says READY=1 is taken as online at its
// listen_timeout, with a warning; an app without --wait-ready gets no
// NOTIFY_SOCKET, not even one the caller had.
func TestWaitReadyTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.startApp("slow", "notify-ready", "--wait-ready", "--listen-timeout", "300ms")
	if a.Status != api.StatusOnline {
		t.Errorf("after listen_timeout: %s, want online", a.Status)
	}
	if !strings.Contains(e.daemonLog(), "event=ready-timeout app=slow") {
		t.Error("daemon.log does not say the app never said it was ready")
	}
	r := e.runWith([]string{"NOTIFY_SOCKET=/run/systemd/notify"}, "start", os.Args[0], "--name", "plain", "--env", testkit.ChildEnv+"=print-env")
	if r.code != 0 {
		t.Fatal(r)
	}
	testkit.WaitFor(t, "plain's environment in its log", 10*time.Second, func() bool {
		out, _ := os.ReadFile(e.home + "/logs/plain-out.log")
		return strings.Contains(string(out), "PATH=")
	})
	if out, _ := os.ReadFile(e.home + "/logs/plain-out.log"); strings.Contains(string(out), "NOTIFY_SOCKET") {
		t.Errorf("an app without --wait-ready got a NOTIFY_SOCKET:\n%s", out)
	}
}

// An app that says READY=1 as it starts — maybe before the daemon knows
// its pid — is online at once: opm start does not wait for its
// listen_timeout.
func TestWaitReadyAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := range 5 {
		name := "fast" + string(rune('a'+i))
		a := e.startApp(name, "notify-ready", "--env", testkit.ReadyNowEnv+"=1", "--wait-ready", "--listen-timeout", "1h")
		if a.Status != api.StatusOnline {
			t.Errorf("%s: %s, want online", name, a.Status)
		}
	}
	if strings.Contains(e.daemonLog(), "ready-timeout") {
		t.Error("an app that said READY=1 at once timed out")
	}
}
