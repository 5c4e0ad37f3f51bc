package process

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Every app process, spawned or adopted, is watched through a pidfd
// registered with the Go runtime's poller: a waiting goroutine is parked,
// not blocked in a system call, so an idle daemon needs no OS thread per
// app.
//
// A spawned child's pidfd comes from the fork itself (clone with
// CLONE_PIDFD, or clone3). Where the kernel or an emulator refuses that —
// Linux before 5.2, qemu-user (clone with CLONE_PIDFD fails with
// EINVAL), a seccomp profile that refuses clone3 (ENOSYS, EPERM) — the
// spawner starts the child without it and opens its pidfd with
// pidfd_open right after the fork: the child is this process's and not
// yet reaped, so its pid cannot name another process meanwhile. The
// watch is then the same. Where pidfd_open is missing too (Linux before
// 5.3, or refused by seccomp), or the pidfd cannot be polled (Linux
// 5.2), each child is waited for by a blocking wait4 on its own
// goroutine: one OS thread per running app. Each way is learnt at the
// first spawn that needs it, kept for the daemon's life, and said once
// in the daemon log with what it costs.
//
// A fork is retried without CLONE_PIDFD only when it failed at the clone
// (no child was made: see pidfdUnset in spawn.go), never when the
// child's exec failed, whatever the errno; and the kernel is taken to
// refuse pidfds only once the fork without one has worked.
//
// An adopted process (a previous daemon's) can be watched only through
// pidfd_open: without it Adopt fails with ErrNoPidfd — this daemon is
// not its parent, and polling /proc would wake an idle daemon up.

// How the spawner gets its children's pidfds, learnt once (see above).
var (
	// noClonePidfd: the fork gives no pidfd (refused, or ignored by a
	// kernel older than 5.2): forks go without CLONE_PIDFD.
	noClonePidfd atomic.Bool
	// noPidfdOpen: pidfd_open is missing or refused: children are
	// waited for by a blocking wait4.
	noPidfdOpen atomic.Bool
)

// ErrNoPidfd reports a kernel (or a seccomp filter) without pidfd_open:
// a process that is not this daemon's child cannot be watched.
var ErrNoPidfd = errors.New("this kernel has no pidfd_open (Linux 5.3 or newer is needed, and a seccomp filter must allow it)")

// refusedClone reports whether err, the error of a fork that failed at
// the clone itself (no child was made), may be the kernel refusing
// CLONE_PIDFD or clone3: ENOSYS (no clone3: Linux before 5.3, or a
// seccomp filter), EINVAL (a flag it does not know: qemu-user), E2BIG (a
// clone3 argument larger than it knows), EOPNOTSUPP, EPERM (a seccomp
// filter). Resource errors (EAGAIN, ENOMEM, EMFILE) are not. It is a
// guess, checked by a fork without the pidfd, which must succeed before
// the guess is kept.
func refusedClone(err error) bool {
	for _, e := range []error{unix.ENOSYS, unix.EINVAL, unix.E2BIG, unix.EOPNOTSUPP, unix.EPERM} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// lackPidfdOpen reports whether err, from pidfd_open(pid, 0) on a child
// of this process not yet reaped (a valid pid, no flags), means that the
// call is not available: ENOSYS (Linux before 5.3), EPERM or EINVAL (a
// seccomp filter or an emulator; neither can come from the kernel's own
// checks here).
func lackPidfdOpen(err error) bool {
	return errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EINVAL)
}

// cloneGivesNoPidfd remembers that the fork gives no pidfd, and says so
// once in the daemon log.
func cloneGivesNoPidfd(log *slog.Logger, why error) {
	if noClonePidfd.CompareAndSwap(false, true) {
		log.Warn("the kernel gives no pidfd at the fork (clone with CLONE_PIDFD); apps are started without it and their pidfds opened with pidfd_open right after the fork, which watches them as well", "event", "pidfd-fallback", "error", why)
	}
}

// pidfdOpenMissing remembers that pidfd_open is not available, and says
// so once in the daemon log.
func pidfdOpenMissing(log *slog.Logger, why error) {
	if noPidfdOpen.CompareAndSwap(false, true) {
		log.Warn("the kernel has no pidfds (pidfd_open); each app is waited for by a blocking wait4, one OS thread per running app, and apps left running by an earlier daemon cannot be adopted", "event", "pidfd-fallback", "error", why)
	}
}

// openPidfd opens a pidfd of pid, a child of this process not yet reaped,
// and makes it pollable (pollableFD).
func openPidfd(pid int) (*os.File, error) {
	// No PIDFD_NONBLOCK (Linux 5.10): pollableFD sets O_NONBLOCK.
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, os.NewSyscallError("pidfd_open", err)
	}
	return pollableFD(fd)
}

// errNotPollable reports a pidfd the runtime poller cannot watch (Linux
// 5.2, whose pidfds cannot be polled).
var errNotPollable = errors.New("the runtime poller cannot watch a pidfd")

// pollableFD turns a pidfd into a file the runtime poller watches. It
// takes ownership of fd, and closes it on failure.
func pollableFD(fd int) (*os.File, error) {
	// os.NewFile registers only non-blocking descriptors with the poller.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	// A file the poller refused (epoll_ctl fails for a file that cannot
	// be polled) is a blocking one, which has no deadlines: a wait on it
	// would return at once.
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %w", errNotPollable, err)
	}
	return f, nil
}

// awaitExit parks the calling goroutine until done reports that the
// process behind the pidfd f has ended. done is called at once, then each
// time the pidfd becomes readable (the process exited); it returns false
// to keep waiting. awaitExit returns false when f was closed (or failed)
// before done reported the end.
func awaitExit(f *os.File, done func(fd int) bool) bool {
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	ended := false
	err = rc.Read(func(fd uintptr) bool {
		ended = done(int(fd))
		return ended
	})
	return ended && err == nil
}

// pidfdReadable reports whether the pidfd fd is readable: its process has
// exited.
func pidfdReadable(fd int) bool {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		// An error other than EINTR ends the wait rather than spin.
		return err != nil || n > 0
	}
}

// waitBlocking waits for the child pid in a blocking wait4, which holds
// an OS thread until the child exits: the way without pidfds.
func waitBlocking(pid int) ExitStatus {
	var ws syscall.WaitStatus
	got, err := wait4(pid, &ws, 0)
	if err != nil || got != pid {
		return ExitStatus{Code: -1}
	}
	return statusOf(ws)
}
