package main

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// notifyListener is a service manager's notify socket, as systemd gives
// a Type=notify service in $NOTIFY_SOCKET: a datagram socket that
// collects the messages sent to it.
type notifyListener struct {
	path string
	conn *net.UnixConn
	msgs chan string
}

func listenNotify(t *testing.T) *notifyListener {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	l := &notifyListener{path: path, conn: conn, msgs: make(chan string, 64)}
	go func() {
		defer close(l.msgs)
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			l.msgs <- string(buf[:n])
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return l
}

// next returns the next message that contains want, failing the test if
// none comes within d; the messages before it are returned too.
func (l *notifyListener) next(t *testing.T, want string, d time.Duration) (string, []string) {
	t.Helper()
	var skipped []string
	deadline := time.After(d)
	for {
		select {
		case m, ok := <-l.msgs:
			if !ok {
				t.Fatalf("notify socket closed before %q came (got %q)", want, skipped)
			}
			if strings.Contains(m, want) {
				return m, skipped
			}
			skipped = append(skipped, m)
		case <-deadline:
			t.Fatalf("no %q on the notify socket within %s (got %q)", want, d, skipped)
		}
	}
}

// The daemon as a systemd Type=notify service (what `opm startup`
// writes): `opm daemon run --restore` restores the saved apps — exactly
// once, while `opm restore` runs at the same moment — and only then says
// READY=1; it pings the watchdog when the unit asks for one; it refuses
// `opm daemon stop` and `restart`, the service manager's to do; SIGTERM
// makes it say STOPPING=1, stop every app and exit 0.
func TestDaemonNotifiesServiceManager(t *testing.T) {
	e := newEnv(t)
	names := e.savedApps(3)
	e.freshContainer(names)
	l := listenNotify(t)

	r := startRun(t, append(slices.Clone(e.environ), "NOTIFY_SOCKET="+l.path, "WATCHDOG_USEC=200000", "OPM_SERVICE=opm-test.service"),
		os.Args[0], "daemon", "run", "--restore")
	// Restores race the daemon's own restore on start.
	results := make(chan []result, 1)
	go func() { results <- e.runAll([][]string{{"restore"}, {"restore"}, {"list", "--json"}}) }()

	ready, before := l.next(t, "READY=1", 30*time.Second)
	// READY=1 comes once the restore on start is done: every app runs.
	for _, n := range names {
		if c := e.running(n); c != 1 {
			t.Fatalf("READY=1 (%q, after %q) came while %s has %d processes, want its restore done first", ready, before, n, c)
		}
	}
	for i, r := range <-results {
		if r.code != 0 {
			t.Fatalf("command %d beside the restore on start: %v", i, r)
		}
	}
	e.checkExactlyOnce(names, "after the restore on start and concurrent restores")
	if !strings.Contains(e.daemonLog(), "event=restore-on-start") {
		t.Errorf("daemon.log does not tell of the restore on start:\n%s", e.daemonLog())
	}
	l.next(t, "WATCHDOG=1", 10*time.Second)
	l.next(t, "WATCHDOG=1", 10*time.Second)
	// Stopping or restarting it is its service manager's job.
	for _, c := range []struct{ cmd, want string }{{"stop", "systemctl stop opm-test.service"}, {"restart", "systemctl restart opm-test.service"}} {
		if r := e.run("daemon", c.cmd); r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("opm daemon %s under a service manager: %v; want it refused, pointing to %s", c.cmd, r, c.want)
		}
	}
	e.checkExactlyOnce(names, "after the refused stop and restart")

	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	l.next(t, "STOPPING=1", 10*time.Second)
	if code := r.wait(30 * time.Second); code != 0 {
		t.Fatalf("daemon after SIGTERM: exit %d: %v", code, r)
	}
	for _, n := range names {
		if c := e.running(n); c != 0 {
			t.Errorf("after the daemon's SIGTERM %s still has %d processes", n, c)
		}
	}
}

// Without a dump, a restore on start is no work: READY=1 all the same,
// and daemon.log says there was nothing to restore.
func TestRestoreOnStartWithoutDump(t *testing.T) {
	e := newEnvConfig(t, fastConfig+"\nrestore_on_start = true\n")
	l := listenNotify(t)
	r := startRun(t, append(slices.Clone(e.environ), "NOTIFY_SOCKET="+l.path), os.Args[0], "daemon", "run")
	l.next(t, "READY=1", 30*time.Second)
	if log := e.daemonLog(); !strings.Contains(log, "no saved apps to restore on start") {
		t.Errorf("daemon.log does not say there was nothing to restore:\n%s", log)
	}
	if code := r.terminate(r.cmd.Process.Pid); code != 0 {
		t.Fatalf("daemon after SIGTERM: exit %d: %v", code, r)
	}
}

// A daemon a command started (an `opm list` at boot, before the unit's)
// holds the lock when the unit's daemon starts: the unit's asks it to hand
// over, runs in its place and adopts its apps — each still the same,
// single process — then says READY=1.
func TestServiceDaemonTakesOver(t *testing.T) {
	e := newEnv(t)
	names := e.savedApps(2)
	pids := map[string]int{}
	for _, n := range names {
		pids[n] = e.app(n).PID
	}
	old := e.daemonStatus().PID
	l := listenNotify(t)
	r := startRun(t, append(slices.Clone(e.environ), "NOTIFY_SOCKET="+l.path, "OPM_SERVICE=opm-test.service"), os.Args[0], "daemon", "run", "--restore")
	l.next(t, "READY=1", 30*time.Second)
	if st := e.daemonStatus(); st.PID != r.cmd.Process.Pid {
		t.Fatalf("after READY=1 the daemon is pid %d, want the service's %d (the old one was %d)", st.PID, r.cmd.Process.Pid, old)
	}
	e.checkExactlyOnce(names, "after the service's daemon took over")
	for _, n := range names {
		if a := e.app(n); a.PID != pids[n] || a.Status != "online" {
			t.Errorf("%s after the takeover: pid %d, %s; want the same pid %d, online (adopted)", n, a.PID, a.Status, pids[n])
		}
	}
	if !strings.Contains(e.daemonLog(), "event=service-takeover") {
		t.Errorf("daemon.log does not tell of the takeover:\n%s", e.daemonLog())
	}
	if code := r.terminate(r.cmd.Process.Pid); code != 0 {
		t.Fatalf("the service's daemon after SIGTERM: exit %d: %v", code, r)
	}
}
