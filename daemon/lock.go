package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// LockName is the daemon lock inside the runtime directory.
const LockName = "daemon.lock"

// ErrRunning reports that another daemon holds the lock for this OPM_HOME.
var ErrRunning = errors.New("another opm daemon is already running for this OPM_HOME")

// lockDaemon takes the exclusive kernel lock on <runtime>/daemon.lock that
// makes this the one daemon of its OPM_HOME. The kernel drops it when the
// process dies, however it dies. The descriptor is close-on-exec, so apps
// never inherit it.
func lockDaemon(runtimeDir string) (*os.File, error) {
	path := filepath.Join(runtimeDir, LockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open daemon lock %s: %w", path, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if errors.Is(err, unix.EWOULDBLOCK) {
		f.Close()
		return nil, ErrRunning
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}
