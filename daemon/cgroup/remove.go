package cgroup

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// remove kills what is left in cg and removes it, with any cgroups an app
// made below it. Killed processes take a moment to exit, and until then
// the directory cannot go: a goroutine then waits for cgroup.events to
// change and removes it once empty, or leaves it when the daemon exits.
func (t *Tree) Remove(cg string) {
	if t == nil {
		return
	}
	if err := t.Kill(cg); err != nil {
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
func (t *Tree) rmdir(cg string) error {
	err := RemoveTree(t.dir(cg))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil && path.Dir(cg) != t.parent {
		_ = unix.Rmdir(t.dir(path.Dir(cg)))
	}
	return err
}

// RemoveTree removes the cgroup directory dir and those below it, deepest
// first; a cgroup that still holds a process is EBUSY.
func RemoveTree(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir() {
			if err := RemoveTree(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
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
func (t *Tree) removeWhenEmpty(cg string) {
	fail := func(err error) {
		t.log.Warn("cannot wait for an app's cgroup to empty; leaving it", "event", "cgroup-failed", "cgroup", cg, "error", err)
	}
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		fail(err)
		return
	}
	if _, err := unix.InotifyAddWatch(fd, t.events(cg), unix.IN_MODIFY); err != nil {
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
func (t *Tree) Close(ctx context.Context) {
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
