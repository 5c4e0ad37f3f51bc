package daemon

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"opm/daemon/api"
)

// spawnMain runs Main in a separate process, as `opm daemon run` does,
// and returns the command and the line it wrote on $OPM_READY_FD.
func spawnMain(t *testing.T, home, rt string) (*exec.Cmd, string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	logf, err := os.OpenFile(filepath.Join(home, "daemon.stderr"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "OPM_TEST_CHILD=daemon", "OPM_HOME="+home, "OPM_RUNTIME_DIR="+rt, "OPM_READY_FD=3")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	_ = r.SetReadDeadline(time.Now().Add(20 * time.Second))
	line, _ := bufio.NewReader(r).ReadString('\n')
	return cmd, strings.TrimSpace(line)
}

func TestMainReadinessIdleAndStop(t *testing.T) {
	home, rt := t.TempDir(), shortTempDir(t)
	if err := os.WriteFile(filepath.Join(home, ConfigName), []byte("restart_delay = \"10ms\"\nkill_timeout = \"2s\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, line := spawnMain(t, home, rt)
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		if t.Failed() {
			t.Logf("daemon.log:\n%s%s", readFile(t, filepath.Join(home, "daemon.log")), readFile(t, filepath.Join(home, "daemon.stderr")))
		}
	})
	if line != fmt.Sprintf("ready %d", cmd.Process.Pid) {
		t.Fatalf("readiness line %q, want \"ready %d\"", line, cmd.Process.Pid)
	}

	// A second daemon for the same home says "running" and exits 0.
	second, line2 := spawnMain(t, home, rt)
	if err := second.Wait(); err != nil || line2 != "running" {
		t.Fatalf("second daemon: line %q, exit %v", line2, err)
	}

	fi, err := os.Stat(api.SocketPath(rt))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, %v; want 0600", fi.Mode(), err)
	}

	cl := api.NewClient(api.SocketPath(rt))
	defer cl.CloseIdle()
	mark := fmt.Sprintf("opmtest-%d-main", os.Getpid())
	for i := range 3 {
		req := api.StartRequest{Command: os.Args[0], Name: "idle" + strconv.Itoa(i), Cwd: home,
			Env: append(os.Environ(), "OPM_TEST_CHILD=block", "OPM_TEST_MARK="+mark)}
		if err := cl.Do(context.Background(), http.MethodPost, api.PathApps, req, nil); err != nil {
			t.Fatal(err)
		}
	}
	cl.CloseIdle()

	// An idle daemon with apps makes no write syscalls and burns no CPU.
	// Measurement windows, not synchronisation: let the Go runtime finish
	// the work the starts left (GC, scavenger), then watch a quiet second.
	pid := cmd.Process.Pid
	time.Sleep(500 * time.Millisecond)
	w0, c0 := syscw(t, pid), cpuTicks(t, pid)
	time.Sleep(time.Second)
	w1, c1 := syscw(t, pid), cpuTicks(t, pid)
	t.Logf("idle daemon over 1s: %d write syscalls, %d CPU ticks", w1-w0, c1-c0)
	if w1 != w0 {
		t.Errorf("idle daemon made %d write syscalls", w1-w0)
	}
	if c1-c0 > 1 {
		t.Errorf("idle daemon used %d CPU ticks in 1s", c1-c0)
	}

	// Apps start with default signal dispositions: nothing the daemon
	// ignores leaks into them.
	var sigs api.App
	if err := cl.Do(context.Background(), http.MethodPost, api.PathApps, api.StartRequest{Command: "grep -e SigIgn -e SigBlk /proc/self/status", Name: "sigs", Cwd: home, Env: os.Environ(), Restart: api.RestartNever}, &sigs); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "sigs output", 5*time.Second, func() bool { return strings.Contains(readFile(t, sigs.Spec.OutLog), "SigIgn") })
	if got := strings.TrimSpace(readFile(t, sigs.Spec.OutLog)); got != "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000" {
		t.Errorf("an app started with blocked or ignored signals: %q", got)
	}

	var st api.DaemonStatus
	if err := cl.Do(context.Background(), http.MethodPost, api.PathStop, nil, &st); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("daemon exit: %v", err)
	}
	if n := len(markedProcs(mark)); n != 0 {
		t.Fatalf("%d apps left after the daemon stopped", n)
	}
	log := readFile(t, filepath.Join(home, "daemon.log"))
	if c := count(log, "event=started"); c != 4 {
		t.Errorf("daemon log has %d started lines, want 4", c)
	}
}

func TestMainReportsErrors(t *testing.T) {
	home, rt := t.TempDir(), shortTempDir(t)
	if err := os.WriteFile(filepath.Join(home, ConfigName), []byte("restart_delay = \"soon\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, line := spawnMain(t, home, rt)
	err := cmd.Wait()
	if !strings.HasPrefix(line, "error ") || !strings.Contains(line, ConfigName) || err == nil {
		t.Fatalf("line %q, exit %v; want an error line naming the config and exit 1", line, err)
	}
}

func syscw(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "syscw: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	t.Fatal("no syscw in /proc/<pid>/io")
	return 0
}

func cpuTicks(t *testing.T, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+2:]))
	u, _ := strconv.ParseUint(f[11], 10, 64)
	s, _ := strconv.ParseUint(f[12], 10, 64)
	return u + s
}

func TestOtherUserIsForbidden(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a client as another user")
	}
	d := startDaemon(t)
	// Let nobody reach the socket, so that the uid check is what refuses.
	bindir := shortTempDir(t)
	if err := os.Chmod(bindir, 0o755); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(bindir, "opmtest")
	copyFile(t, os.Args[0], exe)
	for _, p := range []string{d.rt} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(api.SocketPath(d.rt), 0o666); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = []string{"OPM_TEST_CHILD=peer-status", "OPM_TEST_OUT=" + api.SocketPath(d.rt)}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("client as nobody: %v: %s", err, out)
	}
	if !strings.HasPrefix(string(out), "403 ") || !strings.Contains(string(out), `"code":"forbidden"`) {
		t.Fatalf("nobody got %q, want 403 forbidden", out)
	}
	// Our own uid still gets in.
	if _, err := d.cl.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// The daemon is SIGKILLed with apps running; the next daemon adopts the
// same processes (which are no longer its children), starts nothing new,
// and restarts an adopted app that crashes, once.
func TestDaemonKilledAppsAdopted(t *testing.T) {
	home, rt := t.TempDir(), shortTempDir(t)
	if err := os.WriteFile(filepath.Join(home, ConfigName), []byte("restart_delay = \"10ms\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mark := fmt.Sprintf("opmtest-%d-killed", os.Getpid())
	var cmds []*exec.Cmd
	t.Cleanup(func() {
		for _, c := range cmds {
			if c.ProcessState == nil {
				_ = c.Process.Kill()
				_ = c.Wait()
			}
		}
		for _, pid := range markedProcs(mark) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if t.Failed() {
			t.Logf("daemon.log:\n%s", readFile(t, filepath.Join(home, "daemon.log")))
		}
	})
	d1, line := spawnMain(t, home, rt)
	cmds = append(cmds, d1)
	if !strings.HasPrefix(line, "ready") {
		t.Fatalf("readiness %q", line)
	}
	cl := api.NewClient(api.SocketPath(rt))
	defer cl.CloseIdle()
	pids := map[string]int{}
	for _, name := range []string{"a", "b"} {
		var app api.App
		req := api.StartRequest{Command: os.Args[0], Name: name, Cwd: home, Env: append(os.Environ(), "OPM_TEST_CHILD=block", "OPM_TEST_MARK="+mark)}
		if err := cl.Do(context.Background(), http.MethodPost, api.PathApps, req, &app); err != nil {
			t.Fatal(err)
		}
		pids[name] = app.PID
	}
	cl.CloseIdle()
	if err := d1.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = d1.Wait()

	d2, line := spawnMain(t, home, rt)
	cmds = append(cmds, d2)
	if !strings.HasPrefix(line, "ready") {
		t.Fatalf("readiness of the second daemon %q", line)
	}
	var apps []api.App
	if err := cl.Do(context.Background(), http.MethodGet, api.PathApps, nil, &apps); err != nil {
		t.Fatal(err)
	}
	for _, a := range apps {
		if a.Status != api.StatusOnline || a.PID != pids[a.Name] {
			t.Errorf("app %s: %s pid %d, want online with pid %d", a.Name, a.Status, a.PID, pids[a.Name])
		}
	}
	if n := len(markedProcs(mark)); n != 2 {
		t.Fatalf("%d app processes after takeover, want 2", n)
	}
	if err := syscall.Kill(pids["a"], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a restarted", 10*time.Second, func() bool {
		var got []api.App
		err := cl.Do(context.Background(), http.MethodGet, api.TargetPath("a"), nil, &got)
		return err == nil && got[0].Status == api.StatusOnline && got[0].PID != pids["a"] && got[0].Restarts == 1
	})
	if n := len(markedProcs(mark)); n != 2 {
		t.Fatalf("%d app processes after the restart, want 2", n)
	}
	if err := cl.Do(context.Background(), http.MethodPost, api.PathStop, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := d2.Wait(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "apps to stop", 10*time.Second, func() bool { return len(markedProcs(mark)) == 0 })
}
