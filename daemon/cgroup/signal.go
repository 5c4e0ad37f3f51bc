package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// kill ends every process in cg and below (cgroup.kill: SIGKILL, and no
// fork racing it escapes). A cgroup that does not exist has nothing to
// kill.
func (t *Tree) Kill(cg string) error {
	if t == nil {
		return nil
	}
	// A cgroup once killed kills what is cloned into it afterwards on
	// some kernels (6.18: its kill_seq stays apart from the fork's):
	// its leaves are not reused.
	t.forget(cg)
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
func (t *Tree) Signal(cg string, sig unix.Signal, pgid int) error {
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
			if now, err := Of(pid); err == nil && within(cg, now) {
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

// KillLeftovers kills what is left in cg once its app's process has
// ended, if anything is: a cgroup with no process left is not touched,
// so that its leaf can serve the next process (Enter).
func (t *Tree) KillLeftovers(cg string) error {
	if t == nil {
		return nil
	}
	if !populated(t.events(cg)) {
		t.emptied(cg)
		return nil
	}
	return t.Kill(cg)
}
