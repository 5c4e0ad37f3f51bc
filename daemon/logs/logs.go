// Package logs is where an app's output goes: the log files the daemon
// derives from its name, opened for the app without following links, and
// emptied on `opm flush`.
package logs

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"golang.org/x/sys/unix"

	"opm/daemon/api"
	"opm/shm"
)

// Paths returns an app's stdout and stderr log files.
func Paths(home, name string) (out, err string) {
	dir := filepath.Join(home, api.LogsDir)
	return filepath.Join(dir, name+"-out.log"), filepath.Join(dir, name+"-err.log")
}

// Own sets spec's log paths to the ones derived from its name
// under home. Paths the daemon writes to are never taken from a file (the
// dump, a runtime record): whoever could change the file could otherwise
// make the daemon write anywhere its user may.
func Own(spec *api.Spec, home string) {
	spec.OutLog, spec.ErrLog = Paths(home, spec.Name)
}

// Open opens a log file for appending, creating it when needed. It
// never follows a symlink and refuses a file that is not the user's own
// (shm.OpenOwned), so a planted link cannot make the daemon write an app's
// output into another file. It returns a raw descriptor (close-on-exec;
// the spawn dups it into the child): the daemon never reads or writes it,
// so os.OpenFile's poller registration would be wasted system calls on
// every (re)start.
func Open(path string) (int, error) {
	fd, err := shm.OpenOwned(path, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT, 0o644)
	if err != nil {
		return -1, fmt.Errorf("open log: %w", err)
	}
	return fd, nil
}

// Flush empties an app's log files through descriptors opened without
// following symlinks. The app keeps writing to them: they are open with
// O_APPEND, so its next line lands at the new end.
func Flush(spec api.Spec) error {
	for _, p := range []string{spec.OutLog, spec.ErrLog} {
		fd, err := shm.OpenOwned(p, unix.O_WRONLY, 0)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("flush log: %w", err)
		}
		err = unix.Ftruncate(fd, 0)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("flush log %s: %w", p, err)
		}
	}
	return nil
}
