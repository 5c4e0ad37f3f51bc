package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"opm/daemon/api"
)

// One cgroup per app. A process group holds an app only as long as its
// processes stay in it: a grandchild that calls setsid() leaves it and
// survives a stop. A cgroup (v2) cannot be left that way, so where cgroup
// v2 is mounted and delegated to us the daemon keeps
//
//	<the daemon's own cgroup>/opm-<hash of OPM_HOME>/app-<app key>/run-<n>
//
// app-<app key> is the app's cgroup: named by the app's key (token.go),
// the same for the app's name across daemons and ids, so that killing
// leftovers in it never touches another app's processes; "app-" so that
// no name clashes with cgroupfs' own files. Each spawn of the app gets a new leaf run-<n> in
// it and is cloned straight into that leaf (clone3 with CLONE_INTO_CGROUP:
// the process never runs outside, not even between fork and exec). Stop
// sends SIGTERM to the process group and to every other process in the
// app's cgroup, and writes its cgroup.kill after the kill timeout; once
// the leader has exited cgroup.kill ends the rest, so a restart never runs
// beside leftovers. Removing an app, or stopping the daemon with its apps,
// removes their cgroups; a daemon that exits keeping its apps leaves them,
// and the next one finds an adopted app's cgroup in /proc/<pid>/cgroup.
//
// Why a new leaf per spawn: Linux (6.18 at least) kills a process cloned
// into a cgroup at birth when that cgroup's cgroup.kill count differs from
// the count of the spawner's own cgroup — so a cgroup that was ever killed
// through cgroup.kill can never take a cloned process again. A fresh leaf
// has never been killed. The daemon checks once at start that a process
// cloned into a fresh cgroup survives (probe), and uses cgroups only then.
//
// No controller is enabled anywhere: cgroup.procs, cgroup.kill and
// cgroup.events are core files. That is also why the no-internal-processes
// rule (a non-root cgroup that hands domain controllers to its children
// holds no process itself) does not bite: opm-<hash> and app-<key> hold no
// process and enable nothing, run-<n> are leaves, and the daemon's own
// cgroup is left as it is — were a domain controller enabled in its
// subtree, the daemon could not be running in it (the root cgroup, exempt
// from the rule, aside).
//
// All of it runs on events — spawn, stop, exit, remove — as a few small
// system calls: no timer, no polling. The one wait, for the last killed
// process of a removed app's cgroup to be gone before the directory can be
// removed, is a goroutine parked on an inotify watch of cgroup.events.

// Values of the cgroups key in config.toml.
const (
	CgroupsAuto = "auto"
	CgroupsOff  = "off"
)

// errCgroupsOff is why cgroups are off when the user said so.
var errCgroupsOff = errors.New(`cgroups = "off" in config.toml`)

// cgroupTree is the home's cgroup and its apps' cgroups. Cgroups are named
// as /proc/<pid>/cgroup names them (paths in the cgroup2 hierarchy); dir
// turns one into its directory. A nil tree means cgroups are off; its
// methods then do nothing.
type cgroupTree struct {
	// mount is where cgroup2 is mounted and root the mount's root in
	// the hierarchy ("/" unless a container mounted a subtree).
	mount, root string
	// parent is the home's cgroup, e.g. "/opm-1a2b3c4d".
	parent string
	log    *slog.Logger

	// Removals waiting for their cgroup to empty; the daemon's exit
	// (close) waits for them, then closes what is left in waits.
	mu     sync.Mutex
	waits  map[*os.File]struct{}
	closed bool
	wg     sync.WaitGroup
}

// setupCgroups decides the daemon's cgroup mode and says once in the
// daemon log which mode is in effect and why.
func setupCgroups(cfg Config, log *slog.Logger) (*cgroupTree, api.Cgroups) {
	t, err := locateCgroups(cfg.Home, cfg.Cgroups)
	if err == nil {
		err = t.create()
	}
	if err != nil {
		st := api.Cgroups{Mode: api.CgroupsOff, Reason: err.Error()}
		log.Info("cgroups off: apps are contained by their process group, and a grandchild that calls setsid escapes stop", "event", "cgroups", "mode", st.Mode, "reason", st.Reason)
		return nil, st
	}
	t.log = log
	t.waits = make(map[*os.File]struct{})
	st := api.Cgroups{Mode: api.CgroupsV2, Path: t.dir(t.parent)}
	log.Info("cgroups v2: each app runs in its own cgroup and stop ends all of it", "event", "cgroups", "mode", st.Mode, "path", st.Path)
	return t, st
}

// CgroupDir returns the directory that holds the apps' cgroups of a daemon
// for home started from the caller's cgroup, or why cgroup v2 cannot be
// used. It changes nothing.
func CgroupDir(home string) (string, error) {
	t, err := locateCgroups(home, CgroupsAuto)
	if err != nil {
		return "", err
	}
	return t.dir(t.parent), nil
}

// locateCgroups finds the cgroup2 mount and the daemon's own cgroup, and
// from them the home's cgroup. It changes nothing.
func locateCgroups(home, mode string) (*cgroupTree, error) {
	if mode == CgroupsOff {
		return nil, errCgroupsOff
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mounts: %w", err)
	}
	mount, root, ok := parseCgroup2Mount(mi)
	if !ok {
		return nil, errors.New("cgroup v2 is not mounted")
	}
	own, err := cgroupOfPid(os.Getpid())
	if err != nil {
		return nil, err
	}
	if !within(root, own) {
		return nil, fmt.Errorf("the daemon's cgroup %s is outside the cgroup2 mount at %s", own, mount)
	}
	return &cgroupTree{mount: mount, root: root, parent: path.Join(own, cgroupParentName(home))}, nil
}

// create makes the home's cgroup and checks that it is usable: a cgroup2
// directory we own, with cgroup.kill, into which a process can be cloned.
func (t *cgroupTree) create() error {
	dir := t.dir(t.parent)
	err := unix.Mkdir(dir, 0o755)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("create cgroup %s: %w (cgroup v2 is not delegated to this user)", dir, err)
	}
	made := err == nil
	fail := func(err error) error {
		if made {
			_ = unix.Rmdir(dir)
		}
		return err
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs(dir, &sfs); err != nil {
		return fail(fmt.Errorf("check cgroup %s: %w", dir, err))
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return fail(fmt.Errorf("check cgroup %s: %w", dir, err))
	}
	if sfs.Type != unix.CGROUP2_SUPER_MAGIC || st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != os.Geteuid() {
		return fail(fmt.Errorf("cgroup %s is not a cgroup2 directory owned by this user (remove it)", dir))
	}
	if err := unix.Access(filepath.Join(dir, "cgroup.kill"), unix.W_OK); err != nil {
		return fail(fmt.Errorf("use cgroup.kill in %s: %w (Linux 5.14 or newer is needed)", dir, err))
	}
	if err := t.probe(); err != nil {
		return fail(err)
	}
	return nil
}

// probe clones a process into a new cgroup, as every spawn will, to
// learn whether the kernel allows it (clone3, CLONE_INTO_CGROUP, write
// access to the daemon's cgroup, which that needs as moving a process
// out of it does) and lets the process live (see the cgroup.kill count
// above). The process execs a file that cannot exist, so it ends at once
// and the exec's error proves that it ran.
func (t *cgroupTree) probe() error {
	cg := path.Join(t.parent, "probe")
	dir := t.dir(cg)
	if err := unix.Mkdir(dir, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	defer unix.Rmdir(dir)
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open cgroup %s: %w", dir, err)
	}
	defer unix.Close(fd)
	none := filepath.Join(dir, "none")
	pid, err := syscall.ForkExec(none, []string{none}, &syscall.ProcAttr{
		Sys: &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd},
	})
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil // it ran, in the cgroup
	case cloneUnsupported(err):
		return fmt.Errorf("the kernel cannot clone a process into a cgroup (clone3 with CLONE_INTO_CGROUP: %w; Linux 5.7 or newer is needed)", err)
	case err != nil:
		return fmt.Errorf("clone a process into cgroup %s: %w (cgroup v2 is not delegated to this user)", dir, err)
	}
	var ws syscall.WaitStatus
	_, _ = wait4(pid, &ws, 0)
	return fmt.Errorf("a process cloned into cgroup %s was killed at birth (%v): the kernel does this when the daemon's own cgroup was once killed through cgroup.kill; run the daemon in another cgroup", dir, statusOf(ws))
}

// cgroupParentName is the home's cgroup name: the same hash of OPM_HOME
// as the runtime directory's name, so the two are easy to match.
func cgroupParentName(home string) string {
	h := fnv.New32a()
	h.Write([]byte(home))
	return fmt.Sprintf("opm-%08x", h.Sum32())
}

func appCgroupName(key string) string { return "app-" + key }

// app is the cgroup of the app with this key ("" when cgroups are off).
func (t *cgroupTree) app(key string) string {
	if t == nil {
		return ""
	}
	return path.Join(t.parent, appCgroupName(key))
}

// dir is the directory of cgroup cg.
func (t *cgroupTree) dir(cg string) string {
	return filepath.Join(t.mount, strings.TrimPrefix(cg, t.root))
}

// within reports whether cgroup cg is root or below it.
func within(root, cg string) bool {
	return root == "/" || cg == root || strings.HasPrefix(cg, root+"/")
}

// parseCgroup2Mount finds the cgroup2 mount in /proc/self/mountinfo: its
// mount point and its root in the hierarchy.
func parseCgroup2Mount(mountinfo []byte) (mount, root string, ok bool) {
	for line := range bytes.Lines(mountinfo) {
		// ID parent major:minor root mountpoint options [optional...] - fstype source superoptions
		pre, post, found := strings.Cut(strings.TrimSpace(string(line)), " - ")
		if !found {
			continue
		}
		f, fsType := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(fsType) < 1 || fsType[0] != "cgroup2" {
			continue
		}
		return unescapeMount(f[4]), unescapeMount(f[3]), true
	}
	return "", "", false
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// parseCgroupFile returns the cgroup v2 path ("0::<path>") of a
// /proc/<pid>/cgroup file.
func parseCgroupFile(data []byte) (string, bool) {
	for line := range bytes.Lines(data) {
		if p, ok := strings.CutPrefix(strings.TrimRight(string(line), "\n"), "0::"); ok && strings.HasPrefix(p, "/") {
			return p, true
		}
	}
	return "", false
}

// cgroupOfPid is the cgroup v2 of process pid.
func cgroupOfPid(pid int) (string, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return "", fmt.Errorf("read the cgroup of process %d: %w", pid, err)
	}
	cg, ok := parseCgroupFile(data)
	if !ok {
		return "", fmt.Errorf("process %d is in no cgroup v2 hierarchy", pid)
	}
	return cg, nil
}

// enter prepares an app's cgroup for its next process: it creates the
// cgroup when needed, kills whatever is still in it — the app has no
// process when it is spawned, so anything there is a leftover: what a
// crashed leader left, or a previous daemon's half-finished spawn —
// removes the old leaves it can and returns a descriptor of a new leaf
// for clone3.
func (t *cgroupTree) enter(cg string) (int, error) {
	dir := t.dir(cg)
	if err := unix.Mkdir(dir, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	if err := t.kill(cg); err != nil {
		return -1, err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return -1, fmt.Errorf("read cgroup %s: %w", dir, err)
	}
	next := 0
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if rmdirTree(filepath.Join(dir, e.Name())) == nil {
			continue
		}
		// Still emptying; it goes at a later spawn or with the app.
		if n, ok := strings.CutPrefix(e.Name(), "run-"); ok {
			if i, err := strconv.Atoi(n); err == nil && i >= next {
				next = i + 1
			}
		}
	}
	leaf := filepath.Join(dir, "run-"+strconv.Itoa(next))
	if err := unix.Mkdir(leaf, 0o755); err != nil {
		return -1, fmt.Errorf("create cgroup %s: %w", leaf, err)
	}
	fd, err := unix.Open(leaf, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open cgroup %s: %w", leaf, err)
	}
	return fd, nil
}

// cloneUnsupported reports whether a spawn into a cgroup failed because
// clone3 or CLONE_INTO_CGROUP is not available (an old kernel, a seccomp
// filter that refuses clone3).
func cloneUnsupported(err error) bool {
	for _, e := range []error{unix.ENOSYS, unix.E2BIG, unix.EINVAL, unix.EOPNOTSUPP} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// kill ends every process in cg and below (cgroup.kill: SIGKILL, and no
// fork racing it escapes). A cgroup that does not exist has nothing to
// kill.
func (t *cgroupTree) kill(cg string) error {
	if t == nil {
		return nil
	}
	p := filepath.Join(t.dir(cg), "cgroup.kill")
	err := writeFile(p, "1")
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENODEV) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("kill cgroup %s: %w", cg, err)
	}
	return nil
}

func writeFile(p, v string) error {
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	for errors.Is(err, unix.EINTR) {
		fd, err = unix.Open(p, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	_, err = unix.Write(fd, []byte(v))
	return err
}

// signal sends sig to every process in cg and below that is not in the
// process group pgid, which the caller signals as a group. Each PID is
// pinned with a pidfd and checked to be in cg still, so that a PID reused
// meanwhile is never signalled.
func (t *cgroupTree) signal(cg string, sig unix.Signal, pgid int) error {
	if t == nil {
		return nil
	}
	err := walkCgroups(t.dir(cg), func(dir string) {
		data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if err != nil {
			return // removed meanwhile
		}
		for _, f := range strings.Fields(string(data)) {
			pid, err := strconv.Atoi(f)
			if err != nil || pid <= 1 {
				continue
			}
			if g, err := unix.Getpgid(pid); err == nil && g == pgid {
				continue
			}
			fd, err := unix.PidfdOpen(pid, 0)
			if err != nil {
				continue // gone
			}
			if now, err := cgroupOfPid(pid); err == nil && within(cg, now) {
				_ = unix.PidfdSendSignal(fd, sig, nil, 0)
			}
			unix.Close(fd)
		}
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("signal the processes of cgroup %s: %w", cg, err)
	}
	return nil
}

// walkCgroups calls fn for dir and every cgroup below it, parents first.
func walkCgroups(dir string, fn func(dir string)) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	fn(dir)
	for _, e := range ents {
		if e.IsDir() {
			_ = walkCgroups(filepath.Join(dir, e.Name()), fn)
		}
	}
	return nil
}

// adopted returns the cgroup of the app with this key that holds the
// adopted process pid: the app-<key> above the process's cgroup, under a home's cgroup of
// this OPM_HOME (the daemon that started it may have run in another
// cgroup); "" when the process is in no such cgroup.
func (t *cgroupTree) adopted(pid int, key string) string {
	if t == nil {
		return ""
	}
	cg, err := cgroupOfPid(pid)
	if err != nil || !within(t.root, cg) {
		return ""
	}
	for ; cg != "/" && cg != "."; cg = path.Dir(cg) {
		if path.Base(cg) == appCgroupName(key) && path.Base(path.Dir(cg)) == path.Base(t.parent) {
			return cg
		}
	}
	return ""
}

// remove kills what is left in cg and removes it, with any cgroups an app
// made below it. Killed processes take a moment to exit, and until then
// the directory cannot go: a goroutine then waits for cgroup.events to
// change and removes it once empty, or leaves it when the daemon exits.
func (t *cgroupTree) remove(cg string) {
	if t == nil {
		return
	}
	if err := t.kill(cg); err != nil {
		t.log.Warn("cannot kill what is left of an app", "event", "cgroup-failed", "cgroup", cg, "error", err)
	}
	err := t.rmdir(cg)
	switch {
	case err == nil:
	case errors.Is(err, unix.EBUSY):
		t.removeWhenEmpty(cg)
	default:
		t.log.Warn("cannot remove an app's cgroup", "event", "cgroup-failed", "cgroup", cg, "error", err)
	}
}

// rmdir removes cg and the cgroups below it. A cgroup that is not there
// is not an error. A cgroup in another home's cgroup (a previous daemon's,
// which ran elsewhere) takes that one along when it is the last.
func (t *cgroupTree) rmdir(cg string) error {
	err := rmdirTree(t.dir(cg))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil && path.Dir(cg) != t.parent {
		_ = unix.Rmdir(t.dir(path.Dir(cg)))
	}
	return err
}

func rmdirTree(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir() {
			if err := rmdirTree(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return unix.Rmdir(dir)
}

// removeWhenEmpty removes cg once its processes are gone. The kernel
// reports that as a change of cgroup.events, which an inotify watch turns
// into a readable descriptor in the runtime poller: the goroutine sleeps
// until then.
func (t *cgroupTree) removeWhenEmpty(cg string) {
	fail := func(err error) {
		t.log.Warn("cannot wait for an app's cgroup to empty; leaving it", "event", "cgroup-failed", "cgroup", cg, "error", err)
	}
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		fail(err)
		return
	}
	if _, err := unix.InotifyAddWatch(fd, filepath.Join(t.dir(cg), "cgroup.events"), unix.IN_MODIFY); err != nil {
		unix.Close(fd)
		if !errors.Is(err, fs.ErrNotExist) {
			fail(err)
		}
		return
	}
	f := os.NewFile(uintptr(fd), "inotify")
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		f.Close()
		return
	}
	t.waits[f] = struct{}{}
	t.wg.Add(1)
	t.mu.Unlock()
	go func() {
		defer t.wg.Done()
		defer func() {
			t.mu.Lock()
			delete(t.waits, f)
			t.mu.Unlock()
			f.Close()
		}()
		var buf [4096]byte
		for {
			// The watch is in place first: an emptying after this
			// attempt is an event to read.
			err := t.rmdir(cg)
			if !errors.Is(err, unix.EBUSY) {
				if err != nil {
					fail(err)
				}
				return
			}
			if _, err := f.Read(buf[:]); err != nil {
				return // closed: the daemon exits
			}
		}
	}()
}

// close ends the tree's work as the daemon exits: it waits until ctx ends
// for the cgroups being removed to empty, leaves the rest, and removes the
// home's cgroup when no app's cgroup is left in it.
func (t *cgroupTree) close(ctx context.Context) {
	if t == nil {
		return
	}
	done := make(chan struct{})
	go func() {
		t.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	t.mu.Lock()
	t.closed = true
	for f := range t.waits {
		f.Close()
	}
	t.mu.Unlock()
	<-done
	_ = unix.Rmdir(t.dir(t.parent)) // EBUSY: apps kept running, or stragglers
}

// The supervisor's side. These run on its goroutine; each is a few
// system calls on cgroupfs.

// appCgroup is the cgroup of the app called name ("" when cgroups are
// off). It reads only what is fixed before the loop starts, so spawns
// call it off the loop.
func (s *Supervisor) appCgroup(name string) string {
	if s.cgroups == nil {
		return ""
	}
	return s.cgroups.app(s.tokens.appKey(name))
}

// useCgroup records the cgroup of the app's new process p. A cgroup in
// which a previous daemon had put the app, and which this daemon does not
// use, is removed: its last process has exited.
func (s *Supervisor) useCgroup(a *app, p process) {
	var cg string
	switch p := p.(type) {
	case *childProc:
		cg = p.cgroup
	case *adoptedProc:
		cg = s.cgroups.adopted(p.pid, s.tokens.appKey(a.spec.Name))
		if cg != "" && sameProcess(p.pid, p.start) != nil {
			cg = "" // the process ended while its cgroup was read
		}
	}
	if a.cgroup != "" && a.cgroup != cg && a.cgroup != s.appCgroup(a.spec.Name) {
		s.cgroups.remove(a.cgroup)
	}
	a.cgroup = cg
}

// terminate asks a running app to stop: SIGTERM to its process group, and
// to every other process of its cgroup.
func (s *Supervisor) terminate(a *app) {
	if err := s.signal(a.pid, syscall.SIGTERM); err != nil {
		s.log.Warn("cannot signal app", "event", "signal-failed", "app", a.spec.Name, "pid", a.pid, "error", err)
	}
	if a.cgroup == "" {
		return
	}
	if err := s.cgroups.signal(a.cgroup, unix.SIGTERM, a.pid); err != nil {
		s.log.Warn("cannot signal app", "event", "signal-failed", "app", a.spec.Name, "pid", a.pid, "error", err)
	}
}

// kill ends a running app that outlived its kill timeout: SIGKILL to its
// process group, and cgroup.kill.
func (s *Supervisor) kill(a *app) {
	_ = s.signal(a.pid, syscall.SIGKILL)
	if a.cgroup == "" {
		return
	}
	if err := s.cgroups.kill(a.cgroup); err != nil {
		s.log.Warn("cannot kill app", "event", "signal-failed", "app", a.spec.Name, "pid", a.pid, "error", err)
	}
}

// killLeftovers ends whatever the app's leader (pid, now exited) left
// behind: everything in its cgroup, or without one its process group.
func (s *Supervisor) killLeftovers(a *app, pid int) {
	if a.cgroup != "" {
		err := s.cgroups.kill(a.cgroup)
		if err == nil {
			return
		}
		s.log.Warn("cannot kill what is left of app", "event", "signal-failed", "app", a.spec.Name, "pid", pid, "error", err)
	}
	_ = s.signal(pid, syscall.SIGKILL)
}

// discardCgroup kills what a discarded process of app id may have
// started already, unless the app runs (then the cgroup is its process's).
// When the app is gone — removed while the process was being created, its
// cgroups dropped meanwhile from under the spawn — the cgroup goes too.
func (s *Supervisor) discardCgroup(id int, p process) {
	c, ok := p.(*childProc)
	if !ok || c.cgroup == "" {
		return
	}
	a := s.apps[id]
	switch {
	case a == nil:
		s.cgroups.remove(c.cgroup)
	case a.running():
	default:
		if err := s.cgroups.kill(c.cgroup); err != nil {
			s.log.Warn("cannot kill what is left of a discarded process", "event", "signal-failed", "pid", c.pid, "error", err)
		}
	}
}

// dropCgroups removes the cgroups of an app that no process of which may
// run any more: it was removed, or the daemon stopped every app.
func (s *Supervisor) dropCgroups(a *app) {
	if s.cgroups == nil {
		return
	}
	if a.cgroup != "" {
		s.cgroups.remove(a.cgroup)
	}
	if cg := s.appCgroup(a.spec.Name); cg != a.cgroup {
		s.cgroups.remove(cg)
	}
}

// killStale kills what a dead daemon left running in the cgroup of an
// app that should not run.
func (s *Supervisor) killStale(a *app) {
	if s.cgroups == nil {
		return
	}
	if err := s.cgroups.kill(s.appCgroup(a.spec.Name)); err != nil {
		s.log.Warn("cannot kill what is left of app", "event", "signal-failed", "app", a.spec.Name, "error", err)
	}
}
