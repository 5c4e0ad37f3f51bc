package daemon

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"opm/shm"
)

// LockName is the daemon lock inside the runtime directory (and in
// OPM_HOME: lockHome).
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

// lockHome takes a second exclusive lock, on $OPM_HOME/daemon.lock, which
// makes this the one daemon of its home even when two commands resolved
// different runtime directories (one saw XDG_RUNTIME_DIR, one did not,
// while the default was taken). The lock file names the holder's pid and
// runtime directory, so that a daemon refused here can say where its
// rival serves. A home where the file cannot be created (read-only) has
// only the runtime directory's lock; that is logged.
func lockHome(home, runtimeDir string, log *slog.Logger) (*os.File, error) {
	path := filepath.Join(home, LockName)
	f, err := shm.OpenOwnedFile(path, unix.O_RDWR|unix.O_CREAT, 0o600)
	if errors.Is(err, unix.EROFS) || errors.Is(err, unix.EACCES) {
		log.Warn("cannot lock OPM_HOME; only the runtime directory's lock keeps this daemon single", "event", "home-lock-skipped", "error", err)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open the home lock: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if errors.Is(err, unix.EWOULDBLOCK) {
		holder, _ := io.ReadAll(io.LimitReader(f, 4096))
		f.Close()
		pid, dir, _ := strings.Cut(strings.TrimSpace(string(holder)), " ")
		if dir == runtimeDir {
			return nil, ErrRunning
		}
		if dir == "" {
			return nil, fmt.Errorf("another opm daemon is starting for this OPM_HOME; run the command again in a moment (see 'opm daemon status')")
		}
		return nil, fmt.Errorf("another opm daemon (pid %s) serves this OPM_HOME from the runtime directory %s; reach it with OPM_RUNTIME_DIR=%s, or stop it first ('OPM_RUNTIME_DIR=%s opm daemon stop')", pid, dir, dir, dir)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	line := fmt.Sprintf("%d %s\n", os.Getpid(), runtimeDir)
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(line), 0)
	}
	return f, nil
}
