package daemon

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"opm/daemon/api"
)

// logPaths returns an app's stdout and stderr log files.
func logPaths(home, name string) (out, err string) {
	dir := filepath.Join(home, api.LogsDir)
	return filepath.Join(dir, name+"-out.log"), filepath.Join(dir, name+"-err.log")
}

// openLog opens a log file for appending, creating it when needed. It
// returns a raw descriptor (close-on-exec; the spawn dups it into the
// child): the daemon never reads or writes it, so os.OpenFile's poller
// registration would be wasted system calls on every (re)start.
func openLog(path string) (int, error) {
	for {
		fd, err := unix.Open(path, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, fmt.Errorf("open log %s: %w", path, &os.PathError{Op: "open", Path: path, Err: err})
		}
		return fd, nil
	}
}

// flushLogs empties an app's log files. The app keeps writing to them:
// they are open with O_APPEND, so its next line lands at the new end.
func flushLogs(spec api.Spec) error {
	for _, p := range []string{spec.OutLog, spec.ErrLog} {
		if err := os.Truncate(p, 0); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("flush log %s: %w", p, err)
		}
	}
	return nil
}
