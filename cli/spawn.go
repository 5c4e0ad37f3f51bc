package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"opm/daemon/api"
	"opm/shm"
)

// spawnDaemon starts `opm daemon run` detached from this command: its own
// session, stdin /dev/null, stdout and stderr appended to daemon.log, and a
// readiness pipe on fd 3 (OPM_READY_FD). The daemon writes one line to it:
// "ready <pid>" once it listens, "running" when another daemon holds the
// lock (it then exits), or "error <message>". started reports whether the
// daemon spawned here is the one that runs.
func spawnDaemon(ctx context.Context, p paths) (started bool, err error) {
	exe, err := os.Executable()
	if err != nil {
		return false, fmt.Errorf("find the opm executable: %w", err)
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return false, fmt.Errorf("open %s: %w", os.DevNull, err)
	}
	defer devnull.Close()
	// daemon.log is where the daemon will keep it (log_dir,
	// $OPM_LOG_DIR, OPM_HOME). Where the logs have nowhere to go (a
	// read-only OPM_HOME without log_dir), the daemon refuses to start
	// and says why through the readiness pipe; its output is dropped.
	logf := devnull
	where, lerr := shm.ResolveLogs(p.home, shm.ReadLogDirSetting(p.home))
	logPath := where.DaemonLog
	if logPath == "" {
		logPath = shm.PlannedLogs(p.home).DaemonLog
	}
	if lerr == nil {
		f, err := shm.OpenOwnedFile(logPath, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT, 0o600)
		if err != nil {
			return false, fmt.Errorf("open the daemon log: %w", err)
		}
		defer f.Close()
		logf = f
	}
	r, w, err := os.Pipe()
	if err != nil {
		return false, fmt.Errorf("create the readiness pipe: %w", err)
	}
	defer r.Close()

	cmd := exec.Command(exe, "daemon", "run")
	cmd.Dir = "/"
	cmd.Env = daemonEnv(p)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, logf, logf
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return false, fmt.Errorf("start the opm daemon: %w", err)
	}

	line, rerr := readLine(ctx, r)
	if rerr == nil {
		var ready api.Readiness
		ready, rerr = api.ParseReadiness(line)
		switch ready.Kind {
		case api.ReadyServing:
			// The daemon lives on; it is reparented when this command exits.
			_ = cmd.Process.Release()
			return true, nil
		case api.ReadyRunning:
			// Another daemon won the lock; this one exits by itself.
			_ = cmd.Wait()
			return false, nil
		case api.ReadyFailed:
			_ = cmd.Wait()
			return false, fmt.Errorf("the opm daemon failed to start: %s (see %s)", ready.Message, logPath)
		}
	}
	if errors.Is(rerr, os.ErrDeadlineExceeded) || ctx.Err() != nil {
		_ = cmd.Process.Release()
		return false, fmt.Errorf("the opm daemon did not report readiness in time (see %s)", logPath)
	}
	_ = cmd.Wait()
	return false, fmt.Errorf("the opm daemon exited before it was ready: %v (see %s)", rerr, logPath)
}

// readLine reads one line from the readiness pipe, giving up when ctx ends.
func readLine(ctx context.Context, r *os.File) (string, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = r.SetReadDeadline(dl)
	} else {
		_ = r.SetReadDeadline(time.Now().Add(startTimeout))
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if errors.Is(err, io.EOF) && line == "" {
		err = io.ErrUnexpectedEOF
	} else if errors.Is(err, io.EOF) {
		err = nil
	}
	return strings.TrimSpace(line), err
}

// daemonEnv is the environment of the daemon a command starts: its own,
// with OPM_HOME (and OPM_RUNTIME_DIR, when set) as this command resolved
// them — absolute and real, since the daemon runs in / — and the
// readiness descriptor.
func daemonEnv(p paths) []string {
	// A service manager's socket is not the spawned daemon's to use:
	// the service is whatever ran this command, not the daemon.
	env := append(withoutEnv(os.Environ(), append([]string{"OPM_HOME"}, api.ServiceEnv...)...), "OPM_HOME="+p.home, api.ReadyFDEnv+"=3")
	if os.Getenv("OPM_RUNTIME_DIR") != "" {
		env = append(withoutEnv(env, "OPM_RUNTIME_DIR"), "OPM_RUNTIME_DIR="+p.runtime)
	}
	return env
}

// withoutEnv returns env without the variables named by keys.
func withoutEnv(env []string, keys ...string) []string {
	out := make([]string, 0, len(env))
next:
	for _, kv := range env {
		for _, k := range keys {
			if strings.HasPrefix(kv, k+"=") {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}
