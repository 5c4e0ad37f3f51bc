package process

import (
	"bytes"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"opm/daemon/proc"
)

// `opm run` is a container's main process: as PID 1 every orphan of the
// container is re-parented to it, and elsewhere it makes itself a child
// subreaper so that the orphans of its apps come to it. It must reap
// them, or they stay zombies. But the daemon runs in the same process
// and reaps its own children itself (Child.Wait: wait4 on the pid), and
// Go's os/exec waits for the commands it runs (waitid on a pidfd): a
// reaper that called wait4(-1) would steal their exit statuses, and the
// daemon would no longer know how its apps ended.
//
// So the reaper waits for one pid at a time, and only for a zombie that
// nobody in this process will wait for:
//
//   - not one the spawner owns: every child New forks is registered in
//     owned from its fork until Child.Wait has reaped it. The fork and the
//     registration happen under gate (read-locked), and a reaper pass
//     holds gate write-locked, so a pass never sees a child of a spawn
//     that is not registered yet;
//   - not one a pidfd of this process pins: os/exec (Go 1.23 and later,
//     where the kernel has pidfds) holds the pidfd of every command it
//     runs until its Wait, and so do the spawner's children and adopted
//     apps. A pidfd may also be held for a moment (a signal sent through
//     one): such a zombie is looked at again a little later, with a
//     back-off, until it is gone.
//
// Passes run when SIGCHLD comes, never on a timer while nothing exits.

var forks = struct {
	// gate is read-locked by a spawn from before its fork until its
	// child is in owned, and write-locked by a reaper pass.
	gate  sync.RWMutex
	mu    sync.Mutex
	owned map[int]struct{}
}{owned: map[int]struct{}{}}

// holdForks is called before a fork whose child this process reaps
// itself; the function it returns, once the child is registered.
func holdForks() func() {
	forks.gate.RLock()
	return forks.gate.RUnlock
}

// own registers pid, a child the spawner reaps itself.
func own(pid int) {
	forks.mu.Lock()
	forks.owned[pid] = struct{}{}
	forks.mu.Unlock()
}

// disown forgets pid once its owner has reaped it (or given up).
func disown(pid int) {
	forks.mu.Lock()
	delete(forks.owned, pid)
	forks.mu.Unlock()
}

func owned(pid int) bool {
	forks.mu.Lock()
	defer forks.mu.Unlock()
	_, ok := forks.owned[pid]
	return ok
}

// Reaper reaps the zombies among this process's children that nothing
// else in the process waits for (see above).
type Reaper struct {
	sigs chan os.Signal
	stop chan struct{}
	done chan struct{}
	// Subreaper says that this process made itself a child subreaper;
	// false when it is PID 1 (every orphan comes to it anyway).
	Subreaper bool

	mu     sync.Mutex
	reaped int
}

// StartReaper makes this process a child subreaper unless it is PID 1,
// and reaps its orphaned zombies until Stop. It fails when /proc is not
// this process's pid namespace's (its children could not be found) or
// when the kernel refuses the subreaper attribute.
func StartReaper() (*Reaper, error) {
	self, err := os.Readlink("/proc/self")
	if err != nil || self != strconv.Itoa(os.Getpid()) {
		return nil, fmt.Errorf("reap orphans: /proc is not mounted for this process's pid namespace (/proc/self is %q, the pid %d)", self, os.Getpid())
	}
	r := &Reaper{sigs: make(chan os.Signal, 1), stop: make(chan struct{}), done: make(chan struct{})}
	if os.Getpid() != 1 {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return nil, fmt.Errorf("reap orphans: become a child subreaper: %w", err)
		}
		r.Subreaper = true
	}
	signal.Notify(r.sigs, syscall.SIGCHLD)
	go r.loop()
	return r, nil
}

// Reaped is how many zombies the reaper has reaped.
func (r *Reaper) Reaped() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reaped
}

// Stop ends the reaper. The process stays a subreaper.
func (r *Reaper) Stop() {
	signal.Stop(r.sigs)
	close(r.stop)
	<-r.done
}

// Back-off of the passes that look again at zombies pinned by a pidfd.
const (
	pinnedFirst = 10 * time.Millisecond
	pinnedMost  = time.Second
)

func (r *Reaper) loop() {
	defer close(r.done)
	var again *time.Timer
	var retry <-chan time.Time
	delay := pinnedFirst
	pass := func() {
		if r.pass() {
			// Someone pins a zombie: look again later.
			if again == nil {
				again = time.NewTimer(delay)
			} else {
				again.Reset(delay)
			}
			retry = again.C
			delay = min(2*delay, pinnedMost)
			return
		}
		retry, delay = nil, pinnedFirst
	}
	pass() // the zombies that came before the signal was caught
	for {
		select {
		case <-r.stop:
			if again != nil {
				again.Stop()
			}
			return
		case <-r.sigs:
			pass()
		case <-retry:
			pass()
		}
	}
}

// pass reaps the zombie children nobody else waits for, and reports
// whether it left some because a pidfd of this process pins them.
func (r *Reaper) pass() (pinnedLeft bool) {
	forks.gate.Lock()
	defer forks.gate.Unlock()
	var pins map[int]bool // read once, when a zombie needs it
	for _, pid := range children() {
		if owned(pid) {
			continue // the spawner's: Child.Wait reaps it
		}
		st, err := proc.ReadStat(pid)
		if err != nil || st.State != 'Z' {
			continue // running: its exit will raise SIGCHLD
		}
		if pins == nil {
			pins = pidfdPids()
		}
		if pins[pid] {
			pinnedLeft = true // its waiter (os/exec) reaps it
			continue
		}
		var info unix.Siginfo
		for {
			err = unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOHANG, nil)
			if err != unix.EINTR {
				break
			}
		}
		if err == nil {
			r.mu.Lock()
			r.reaped++
			r.mu.Unlock()
		}
	}
	return pinnedLeft
}

// children lists this process's children: those of each of its threads
// (a child belongs to the thread that forked it, an orphan to the thread
// it was re-parented to). Where the kernel has no children files, every
// process's parent is read instead.
func children() []int {
	if !childrenFiles() {
		return childrenByScan()
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil
	}
	var out []int
	for _, t := range tasks {
		// A thread that ended meanwhile has none.
		data, _ := os.ReadFile("/proc/self/task/" + t.Name() + "/children")
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil {
				out = append(out, pid)
			}
		}
	}
	return out
}

// childrenFiles reports whether the kernel has /proc/<pid>/task/<tid>/children
// (CONFIG_PROC_CHILDREN).
var childrenFiles = sync.OnceValue(func() bool {
	_, err := os.Stat("/proc/self/task/" + strconv.Itoa(os.Getpid()) + "/children")
	return err == nil
})

// childrenByScan lists this process's children by reading every
// process's parent: without CONFIG_PROC_CHILDREN.
func childrenByScan() []int {
	self := os.Getpid()
	pids, _ := proc.PIDs()
	var out []int
	for _, pid := range pids {
		if st, err := proc.ReadStat(pid); err == nil && st.PPID == self {
			out = append(out, pid)
		}
	}
	return out
}

// pidfdPids are the processes that pidfds open in this process refer to.
func pidfdPids() map[int]bool {
	pins := map[int]bool{}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return pins
	}
	for _, fd := range fds {
		l, err := os.Readlink("/proc/self/fd/" + fd.Name())
		if err != nil || (l != "anon_inode:[pidfd]" && !strings.HasPrefix(l, "pidfd:")) {
			continue
		}
		info, err := os.ReadFile("/proc/self/fdinfo/" + fd.Name())
		if err != nil {
			continue
		}
		for line := range bytes.Lines(info) {
			if v, ok := bytes.CutPrefix(line, []byte("Pid:")); ok {
				if pid, err := strconv.Atoi(string(bytes.TrimSpace(v))); err == nil && pid > 0 {
					pins[pid] = true
				}
			}
		}
	}
	return pins
}
