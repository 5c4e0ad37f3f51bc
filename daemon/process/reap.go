package process

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
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
//     back-off, for at most pinnedGiveUp; after that it is left to its
//     holder (said once), and looked at again only when SIGCHLD comes.
//
// The spawner's children are pinned by their pidfd too (New takes it at
// the fork, through clone, or with pidfd_open right after it where clone
// gives none, and Child.Wait closes it only after reaping), so the
// registry is a second guard for them — and the only one for a child
// waited for by a blocking wait4, without a pidfd (pidfd.go). It is kept
// because it is the spawner's own word, read without /proc: the pin check reads the
// whole fd table (/proc/self/fd and an fdinfo per pidfd), which costs a
// readlink per descriptor of a daemon holding hundreds, and fails when
// the process is out of descriptors (EMFILE, when apps crash-loop); with
// the registry the daemon's own exiting apps, the common SIGCHLD, never
// need it. reap_test.go hides a spawned child's pidfd to check that the
// registry alone keeps its exit status.
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
	// warn says what the reaper gives up on; giveUp is how long a
	// pinned zombie is looked at again (pinnedGiveUp).
	warn   func(msg string)
	giveUp time.Duration

	mu     sync.Mutex
	reaped int
	passes int
	armed  bool // a look again at pinned zombies is due
}

// StartReaper makes this process a child subreaper unless it is PID 1,
// and reaps its orphaned zombies until Stop; warn, when set, is told of
// a zombie left to the pidfd that pins it. It fails when /proc is not
// this process's pid namespace's (its children could not be found),
// when the kernel does not say which process a pidfd refers to (the
// zombies others wait for could not be told), or when the kernel refuses
// the subreaper attribute.
func StartReaper(warn func(msg string)) (*Reaper, error) {
	self, err := os.Readlink("/proc/self")
	if err != nil || self != strconv.Itoa(os.Getpid()) {
		return nil, fmt.Errorf("reap orphans: /proc is not mounted for this process's pid namespace (/proc/self is %q, the pid %d)", self, os.Getpid())
	}
	if err := checkPidfdInfo(readFdinfo); err != nil {
		return nil, err
	}
	subreaper := os.Getpid() != 1
	if subreaper {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return nil, fmt.Errorf("reap orphans: become a child subreaper: %w", err)
		}
	}
	r := startReaper(warn, pinnedGiveUp)
	r.Subreaper = subreaper
	return r, nil
}

// startReaper reaps this process's zombie children until Stop, looking
// again at a pinned one for giveUp at most.
func startReaper(warn func(msg string), giveUp time.Duration) *Reaper {
	r := &Reaper{sigs: make(chan os.Signal, 1), stop: make(chan struct{}), done: make(chan struct{}), warn: warn, giveUp: giveUp}
	signal.Notify(r.sigs, syscall.SIGCHLD)
	go r.loop()
	return r
}

// checkPidfdInfo makes sure that the fdinfo of a pidfd (read) names its
// process: without that (Linux before 5.5, or no pidfds at all) the
// zombies that os/exec waits for through a pidfd could not be told from
// orphans, and a pass would steal their exit statuses.
func checkPidfdInfo(read func(fd int) ([]byte, error)) error {
	fd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		return fmt.Errorf("reap orphans: open a pidfd: %w (Linux 5.5 or newer is needed)", err)
	}
	defer unix.Close(fd)
	info, err := read(fd)
	if err != nil {
		return fmt.Errorf("reap orphans: read the fdinfo of a pidfd: %w", err)
	}
	if pid, ok := fdinfoPid(info); !ok || pid != os.Getpid() {
		return errors.New("reap orphans: this kernel does not say which process a pidfd refers to (no Pid: line in its /proc/self/fdinfo; Linux 5.5 or newer is needed), so the zombies this process waits for could not be told from orphans")
	}
	return nil
}

// readFdinfo reads /proc/self/fdinfo/<fd>.
func readFdinfo(fd int) ([]byte, error) {
	return os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(fd))
}

// fdinfoPid is the pid a pidfd's fdinfo names; ok is false when it names
// none (no Pid: line, or -1 once the process is reaped).
func fdinfoPid(info []byte) (pid int, ok bool) {
	for line := range bytes.Lines(info) {
		if v, found := bytes.CutPrefix(line, []byte("Pid:")); found {
			pid, err := strconv.Atoi(string(bytes.TrimSpace(v)))
			return pid, err == nil && pid > 0
		}
	}
	return 0, false
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

// Back-off of the passes that look again at zombies pinned by a pidfd,
// and how long they do.
const (
	pinnedFirst  = 10 * time.Millisecond
	pinnedMost   = time.Second
	pinnedGiveUp = time.Minute
)

// zombie is a zombie child: its pid and start time, which tell it from a
// later process of the same pid.
type zombie struct {
	pid   int
	start uint64
}

// pinnedSince is when a pinned zombie was first found pinned, and whether
// it has been given up on.
type pinnedSince struct {
	first  time.Time
	gaveUp bool
}

func (r *Reaper) loop() {
	defer close(r.done)
	again := time.NewTimer(time.Hour)
	again.Stop()
	defer again.Stop()
	var retry <-chan time.Time
	delay := pinnedFirst
	pinned := map[zombie]*pinnedSince{}
	pass := func() {
		left := r.pass()
		now := time.Now()
		var gaveUp []string
		due := false
		for z, p := range pinned {
			if !slices.Contains(left, z) {
				delete(pinned, z) // reaped by its holder, or by this pass
			} else if !p.gaveUp && now.Sub(p.first) >= r.giveUp {
				p.gaveUp = true
				gaveUp = append(gaveUp, strconv.Itoa(z.pid))
			}
		}
		for _, z := range left {
			p := pinned[z]
			if p == nil {
				p = &pinnedSince{first: now}
				pinned[z] = p
			}
			due = due || !p.gaveUp
		}
		if due {
			// Someone pins a zombie: look again later.
			again.Reset(delay)
			retry = again.C
			delay = min(2*delay, pinnedMost)
		} else {
			retry, delay = nil, pinnedFirst
		}
		r.mu.Lock()
		r.armed = due
		r.mu.Unlock()
		if len(gaveUp) > 0 && r.warn != nil {
			r.warn(fmt.Sprintf("reap orphans: zombie %s stayed held by a pidfd of this process for %s; left to its holder, looked at again when a child exits", strings.Join(gaveUp, ", "), r.giveUp))
		}
	}
	pass() // the zombies that came before the signal was caught
	for {
		select {
		case <-r.stop:
			return
		case <-r.sigs:
			pass()
		case <-retry:
			pass()
		}
	}
}

// pidfdPins reads which processes the pidfds of this process pin
// (pidfdPids); reap_test.go hides one.
var pidfdPins = pidfdPids

// pass reaps the zombie children nobody else waits for, and returns
// those it left because a pidfd of this process pins them (or because
// which do could not be read).
func (r *Reaper) pass() (pinned []zombie) {
	forks.gate.Lock()
	defer forks.gate.Unlock()
	defer func() {
		r.mu.Lock()
		r.passes++
		r.mu.Unlock()
	}()
	var pins map[int]bool // read once, when a zombie needs it
	var pinsErr error
	for _, pid := range children() {
		if owned(pid) {
			continue // the spawner's: Child.Wait reaps it
		}
		st, err := proc.ReadStat(pid)
		if err != nil || st.State != 'Z' {
			continue // running: its exit will raise SIGCHLD
		}
		if pins == nil && pinsErr == nil {
			pins, pinsErr = pidfdPins()
		}
		if pinsErr != nil || pins[pid] {
			// Its waiter (os/exec) reaps it; or, the pidfds
			// unreadable, it may be some waiter's.
			pinned = append(pinned, zombie{pid, st.Start})
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
	return pinned
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

// pidfdPids are the processes that pidfds open in this process refer
// to. An error (the fd table unreadable: out of descriptors) means that
// they could not all be told.
func pidfdPids() (map[int]bool, error) {
	pins := map[int]bool{}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	for _, fd := range fds {
		l, err := os.Readlink("/proc/self/fd/" + fd.Name())
		if errors.Is(err, os.ErrNotExist) {
			continue // closed meanwhile
		}
		if err != nil {
			return nil, err
		}
		if l != "anon_inode:[pidfd]" && !strings.HasPrefix(l, "pidfd:") {
			continue
		}
		info, err := os.ReadFile("/proc/self/fdinfo/" + fd.Name())
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if pid, ok := fdinfoPid(info); ok {
			pins[pid] = true
		}
	}
	return pins, nil
}
