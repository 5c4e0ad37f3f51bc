package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// procHandle refers to one process by pidfd, so that waiting for its exit
// can neither miss it nor mistake a recycled pid for it.
type procHandle struct{ fd int }

// openProc opens a pidfd for pid. A process that is already gone yields
// a handle whose wait returns at once.
func openProc(pid int) (*procHandle, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return &procHandle{fd: -1}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("watch process %d: %w", pid, err)
	}
	return &procHandle{fd: fd}, nil
}

// wait blocks until the process has exited or ctx ends. A pidfd becomes
// readable when its process terminates, zombie or not.
func (p *procHandle) wait(ctx context.Context) error {
	if p.fd < 0 {
		return nil
	}
	for {
		timeout := 100 // ms; bounds how late a cancelled ctx is noticed
		if dl, ok := ctx.Deadline(); ok {
			if !time.Now().Before(dl) {
				return context.DeadlineExceeded
			}
			timeout = min(timeout, max(0, int(time.Until(dl)/time.Millisecond)))
		}
		fds := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, timeout)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("wait for process exit: %w", err)
		}
		if n > 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

func (p *procHandle) close() {
	if p.fd >= 0 {
		unix.Close(p.fd)
		p.fd = -1
	}
}
