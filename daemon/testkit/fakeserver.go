package testkit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"opm/daemon/api"
)

// dirModeEnv is the mode the fake server gives the directory it makes.
const dirModeEnv = "OPM_TEST_DIR_MODE"

// FakeServer is a fake opm daemon run by another local user: it answers
// every request "200 {}" and records every byte it receives.
type FakeServer struct{ c *Child }

// StartFakeServer runs, as the intruder in, a fake daemon that creates
// dir (then gives it mode), listens on dir/opm.sock, and records what it
// is sent. It runs the shared copy of the test binary (exe.go).
func StartFakeServer(t testing.TB, in Intruder, dir string, mode os.FileMode) *FakeServer {
	t.Helper()
	c := Command("fake-server", []string{
		"PATH=/usr/bin:/bin",
		DirEnv + "=" + dir,
		fmt.Sprintf("%s=%o", dirModeEnv, mode),
	})
	c.Cmd.Path = SharedExe(t)
	c.Cmd.Dir = "/"
	c.Cmd.SysProcAttr = in.As()
	c.Start(t).Expect("listening")
	return &FakeServer{c}
}

// Stop ends the fake server and returns what it received: how many
// connections, and every byte.
func (f *FakeServer) Stop(t testing.TB) (conns int, got string) {
	t.Helper()
	if err := f.c.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	report := f.c.Rest()
	if code := f.c.Wait(); code != 0 {
		t.Fatalf("fake server exited %d", code)
	}
	var n int
	if _, err := fmt.Sscanf(report, "received %d connections, %d bytes: %q", &conns, &n, &got); err != nil {
		t.Fatalf("fake server reported %q: %v", report, err)
	}
	return conns, got
}

// fakeServer is the mode fake-server (see StartFakeServer). On SIGTERM
// it takes in whatever is still queued — connections not yet accepted,
// bytes not yet read — and prints
// "received <n> connections, <m> bytes: <quoted bytes>".
func fakeServer() int {
	dir := os.Getenv(DirEnv)
	mode, err := strconv.ParseUint(os.Getenv(dirModeEnv), 8, 32)
	if err != nil {
		return fail(err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fail(err)
	}
	if err := os.Chmod(dir, os.FileMode(mode)); err != nil {
		return fail(err)
	}
	sock := api.SocketPath(dir)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return fail(err)
	}
	_ = os.Chmod(sock, 0o777)
	term := notify(syscall.SIGTERM)

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
