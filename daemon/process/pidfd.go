package process

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// Every app process, spawned or adopted, is watched through a pidfd
// registered with the Go runtime's poller: a waiting goroutine is parked,
// not blocked in a system call, so an idle daemon needs no OS thread per
// app.

// pollableFD turns a pidfd into a file the runtime poller watches. It
// takes ownership of fd.
func pollableFD(fd int) (*os.File, error) {
	// os.NewFile registers only non-blocking descriptors with the poller.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), "pidfd"), nil
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
