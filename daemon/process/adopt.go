package process

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"opm/daemon/proc"
)

// Adopted is an app process a previous daemon started: this daemon is
// not its parent, so it watches it through a pidfd, which becomes readable
// when the process exits, and cannot learn its exit status.
type Adopted struct {
	pid   int
	start uint64
	fd    *os.File
}

// ErrNotSame reports a PID that now names another process.
var ErrNotSame = errors.New("the pid now names another process")

// Adopt returns a watch on pid if it still is the process that
// started at start (clock ticks since boot), alive and leading its own
// session as every app does. The check is made again after the pidfd is
// open, so the pidfd names that very process and never a successor.
// Without pidfd_open (Linux before 5.3) no process can be adopted: the
// error is ErrNoPidfd (pidfd.go).
func Adopt(pid int, start uint64) (*Adopted, error) {
	if err := SameProcess(pid, start); err != nil {
		return nil, err
	}
	if noPidfdOpen.Load() {
		return nil, fmt.Errorf("watch process %d: %w", pid, ErrNoPidfd)
	}
	// No PIDFD_NONBLOCK (Linux 5.10): pollableFD sets O_NONBLOCK.
	fd, err := unix.PidfdOpen(pid, 0)
	if lackPidfdOpen(err) {
		// No other way to learn, without waking up, that a process
		// which is not a child has ended.
		return nil, fmt.Errorf("watch process %d: %w: %w", pid, ErrNoPidfd, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open pidfd of %d: %w", pid, err)
	}
	if err := SameProcess(pid, start); err != nil {
		unix.Close(fd)
		return nil, err
	}
	f, err := pollableFD(fd)
	if err != nil {
		return nil, fmt.Errorf("watch pidfd of %d: %w", pid, err)
	}
	return &Adopted{pid: pid, start: start, fd: f}, nil
}

func SameProcess(pid int, start uint64) error {
	if pid <= 1 || pid == os.Getpid() {
		return ErrNotSame
	}
	st, err := proc.ReadStat(pid)
	if err != nil {
		return err
	}
	if st.Start != start || st.State == 'Z' || st.State == 'X' || st.Session != pid {
		return ErrNotSame
	}
	return nil
}

func (p *Adopted) Pid() int           { return p.pid }
func (p *Adopted) StartTicks() uint64 { return p.start }

// Wait blocks until the process exits or Close is called.
func (p *Adopted) Wait() ExitStatus {
	defer p.fd.Close()
	awaitExit(p.fd, pidfdReadable)
	return ExitStatus{Code: -1}
}

// Close stops a Wait in progress (the daemon is leaving the app running
// for the next one).
func (p *Adopted) Close() error { return p.fd.Close() }
