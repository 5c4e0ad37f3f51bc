package daemon

import (
	"time"

	"opm/daemon/api"
)

// stopApp asks a running app to stop (SIGTERM to its process group and
// cgroup, then SIGKILL after its kill timeout) and cancels any pending restart, so a
// stop never races a crash-restart.
func (s *Supervisor) stopApp(a *app) {
	a.restartAfterStop = false
	if r := a.retiring; r != nil && !r.terminating {
		s.retire(a) // a reload's old process stops too
	}
	switch a.state {
	case Online:
		a.cancelTimer()
		s.move(a, Stopping)
		s.terminate(a)
		s.schedule(a, time.Duration(a.spec.KillTimeoutMs)*time.Millisecond, killTimer)
		s.log.Info("stopping app", "event", "stopping", "app", a.label(), "pid", a.pid)
	case Waiting, Launching, Errored:
		a.cancelTimer()
		a.deferred = false
		s.move(a, Stopped)
		s.log.Info("app stopped", "event", "stopped", "app", a.label(), "pid", 0)
		s.publish(a, api.Event{Type: api.EventTypeStop})
	}
}
