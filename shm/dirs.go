package shm

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Home returns opm's home directory, ready to use and trusted: $OPM_HOME
// (made absolute against the current directory) or ~/.opm, created (mode
// 0700) when missing, checked by CheckHome, and resolved to its real path.
// Every later use takes that path — the daemon is handed it too — so a
// relative OPM_HOME, or a symlink swapped after the check, changes nothing.
func Home() (string, error) {
	home := os.Getenv("OPM_HOME")
	if home != "" {
		abs, err := filepath.Abs(home)
		if err != nil {
			return "", fmt.Errorf("resolve OPM_HOME %q: %w", home, err)
		}
		home = abs
	} else {
		u, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find the home directory: %w (set OPM_HOME)", err)
		}
		home = filepath.Join(u, ".opm")
	}
	if err := os.MkdirAll(home, 0o700); err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return "", fmt.Errorf("OPM_HOME %s cannot be reached or created: %w; it belongs to another user, or lies in one of theirs (run opm as its owner, or set OPM_HOME to a directory of your own)", home, err)
		}
		return "", fmt.Errorf("create OPM_HOME %s: %w", home, err)
	}
	return CheckHome(home)
}
