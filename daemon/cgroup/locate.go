package cgroup

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
)

// Dir returns the directory that holds the apps' cgroups of a daemon
// for home started from the caller's cgroup, or why cgroup v2 cannot be
// used. It changes nothing.
func Dir(home string) (string, error) {
	t, err := locate(home, Auto)
	if err != nil {
		return "", err
	}
	return t.dir(t.parent), nil
}

// DirOf is the directory of cgroup cg, named as /proc/<pid>/cgroup names
// it, or why cgroup v2 cannot be used. It changes nothing.
func DirOf(cg string) (string, error) {
	t, err := locate("", Auto)
	if err != nil {
		return "", err
	}
	return t.dir(cg), nil
}

// locate finds the cgroup2 mount and the daemon's own cgroup, and
// from them the home's cgroup. It changes nothing.
func locate(home, mode string) (*Tree, error) {
	if mode == Off {
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
	own, err := Of(os.Getpid())
	if err != nil {
		return nil, err
	}
	if !within(root, own) {
		return nil, fmt.Errorf("the daemon's cgroup %s is outside the cgroup2 mount at %s", own, mount)
	}
	return &Tree{mount: mount, root: root, parent: path.Join(own, cgroupParentName(home))}, nil
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

// Of is the cgroup v2 of process pid.
func Of(pid int) (string, error) {
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
