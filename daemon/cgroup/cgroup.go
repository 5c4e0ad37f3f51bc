package cgroup

import (
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"opm/daemon/api"
)

// Values of the cgroups key in config.toml: Auto uses cgroups where they
// are usable, Off never.
const (
	Auto = "auto"
	Off  = "off"
)

// errCgroupsOff is why cgroups are off when the user said so.
var errCgroupsOff = errors.New(`cgroups = "off" in config.toml`)

// Tree is the home's cgroup and its apps' cgroups. Cgroups are named
// as /proc/<pid>/cgroup names them (paths in the cgroup2 hierarchy); dir
// turns one into its directory. A nil tree means cgroups are off; its
// methods then do nothing.
type Tree struct {
	// mount is where cgroup2 is mounted and root the mount's root in
	// the hierarchy ("/" unless a container mounted a subtree).
	mount, root string
	// parent is the home's cgroup, e.g. "/opm-1a2b3c4d".
	parent string
	log    *slog.Logger

	// Removals waiting for their cgroup to empty; the daemon's exit
	// (close) waits for them, then closes what is left in waits.
	mu    sync.Mutex
	waits map[*os.File]struct{}
	// leaves: the leaf each app cgroup's latest process was cloned into
	// (enter's reuse).
	leaves map[string]leafOf
	closed bool
	wg     sync.WaitGroup
}

// Setup decides the daemon's cgroup mode and says once in the
// daemon log which mode is in effect and why.
func Setup(home, mode string, log *slog.Logger) (*Tree, api.Cgroups) {
	t, err := locate(home, mode)
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

// create makes the home's cgroup and checks that it is usable: a cgroup2
// directory we own, with cgroup.kill, into which a process can be cloned.
func (t *Tree) create() error {
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
func (t *Tree) probe() error {
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
	// The pidfd pins the process until it is reaped here (or by
	// ForkExec, when the exec fails): a reaper in this process (`opm
	// run`, daemon/process/reap.go) leaves it alone.
	pidfd := -1
	pid, err := syscall.ForkExec(none, []string{none}, &syscall.ProcAttr{
		Sys: &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd, PidFD: &pidfd},
	})
	if pidfd >= 0 {
		// Closed after the wait below (ForkExec closes it on failure).
		defer unix.Close(pidfd)
	}
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil // it ran, in the cgroup
	case CloneUnsupported(err):
		return fmt.Errorf("the kernel cannot clone a process into a cgroup (clone3 with CLONE_INTO_CGROUP: %w; Linux 5.7 or newer is needed)", err)
	case err != nil:
		return fmt.Errorf("clone a process into cgroup %s: %w (cgroup v2 is not delegated to this user)", dir, err)
	}
	var ws syscall.WaitStatus
	for {
		if _, err := syscall.Wait4(pid, &ws, 0, nil); err != syscall.EINTR {
			break
		}
	}
	return fmt.Errorf("a process cloned into cgroup %s was killed at birth (signal %v): the kernel does this when the daemon's own cgroup was once killed through cgroup.kill; run the daemon in another cgroup", dir, ws.Signal())
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
func (t *Tree) App(key string) string {
	if t == nil {
		return ""
	}
	return path.Join(t.parent, appCgroupName(key))
}

// dir is the directory of cgroup cg.
func (t *Tree) dir(cg string) string {
	return filepath.Join(t.mount, strings.TrimPrefix(cg, t.root))
}

// within reports whether cgroup cg is root or below it.
func within(root, cg string) bool {
	return root == "/" || cg == root || strings.HasPrefix(cg, root+"/")
}

// adopted returns the cgroup of the app with this key that holds the
// adopted process pid: the app-<key> above the process's cgroup, under a home's cgroup of
// this OPM_HOME (the daemon that started it may have run in another
// cgroup); "" when the process is in no such cgroup.
func (t *Tree) Adopted(pid int, key string) string {
	if t == nil {
		return ""
	}
	cg, err := Of(pid)
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
