package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// floorArg, as the first argument, makes the harness binary a bare
// supervisor: one goroutine per app that starts it with os/exec, waits
// for it to exit and starts it again at once, forever. It waits on a
// pidfd in the runtime's poller rather than in a blocking wait(2), so it
// needs no thread per app. Scenarios 2 and 3 time it exactly like opm and
// PM2: it is the floor this machine puts under any supervisor written in
// Go (fork, exec, wake-up on exit), without an API, a table, logs or a
// restore flag.
const floorArg = "__bare-supervisor"

// bareSupervise runs `<n> <sleep> <tag>` and never returns; SIGTERM
// ends it (the sandbox kills the apps).
func bareSupervise(args []string) {
	if len(args) != 3 {
		fmt.Fprintln(os.Stderr, "bare supervisor: want <apps> <sleep> <tag>")
		os.Exit(2)
	}
	n, err := strconv.Atoi(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bare supervisor:", err)
		os.Exit(2)
	}
	w := workload{Sleep: args[1], Tag: args[2]}
	for i := range n {
		go func() {
			for {
				cmd := exec.Command(w.Sleep, w.args(i)...)
				cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
				if err := cmd.Start(); err != nil {
					fmt.Fprintln(os.Stderr, "bare supervisor:", err)
					os.Exit(1)
				}
				if err := waitPidfd(cmd.Process.Pid); err != nil {
					fmt.Fprintln(os.Stderr, "bare supervisor:", err)
					os.Exit(1)
				}
				cmd.Process.Release()
			}
		}()
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)
	<-term
	os.Exit(0)
}

// waitPidfd parks until child pid exits and reaps it.
func waitPidfd(pid int) error {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return fmt.Errorf("pidfd_open: %w", err)
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var werr error
	err = rc.Read(func(fd uintptr) bool {
		var info unix.Siginfo
		werr = unix.Waitid(unix.P_PIDFD, int(fd), &info, unix.WEXITED|unix.WNOHANG, nil)
		return werr != nil || info.Signo != 0
	})
	return errors.Join(err, werr)
}

// bareRun is a running floor process (the bare supervisor, the
// posix_spawn loop) in its own sandbox.
type bareRun struct {
	sb    *sandbox
	pid   int
	start time.Time
	stop  func() error
	// done is closed when the floor process has exited; its stderr is in
	// outs until stop.
	done chan struct{}
	outs *outFiles
}

// startBare starts a bare supervisor of n apps.
func startBare(ctx context.Context, n int) (*bareRun, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return startFloor(ctx, func(sb *sandbox) []string {
		return []string{self, floorArg, strconv.Itoa(n), sb.w.Sleep, sb.w.Tag}
	})
}

// startFloor starts, in a new sandbox, the floor process argv(sb) returns
// (it starts the sandbox's apps) and notes when it was started. stop
// sends it SIGTERM, waits for it, kills what is left of the sandbox and
// removes it.
func startFloor(ctx context.Context, argv func(sb *sandbox) []string) (*bareRun, error) {
	sb, err := newSandbox("OPM_HOME", "")
	if err != nil {
		return nil, err
	}
	cmd, outs, err := sb.command(ctx, time.Hour, argv(sb))
	if err != nil {
		sb.remove()
		return nil, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		outs.close()
		sb.remove()
		return nil, err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	stop := func() error {
		cmd.Process.Signal(syscall.SIGTERM)
		<-done
		outs.close()
		return errors.Join(sb.killAll(10*time.Second), sb.remove())
	}
	return &bareRun{sb: sb, pid: cmd.Process.Pid, start: start, stop: stop, done: done, outs: outs}, nil
}

// waitApps polls /proc until apps 0..n-1 all run and returns the time
// since the floor process started.
func (r *bareRun) waitApps(ctx context.Context, n int) (time.Duration, error) {
	var d time.Duration
	err := poll(ctx, onlineTimeout(n), 2*time.Millisecond, func() (bool, error) {
		c, err := scanApps(r.sb.w)
		if err != nil || !c.complete(n) {
			if err == nil {
				err = r.exited()
			}
			return false, err
		}
		d = time.Since(r.start)
		return true, nil
	})
	if err != nil {
		return 0, fmt.Errorf("floor: wait for %d apps: %w", n, err)
	}
	return d, nil
}

// exited returns an error, with the floor process's stderr, once it has
// exited: it was to run until stopped.
func (r *bareRun) exited() error {
	select {
	case <-r.done:
	default:
		return nil
	}
	_, stderr := r.outs.read()
	msg := strings.TrimSpace(string(stderr))
	if len(msg) > 400 {
		msg = "..." + msg[len(msg)-400:]
	}
	return fmt.Errorf("the floor process exited early: %s", msg)
}
