package daemon

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"opm/daemon/api"
	"opm/daemon/internal/proc"
)

// process is a running app process the supervisor can watch and signal.
type process interface {
	Pid() int
	// StartTicks is the process start time (clock ticks since boot).
	StartTicks() uint64
	// Wait blocks until the process has exited.
	Wait() exitStatus
}

// exitStatus is how a process ended.
type exitStatus struct {
	// Code is the exit code, -1 when killed by a signal or unknown.
	Code   int
	Signal syscall.Signal
	// Known is false for adopted processes, whose status only their
	// parent could read.
	Known bool
}

func (e exitStatus) success() bool { return e.Known && e.Code == 0 }

func (e exitStatus) String() string {
	switch {
	case !e.Known:
		return "unknown status (adopted process)"
	case e.Signal != 0:
		return "signal " + e.Signal.String()
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

// spawner starts an app's process; tests replace it.
type spawner func(spec api.Spec) (process, error)

// childProc is a process the daemon started and therefore waits for.
type childProc struct {
	p     *os.Process
	start uint64
}

func (c *childProc) Pid() int           { return c.p.Pid }
func (c *childProc) StartTicks() uint64 { return c.start }

func (c *childProc) Wait() exitStatus {
	st, err := c.p.Wait()
	if err != nil {
		return exitStatus{Code: -1}
	}
	ws, _ := st.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return exitStatus{Code: -1, Signal: ws.Signal(), Known: true}
	}
	return exitStatus{Code: ws.ExitStatus(), Known: true}
}

// spawnProcess starts spec in its own session with stdin on /dev/null and
// stdout/stderr appended straight to its log files: the app's output never
// passes through the daemon, and the files stay open in the app when the
// daemon goes away.
func spawnProcess(devNull *os.File) spawner {
	return func(spec api.Spec) (process, error) {
		out, err := openLog(spec.OutLog)
		if err != nil {
			return nil, err
		}
		defer out.Close()
		errf, err := openLog(spec.ErrLog)
		if err != nil {
			return nil, err
		}
		defer errf.Close()
		p, err := os.StartProcess(spec.Exec, spec.Argv, &os.ProcAttr{
			Dir:   spec.Cwd,
			Env:   spec.Env,
			Files: []*os.File{devNull, out, errf},
			Sys:   &syscall.SysProcAttr{Setsid: true},
		})
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", spec.Exec, err)
		}
		start, err := proc.StartTime(p.Pid)
		if err != nil {
			// The child is ours and unreaped, so /proc/<pid> exists
			// even if it already exited; this is not expected.
			start = 0
		}
		return &childProc{p: p, start: start}, nil
	}
}

// killGroup sends sig to the process group led by pid. A group that is
// already gone is not an error.
func killGroup(pid int, sig syscall.Signal) error {
	// kill(-1) would signal every process we may signal: never.
	if pid <= 1 {
		return fmt.Errorf("signal process group %d: refused", pid)
	}
	err := syscall.Kill(-pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("signal process group %d: %w", pid, err)
	}
	return nil
}
