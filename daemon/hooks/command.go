package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"opm/daemon/api"
)

// Env is the environment a command hook gets for ev, beside the daemon's.
func Env(ev api.Event) []string {
	data, _ := json.Marshal(ev)
	env := []string{
		"OPM_EVENT=" + ev.Type,
		"OPM_APP=" + ev.App,
		"OPM_NAME=" + ev.Name,
		"OPM_TIME=" + ev.Time.Format(time.RFC3339Nano),
		"OPM_EVENT_JSON=" + string(data),
		"OPM_PID=", "OPM_EXIT_CODE=",
		"OPM_SIGNAL=" + ev.Signal,
		"OPM_REASON=" + ev.Reason,
		"OPM_RESTARTS=" + strconv.Itoa(ev.Restarts),
	}
	if ev.PID != 0 {
		env[5] += strconv.Itoa(ev.PID)
	}
	if ev.Code != nil {
		env[6] += strconv.Itoa(*ev.Code)
	}
	return env
}

// command runs a command hook with /bin/sh -c, killing its process group
// at the timeout. Its output is discarded but for the end of its stderr,
// which a failure reports.
func (r *Runner) command(ev api.Event, cmd string) error {
	ctx, cancel := context.WithTimeout(r.ctx, r.Timeout)
	defer cancel()
	c := exec.CommandContext(ctx, "/bin/sh", "-c", cmd)
	// The daemon's environment (that of the command that started it),
	// less what describes the daemon's own service (its service
	// manager's NOTIFY_SOCKET...: a READY=1 would go to systemd), and
	// the event.
	c.Env = append(api.WithoutServiceEnv(os.Environ()), Env(ev)...)
	c.Dir = "/"
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	c.WaitDelay = time.Second
	var stderr tailBuffer
	c.Stderr = &stderr
	err := c.Run()
	if err == nil {
		return nil
	}
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("timed out after %s (killed)", r.Timeout)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && stderr.Len() > 0 {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return err
}

// tailBuffer keeps the last 512 bytes written to it.
type tailBuffer struct{ bytes.Buffer }

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	t.Buffer.Write(p)
	if over := t.Len() - 512; over > 0 {
		t.Next(over)
	}
	return n, nil
}
