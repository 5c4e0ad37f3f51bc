package shm

import (
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
)

// Home returns opm's home directory: $OPM_HOME, or ~/.opm. The path is
// absolute; the directory is not created.
func Home() (string, error) {
	if h := os.Getenv("OPM_HOME"); h != "" {
		abs, err := filepath.Abs(h)
		if err != nil {
			return "", fmt.Errorf("resolve OPM_HOME %q: %w", h, err)
		}
		return abs, nil
	}
	u, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the home directory: %w (set OPM_HOME)", err)
	}
	return filepath.Join(u, ".opm"), nil
}

// RuntimeDir returns the RAM-backed runtime directory for home:
// $OPM_RUNTIME_DIR when set; else /dev/shm/opm-<uid>-<hash of home>; else,
// without /dev/shm, $XDG_RUNTIME_DIR/opm-<hash of home>. Two homes never
// share a runtime directory. The directory is not created (see EnsureDir).
func RuntimeDir(home string) (string, error) {
	if d := os.Getenv("OPM_RUNTIME_DIR"); d != "" {
		abs, err := filepath.Abs(d)
		if err != nil {
			return "", fmt.Errorf("resolve OPM_RUNTIME_DIR %q: %w", d, err)
		}
		return abs, nil
	}
	h := fnv.New32a()
	h.Write([]byte(home))
	sum := h.Sum32()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		return fmt.Sprintf("/dev/shm/opm-%d-%08x", os.Geteuid(), sum), nil
	}
	if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" {
		return filepath.Join(x, fmt.Sprintf("opm-%08x", sum)), nil
	}
	return "", errors.New("no RAM-backed runtime directory: /dev/shm is missing and XDG_RUNTIME_DIR is not set (set OPM_RUNTIME_DIR to a tmpfs directory)")
}

// EnsureDir creates dir (mode 0700) if needed and checks that it is a
// private directory of the current user: a real directory, not a symlink,
// owned by us, with no group or other permissions. Anything else is refused
// with an error that says how to fix it; nothing is changed behind the
// user's back.
func EnsureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create runtime directory: %w", err)
	}
	return CheckPrivateDir(dir)
}
