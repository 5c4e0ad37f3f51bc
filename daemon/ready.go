package daemon

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// ReadyFDEnv names the descriptor on which the daemon reports readiness to
// the command that started it.
const ReadyFDEnv = "OPM_READY_FD"

// readiness writes exactly one line to the $OPM_READY_FD pipe, then
// closes it: "ready <pid>", "running" or "error <message>".
type readiness struct {
	mu sync.Mutex
	f  *os.File
}

// openReadiness takes the readiness descriptor named by $OPM_READY_FD, if
// any, and unsets the variable so that nothing else inherits it.
func openReadiness() *readiness {
	v := os.Getenv(ReadyFDEnv)
	os.Unsetenv(ReadyFDEnv)
	fd, err := strconv.Atoi(v)
	if v == "" || err != nil || fd < 3 {
		return &readiness{}
	}
	syscall.CloseOnExec(fd)
	return &readiness{f: os.NewFile(uintptr(fd), "readiness")}
}

// send writes the line; it reports false when there is no pipe (or the
// line was already sent).
func (r *readiness) send(format string, args ...any) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return false
	}
	line := strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", " ")
	_, _ = r.f.WriteString(line + "\n")
	r.f.Close()
	r.f = nil
	return true
}

func (r *readiness) ready(pid int)    { r.send("ready %d", pid) }
func (r *readiness) running() bool    { return r.send("running") }
func (r *readiness) failed(err error) { r.send("error %v", err) }
