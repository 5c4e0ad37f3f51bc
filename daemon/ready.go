package daemon

import (
	"os"
	"strconv"
	"sync"
	"syscall"

	"opm/daemon/api"
)

// readiness writes exactly one line to the $OPM_READY_FD pipe, then
// closes it (the protocol: api.Readiness).
type readiness struct {
	mu sync.Mutex
	f  *os.File
}

// openReadiness takes the readiness descriptor named by $OPM_READY_FD, if
// any, and unsets the variable so that nothing else inherits it.
func openReadiness() *readiness {
	v := os.Getenv(api.ReadyFDEnv)
	os.Unsetenv(api.ReadyFDEnv)
	fd, err := strconv.Atoi(v)
	if v == "" || err != nil || fd < 3 {
		return &readiness{}
	}
	syscall.CloseOnExec(fd)
	return &readiness{f: os.NewFile(uintptr(fd), "readiness")}
}

// send writes the line; it reports false when there is no pipe (or the
// line was already sent).
func (r *readiness) send(line api.Readiness) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return false
	}
	_, _ = r.f.WriteString(line.Line() + "\n")
	r.f.Close()
	r.f = nil
	return true
}

func (r *readiness) ready(pid int) { r.send(api.Readiness{Kind: api.ReadyServing, PID: pid}) }
func (r *readiness) running() bool { return r.send(api.Readiness{Kind: api.ReadyRunning}) }
func (r *readiness) failed(err error) {
	r.send(api.Readiness{Kind: api.ReadyFailed, Message: err.Error()})
}
