package process

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"opm/daemon/api"
	"opm/daemon/cgroup"
	"opm/daemon/proc"
)

// process is a running app process the supervisor can watch and signal.
type Process interface {
	Pid() int
	// StartTicks is the process start time (clock ticks since boot).
	StartTicks() uint64
	// Wait blocks until the process has exited.
	Wait() ExitStatus
}

// ExitStatus is how a process ended.
type ExitStatus struct {
	// Code is the exit code, -1 when killed by a signal or unknown.
	Code   int
	Signal syscall.Signal
	// Known is false for adopted processes, whose status only their
	// parent could read.
	Known bool
}

func (e ExitStatus) Success() bool { return e.Known && e.Code == 0 }

func (e ExitStatus) String() string {
	switch {
	case !e.Known:
		return "unknown status (adopted process)"
	case e.Signal != 0:
		return "signal " + e.Signal.String()
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

// Spawner starts an app's process in cgroup cg ("" for none), sparing the
// leaf keep of it (a reload's old process; "" for none); tests replace
// it.
type Spawner func(spec api.Spec, cg, keep string) (Process, error)

// Child is a process the daemon started and therefore reaps: it waits
// on the child's pidfd (from the fork, or from pidfd_open right after
// it), in the runtime poller, then reads the exit status with a
// non-blocking wait4; without pidfds (pidfd.go), in a blocking wait4.
type Child struct {
	pid   int
	start uint64
	// fd is the pidfd the poller watches; nil without pidfds.
	fd *os.File
	// cgroup is the cgroup it was cloned into ("" for none).
	cgroup string
}

// Cgroup is the cgroup the process was cloned into ("" for none).
func (c *Child) Cgroup() string { return c.cgroup }

func (c *Child) Pid() int           { return c.pid }
func (c *Child) StartTicks() uint64 { return c.start }

func (c *Child) Wait() ExitStatus {
	if c.fd != nil {
		defer c.fd.Close()
	}
	// Reaped (or nothing left to wait for): a reaper may have the pid.
	defer disown(c.pid)
	if c.fd == nil {
		return waitBlocking(c.pid)
	}
	st := ExitStatus{Code: -1}
	awaitExit(c.fd, func(fd int) bool {
		var ws syscall.WaitStatus
		pid, err := wait4(c.pid, &ws, syscall.WNOHANG)
		if err == nil && pid == 0 {
			if !pidfdReadable(fd) {
				return false // still running: park until the pidfd fires
			}
			// Exited but not yet waitable (never seen): the zombie is
			// there, so a blocking wait returns at once.
			pid, err = wait4(c.pid, &ws, 0)
		}
		if err != nil || pid != c.pid {
			return true // unknown status; nothing left to wait for
		}
		st = statusOf(ws)
		return true
	})
	return st
}

func wait4(pid int, ws *syscall.WaitStatus, opts int) (int, error) {
	for {
		got, err := syscall.Wait4(pid, ws, opts, nil)
		if err != syscall.EINTR {
			return got, err
		}
	}
}

func statusOf(ws syscall.WaitStatus) ExitStatus {
	if ws.Signaled() {
		return ExitStatus{Code: -1, Signal: ws.Signal(), Known: true}
	}
	return ExitStatus{Code: ws.ExitStatus(), Known: true}
}

// Output gives the descriptors an app's stdout and stderr get (the
// caller closes them): its log spools (package logs).
type Output func(spec api.Spec) (out, err int, e error)

// New starts spec in its own session with stdin on /dev/null and
// stdout/stderr on what output gives: files the app appends to, which stay
// open in the app, never block it and never raise SIGPIPE when the daemon
// goes away. The fork also returns a pidfd, which the watch uses; where
// the kernel cannot do that, the pidfd is opened right after the fork, or
// the child is waited for without one (pidfd.go), said once in the
// daemon log.
// With a cgroup the process is cloned straight into it; where the kernel
// cannot do that, it starts outside, as without cgroups, and says so in
// the daemon log.
func New(devNull *os.File, output Output, cgroups *cgroup.Tree, log *slog.Logger) Spawner {
	null := devNull.Fd()
	return func(spec api.Spec, cg, keep string) (Process, error) {
		out, errf, err := output(spec)
		if err != nil {
			return nil, err
		}
		defer unix.Close(out)
		defer unix.Close(errf)
		sys := &syscall.SysProcAttr{Setsid: true}
		if cg != "" {
			fd, leaf, err := cgroups.Enter(cg, keep)
			if keep != "" && err == nil {
				// Beside a reload's old process: this process's
				// cgroup is its own leaf, so that stopping one
				// never stops the other.
				cg = leaf
			}
			if err != nil {
				log.Warn("starting app outside its cg: a grandchild that calls setsid escapes stop", "event", "cg-failed", "app", spec.Name, "error", err)
				cg = ""
			} else {
				defer unix.Close(fd)
				sys.UseCgroupFD, sys.CgroupFD = true, fd
			}
		}
		attr := &syscall.ProcAttr{
			Dir:   spec.Cwd,
			Env:   spec.Env,
			Files: []uintptr{null, uintptr(out), uintptr(errf)},
			Sys:   sys,
		}
		// The child is registered as this spawner's before a reaper
		// (reap.go) can look at it: Child.Wait reaps it.
		release := holdForks()
		f, inCg := fork(spec, attr, log)
		if f.err == nil {
			own(f.pid)
		}
		release()
		if f.err != nil {
			return nil, fmt.Errorf("start %s: %w", spec.Exec, f.err)
		}
		pid := f.pid
		if !inCg {
			cg = ""
		}
		w, err := watch(pid, f.pidfd, log)
		if err != nil {
			// Without a watch the child would go unsupervised.
			_ = KillGroup(pid, syscall.SIGKILL)
			_ = cgroups.Kill(cg)
			var ws syscall.WaitStatus
			_, _ = wait4(pid, &ws, 0)
			disown(pid)
			return nil, fmt.Errorf("start %s: watch its pidfd: %w", spec.Exec, err)
		}
		start, err := proc.StartTime(pid)
		if err != nil {
			// The child is ours and unreaped, so /proc/<pid> exists
			// even if it already exited; this is not expected.
			start = 0
		}
		return &Child{pid: pid, start: start, fd: w, cgroup: cg}, nil
	}
}

// pidfdUnset is what the pidfd variable of a fork holds before it.
// syscall.ForkExec writes it only once clone has made a child: the
// child's pidfd, or -1 where the kernel gave none; and when the child
// then fails (its exec, its chdir ...), reported through ForkExec's
// pipe, ForkExec closes that pidfd and writes -1. So after a failed
// ForkExec, pidfdUnset still there means that no child was made (the
// clone failed, or ForkExec before it), and -1 that the child's exec
// failed — ENOENT, EACCES, ENOEXEC, or EINVAL for a bad ELF file, never
// a kernel limit of the clone. ForkExec returns a bare Errno either way,
// so this is the only way to tell; fallback_test.go checks it.
const pidfdUnset = -2

// forked is the outcome of one fork.
type forked struct {
	pid int
	// pidfd is the child's pidfd from the clone, -1 for none.
	pidfd int
	// atClone: the fork failed and no child was made; known only when
	// the fork asked for a pidfd.
	atClone bool
	err     error
}

// forkOnce forks and execs spec, into the cgroup of attr's CgroupFD when
// cg, asking the clone for a pidfd when withPidfd.
func forkOnce(spec api.Spec, attr *syscall.ProcAttr, cg, withPidfd bool) forked {
	pidfd := pidfdUnset
	attr.Sys.UseCgroupFD, attr.Sys.PidFD = cg, nil
	if withPidfd {
		attr.Sys.PidFD = &pidfd
	}
	pid, err := syscall.ForkExec(spec.Exec, spec.Argv, attr)
	if err != nil {
		return forked{pidfd: -1, atClone: withPidfd && pidfd == pidfdUnset, err: err}
	}
	if pidfd < 0 {
		pidfd = -1
	}
	return forked{pid: pid, pidfd: pidfd}
}

// fork forks and execs spec as attr says, with a pidfd from the clone
// unless the kernel is known to refuse it, and falls back: to a fork
// without the pidfd when the clone refused it (kept for the daemon's
// life once such a fork works), and to one outside the cgroup when the
// kernel cannot clone into one. A failure of the child itself (its exec)
// is returned as is. inCg says whether the child is in the cgroup.
func fork(spec api.Spec, attr *syscall.ProcAttr, log *slog.Logger) (f forked, inCg bool) {
	cg := attr.Sys.UseCgroupFD
	withPidfd := !noClonePidfd.Load()
	for {
		f = forkOnce(spec, attr, cg, withPidfd)
		if f.err == nil {
			if withPidfd && f.pidfd < 0 {
				// Linux before 5.2 ignores CLONE_PIDFD.
				cloneGivesNoPidfd(log, errors.New("the clone made the child but gave no pidfd"))
			}
			return f, cg
		}
		if withPidfd && !f.atClone {
			return f, cg // the child failed (its exec): the clone worked
		}
		if withPidfd && refusedClone(f.err) {
			// Refused with CLONE_PIDFD: the same fork without it.
			g := forkOnce(spec, attr, cg, false)
			if g.err == nil {
				cloneGivesNoPidfd(log, f.err)
				return g, cg
			}
			// Not the pidfd alone: refused without it too, or the
			// exec failed.
			f = g
		}
		if cg && cgroup.CloneUnsupported(f.err) {
			log.Warn("starting app outside its cg: the kernel cannot clone into a cg; a grandchild that calls setsid escapes stop", "event", "cg-failed", "app", spec.Name, "error", f.err)
			cg = false
			continue
		}
		return f, cg
	}
}

// watch returns the pidfd of the child pid (pidfd, from the clone, or -1)
// as a file the runtime poller watches, opening one where the clone gave
// none; nil, nil when the child must be waited for without one (no
// pidfds: pidfd.go).
func watch(pid, pidfd int, log *slog.Logger) (*os.File, error) {
	if pidfd >= 0 {
		f, err := pollableFD(pidfd)
		if !errors.Is(err, errNotPollable) {
			return f, err
		}
		// Linux 5.2: pidfds from clone that cannot be polled.
		cloneGivesNoPidfd(log, err)
	}
	if noPidfdOpen.Load() {
		return nil, nil
	}
	// The child is this process's and unreaped (Child.Wait reaps it, a
	// reaper leaves it as owned): its pid names it still.
	f, err := openPidfd(pid)
	if err != nil && (errors.Is(err, errNotPollable) || lackPidfdOpen(err)) {
		pidfdOpenMissing(log, err)
		return nil, nil
	}
	return f, err
}

// KillGroup sends sig to the process group led by pid. A group that is
// already gone is not an error.
func KillGroup(pid int, sig syscall.Signal) error {
	// kill(-1) would signal every process we may signal: never.
	if pid <= 1 {
		return fmt.Errorf("signal process group %d: refused", pid)
	}
	err := syscall.Kill(-pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("signal process group %d: %w", pid, err)
	}
	return nil
}
