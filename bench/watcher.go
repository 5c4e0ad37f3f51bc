package main

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"opm/daemon/proc"
)

// appWatcher finds a restarted app's new process within microseconds,
// so that a restart can be timed to a fraction of a millisecond. Listing
// /proc costs ~0.2 ms on a small VM, so it follows the kernel's PID
// allocator instead: /proc/sys/kernel/ns_last_pid names the last PID
// handed out, and only PIDs allocated since the previous look are
// examined. A new process that still shows its parent's argv (between
// fork and exec) stays pending and is looked at again. When the PID
// counter wraps, it falls back to one full listing.
type appWatcher struct {
	w          workload
	app        int
	daemonArgv []string
	next       int          // the first PID not examined yet
	pending    map[int]bool // forked, not yet exec'd
	lastPID    *os.File     // /proc/sys/kernel/ns_last_pid, re-read with pread
	buf        [32]byte
}

func newAppWatcher(w workload, app, daemonPID int) (*appWatcher, error) {
	argv, err := proc.Argv(daemonPID)
	if err != nil {
		return nil, err
	}
	f, err := os.Open("/proc/sys/kernel/ns_last_pid")
	if err != nil {
		return nil, err
	}
	a := &appWatcher{w: w, app: app, daemonArgv: argv, pending: map[int]bool{}, lastPID: f}
	last, err := a.last()
	if err != nil {
		f.Close()
		return nil, err
	}
	a.next = last + 1
	return a, nil
}

func (a *appWatcher) close() error { return a.lastPID.Close() }

// last reads the last PID the kernel allocated: one pread.
func (a *appWatcher) last() (int, error) {
	n, err := a.lastPID.ReadAt(a.buf[:], 0)
	if n == 0 {
		return 0, fmt.Errorf("read ns_last_pid: %w", err)
	}
	return strconv.Atoi(strings.TrimSpace(string(a.buf[:n])))
}

// find returns a live process of the app other than old, or 0.
func (a *appWatcher) find(old int) (int, error) {
	last, err := a.last()
	if err != nil {
		return 0, err
	}
	var fresh []int
	if last >= a.next {
		for p := a.next; p <= last; p++ {
			fresh = append(fresh, p)
		}
	} else if last < a.next-1 { // the counter wrapped
		if fresh, err = proc.PIDs(); err != nil {
			return 0, err
		}
	}
	a.next = last + 1
	for p := range a.pending {
		fresh = append(fresh, p)
	}
	for _, p := range fresh {
		if p != old && a.examine(p) {
			return p, nil
		}
	}
	return 0, nil
}

// examine reports whether p is the app; it keeps p pending when p may
// still become the app.
func (a *appWatcher) examine(p int) bool {
	delete(a.pending, p)
	argv, err := proc.Argv(p)
	switch {
	case err != nil: // gone, or a PID never used
		return false
	case a.w.index(argv) == a.app:
		return proc.Alive(p)
	case slices.Equal(argv, a.daemonArgv) && !proc.IsThread(p),
		len(argv) == 0 && !kernelThread(p) && proc.Alive(p): // mid-exec
		a.pending[p] = true
	}
	return false
}

// kernelThread reports whether pid is a kernel thread: kthreadd (pid 2)
// or one of its children. Their argv is empty, as is a user process's
// for an instant during exec.
func kernelThread(pid int) bool {
	if pid == 2 {
		return true
	}
	st, err := proc.ReadStat(pid)
	return err == nil && st.PPID == 2
}
