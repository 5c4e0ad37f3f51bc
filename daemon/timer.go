package daemon

import (
	"time"

	"opm/daemon/api"
)

// schedule arms the app's timer; its event is stale once the timer is
// cancelled or replaced.
func (s *Supervisor) schedule(a *app, d time.Duration, kind timerKind) {
	a.cancelTimer()
	a.timerDue = s.now().Add(d)
	a.timer = s.after(d, timerEvent{id: a.id, seq: a.timerSeq, kind: kind})
}

// onTimer handles a back-off or kill timer.
func (s *Supervisor) onTimer(ev timerEvent) {
	if ev.kind == recheckTimer {
		s.onRecheck()
		return
	}
	a := s.apps[ev.id]
	if a == nil || ev.seq != a.timerSeq {
		return // cancelled
	}
	a.timer = nil
	a.timerDue = time.Time{}
	switch {
	case ev.kind == restartTimer && a.state == Waiting:
		s.restartNow(a)
	case ev.kind == killTimer && a.state == Stopping:
		s.log.Warn("app outlived its kill signal, killing it", "event", "killing", "app", a.label(), "pid", a.pid, "signal", api.SignalString(killSignal(a.spec)))
		s.kill(a)
	}
}
