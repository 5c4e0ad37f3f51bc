package shm

import (
	"fmt"
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
