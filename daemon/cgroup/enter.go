package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Enter prepares an app's cgroup for its next process and returns a
// descriptor of the leaf for clone3, and the leaf's cgroup. When the
// leaf of the app's last process was found empty at its exit and never
// killed, that leaf serves again (reuse). Otherwise it creates the
// cgroup when needed, kills whatever is still in it — the app has no
// process when it is spawned, so anything there is a leftover: what a
// crashed leader left, or a previous daemon's half-finished spawn —
// removes the old leaves it can and makes a new one. keep, when not "", is a leaf of cg
// whose process runs on beside the new one (a reload's old process): it
// alone is spared.
func (t *Tree) Enter(cg, keep string) (fd int, leafCG string, err error) {
	dir := t.dir(cg)
	kept := ""
	if keep != "" && path.Dir(keep) == cg {
		kept = path.Base(keep)
	}
	if kept == "" {
		if fd, leaf, ok := t.reuse(cg); ok {
			return fd, leaf, nil
		}
	}
	if err := unix.Mkdir(dir, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, "", fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	if kept == "" {
		if err := t.Kill(cg); err != nil {
			return -1, "", err
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return -1, "", fmt.Errorf("read cgroup %s: %w", dir, err)
	}
	next := 0
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if e.Name() != kept {
			if kept != "" {
				// Only the leaves but the kept one are leftovers.
				if err := t.Kill(path.Join(cg, e.Name())); err != nil {
					return -1, "", err
				}
			}
			if RemoveTree(filepath.Join(dir, e.Name())) == nil {
				continue
			}
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
		return -1, "", fmt.Errorf("create cgroup %s: %w", leaf, err)
	}
	fd, err = unix.Open(leaf, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, "", fmt.Errorf("open cgroup %s: %w", leaf, err)
	}
	t.remember(cg, path.Base(leaf))
	return fd, path.Join(cg, path.Base(leaf)), nil
}

// reuse is enter's short way for a restart: when nothing at all runs in
// the app's cgroup any more (cgroup.events says "populated 0": no
// leftover, nothing dying), the leaf its last process ran in is empty
// and serves the next one as a new leaf would — without a kill, two
// directory reads, a removal and a creation on the crash-to-restart
// path. Anything else, or a leaf not known, takes the long way.
func (t *Tree) reuse(cg string) (fd int, leafCG string, ok bool) {
	t.mu.Lock()
	l := t.leaves[cg]
	t.mu.Unlock()
	// Found empty when its last process ended (KillLeftovers), it is
	// still: only the daemon clones into it.
	if l.name == "" || !l.empty && populated(t.events(cg)) {
		return -1, "", false
	}
	leaf := l.name
	fd, err := unix.Open(filepath.Join(t.dir(cg), leaf), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, "", false
	}
	t.remember(cg, leaf) // about to hold a process: not known empty
	return fd, path.Join(cg, leaf), true
}

// forget drops the leaf remembered for cg, or for the app cgroup cg is a
// leaf of.
func (t *Tree) forget(cg string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.leaves, cg)
	delete(t.leaves, path.Dir(cg))
}

// remember notes leaf as the one cg's latest process runs in.
func (t *Tree) remember(cg, leaf string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.leaves == nil {
		t.leaves = map[string]leafOf{}
	}
	t.leaves[cg] = leafOf{name: leaf}
}

// emptied notes that nothing runs in cg any more, if a leaf of it is
// remembered.
func (t *Tree) emptied(cg string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if l, ok := t.leaves[cg]; ok {
		l.empty = true
		t.leaves[cg] = l
	}
}

// leafOf is the leaf an app cgroup's latest process was cloned into;
// empty once that process ended and nothing was left.
type leafOf struct {
	name  string
	empty bool
}

// events is the cgroup.events file of the cgroup cg.
func (t *Tree) events(cg string) string { return filepath.Join(t.dir(cg), "cgroup.events") }

// populated reports whether the cgroup.events file at p says a process
// runs in the cgroup or below it; an unreadable one counts as populated.
func populated(p string) bool {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return true
	}
	defer unix.Close(fd)
	var buf [128]byte
	n, err := unix.Read(fd, buf[:])
	if err != nil || n <= 0 {
		return true
	}
	for line := range strings.SplitSeq(string(buf[:n]), "\n") {
		if v, ok := strings.CutPrefix(line, "populated "); ok {
			return v != "0"
		}
	}
	return true
}

// CloneUnsupported reports whether a spawn into a cgroup failed because
// clone3 or CLONE_INTO_CGROUP is not available (an old kernel, a seccomp
// filter that refuses clone3).
func CloneUnsupported(err error) bool {
	for _, e := range []error{unix.ENOSYS, unix.E2BIG, unix.EINVAL, unix.EOPNOTSUPP} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
