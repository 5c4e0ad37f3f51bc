package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The tests of another local user's attacks run that user as a throwaway
// account, and its part as a child mode of the test binary: a fake opm
// daemon that records every byte it is sent.

// userdbMu serialises this binary's useradd and userdel: both lock
// /etc/passwd and fail, rather than wait, while another holds it.
var userdbMu sync.Mutex

// intruder is a throwaway local user.
type intruder struct {
	name     string
	uid, gid int
}

// newIntruder creates a system user for this test and removes it when the
// test ends. It skips the test when that is not possible here.
func newIntruder(t *testing.T) intruder {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a throwaway user")
	}
	useradd, err := exec.LookPath("useradd")
	if err != nil {
		t.Skip("needs useradd to create a throwaway user")
	}
	userdel, err := exec.LookPath("userdel")
	if err != nil {
		t.Skip("needs userdel to remove a throwaway user")
	}
	// The test binary's pid in the name lets a later run tell a user
	// left by a killed run from one a running binary still uses.
	name := fmt.Sprintf("opmtest-%x-%s", os.Getpid(), randomHex(3))
	userdb(t, useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name)
	t.Cleanup(func() { userdb(t, userdel, name) })
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("look up the throwaway user: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return intruder{name: name, uid: uid, gid: gid}
}

// userdb runs useradd or userdel, again while the user database is locked
// by someone else (another test binary, a package manager).
func userdb(t *testing.T, tool string, args ...string) {
	t.Helper()
	userdbMu.Lock()
	defer userdbMu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	delay := 10 * time.Millisecond
	for {
		out, err := exec.Command(tool, args...).CombinedOutput()
		if err == nil {
			return
		}
		if !strings.Contains(string(out), "lock") || time.Now().After(deadline) {
			t.Fatalf("%s %s: %v: %s", filepath.Base(tool), strings.Join(args, " "), err, out)
		}
		time.Sleep(delay) // the lock's holder tells nobody when it is done
		delay = min(2*delay, 500*time.Millisecond)
	}
}

// fakeServer is a fake opm daemon run by an intruder.
type fakeServer struct {
	cmd *exec.Cmd
	out *bufio.Reader
	dir string
}

// startFakeServer runs, as the intruder, a fake daemon that creates dir
// (then sets its mode to mode), listens on dir/opm.sock, answers every
// request "200 {}" and records every byte it receives. exe is a copy of
// the test binary the intruder may run.
func startFakeServer(t *testing.T, exe string, in intruder, dir string, mode os.FileMode) *fakeServer {
	t.Helper()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Dir = "/"
	cmd.Env = []string{
		"PATH=/usr/bin:/bin",
		"GORACE=atexit_sleep_ms=0",
		"OPM_TEST_CHILD=fake-server",
		"OPM_TEST_FAKE_DIR=" + dir,
		fmt.Sprintf("OPM_TEST_FAKE_MODE=%o", mode),
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(in.uid), Gid: uint32(in.gid)}}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the fake server as %s: %v", in.name, err)
	}
	f := &fakeServer{cmd: cmd, out: bufio.NewReader(out), dir: dir}
	t.Cleanup(func() {
		if f.cmd.ProcessState == nil {
			_ = f.cmd.Process.Kill()
			_ = f.cmd.Wait()
		}
	})
	if l, err := f.out.ReadString('\n'); err != nil || !strings.HasPrefix(l, "listening") {
		t.Fatalf("fake server said %q, %v", l, err)
	}
	return f
}

// stop ends the fake server and returns what it received: how many
// connections, and every byte.
func (f *fakeServer) stop(t *testing.T) (conns int, got string) {
	t.Helper()
	if err := f.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	report, err := io.ReadAll(f.out)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.cmd.Wait(); err != nil {
		t.Fatalf("fake server: %v", err)
	}
	var n int
	if _, err := fmt.Sscanf(string(report), "received %d connections, %d bytes: %q", &conns, &n, &got); err != nil {
		t.Fatalf("fake server reported %q: %v", report, err)
	}
	return conns, got
}

// runFakeServer is the child mode fake-server (see startFakeServer). On
// SIGTERM it takes in whatever is still queued — connections not yet
// accepted, bytes not yet read — and prints
// "received <n> connections, <m> bytes: <quoted bytes>".
func runFakeServer() int {
	dir := os.Getenv("OPM_TEST_FAKE_DIR")
	mode, err := strconv.ParseUint(os.Getenv("OPM_TEST_FAKE_MODE"), 8, 32)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake server:", err)
		return 3
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		fmt.Fprintln(os.Stderr, "fake server:", err)
		return 3
	}
	if err := os.Chmod(dir, os.FileMode(mode)); err != nil {
		fmt.Fprintln(os.Stderr, "fake server:", err)
		return 3
	}
	sock := filepath.Join(dir, "opm.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake server:", err)
		return 3
	}
	_ = os.Chmod(sock, 0o777)
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)

	var rec recording
	var served sync.WaitGroup
	accepting := make(chan struct{})
	go func() {
		defer close(accepting)
		for {
			c, err := ln.AcceptUnix()
			if err != nil {
				return
			}
			rec.accepted(c)
			served.Go(func() { serveFake(c, &rec) })
		}
	}()
	fmt.Printf("listening %d\n", os.Getpid())
	<-term

	// Connections still in the backlog would be reset by Close, and their
	// bytes lost: take them in first.
	if raw, err := ln.SyscallConn(); err == nil {
		_ = raw.Control(func(fd uintptr) {
			for {
				nfd, _, err := unix.Accept4(int(fd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
				if err != nil {
					return
				}
				rec.accepted(nil)
				rec.drain(nfd)
				unix.Close(nfd)
			}
		})
	}
	ln.Close()
	<-accepting
	for _, c := range rec.open() {
		if raw, err := c.SyscallConn(); err == nil {
			_ = raw.Control(func(fd uintptr) { rec.drain(int(fd)) })
		}
		c.Close()
	}
	served.Wait()
	conns, got := rec.result()
	fmt.Printf("received %d connections, %d bytes: %q\n", conns, len(got), got)
	return 0
}

// serveFake answers every request on c with 200 and "{}", as a daemon
// that accepts everything would, recording the bytes read.
func serveFake(c *net.UnixConn, rec *recording) {
	br := bufio.NewReader(readerFunc(func(p []byte) (int, error) {
		n, err := c.Read(p)
		rec.add(p[:n])
		return n, err
	}))
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"); err != nil {
			return
		}
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// recording is what the fake server received.
type recording struct {
	mu    sync.Mutex
	conns []*net.UnixConn
	n     int
	got   []byte
}

func (r *recording) accepted(c *net.UnixConn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	if c != nil {
		r.conns = append(r.conns, c)
	}
}

func (r *recording) add(b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, b...)
}

// drain records what can be read from the non-blocking descriptor fd now.
func (r *recording) drain(fd int) {
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Read(fd, buf)
		if n <= 0 || err != nil {
			return
		}
		r.add(buf[:n])
	}
}

func (r *recording) open() []*net.UnixConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*net.UnixConn(nil), r.conns...)
}

func (r *recording) result() (int, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n, string(r.got)
}

// removeStaleIntruders removes the throwaway users of earlier runs of
// this test binary that were killed before their cleanups ran: those whose
// binary (its pid is in the name) is gone.
func removeStaleIntruders() {
	if os.Geteuid() != 0 {
		return
	}
	passwd, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(passwd), "\n") {
		name, _, _ := strings.Cut(line, ":")
		hexPid, _, ok := strings.Cut(strings.TrimPrefix(name, "opmtest-"), "-")
		pid, err := strconv.ParseInt(hexPid, 16, 32)
		if !ok || !strings.HasPrefix(name, "opmtest-") || err != nil || alive(int(pid)) {
			continue
		}
		_ = exec.Command("userdel", name).Run()
	}
}
