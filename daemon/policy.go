package daemon

import (
	"syscall"
	"time"

	"opm/daemon/api"
)

// backoff is the delay before restart number n+1 of a burst: the initial
// delay doubled n times, capped.
func backoff(initial, limit time.Duration, n int) time.Duration {
	d := initial
	for i := 0; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// onExit handles the end of an app's process: a stop completes, a restart
// goes on, a crash follows the restart policy.
func (s *Supervisor) onExit(ev exitEvent) {
	a := s.apps[ev.id]
	if a == nil || ev.seq != a.seq || !a.running() {
		return // a late event from an old process
	}
	pid := a.pid
	uptime := s.now().Sub(a.started)
	a.proc, a.pid = nil, 0
	a.exitCode = ev.status.Code
	a.cancelTimer()
	// Whatever the leader left behind in its group goes with it, so a
	// restart never runs next to a leftover of the previous run.
	_ = s.signal(pid, syscall.SIGKILL)
	s.log.Info("app exited", "event", "exited", "app", a.spec.Name, "pid", pid, "status", ev.status.String(), "uptime_ms", uptime.Milliseconds())

	if a.state == Stopping {
		if a.restartAfterStop && !s.stopping {
			a.restartAfterStop = false
			a.burst = 0
			a.restarts++
			_ = a.transition(Launching)
			s.launch(a, true)
			return
		}
		_ = a.transition(Stopped)
		s.log.Info("app stopped", "event", "stopped", "app", a.spec.Name, "pid", pid)
		return
	}
	s.afterCrash(a, ev.status, uptime)
}

// afterCrash applies the restart policy to an app whose process ended on
// its own.
func (s *Supervisor) afterCrash(a *app, st exitStatus, uptime time.Duration) {
	failed := !st.success()
	restart := a.spec.Restart == api.RestartAlways ||
		(a.spec.Restart == api.RestartOnFailure && failed) ||
		// An adopted app's status is unknown: treat on-failure as failed.
		(a.spec.Restart == api.RestartOnFailure && !st.Known)
	if !restart {
		if failed && st.Known {
			_ = a.transition(Errored)
			s.log.Info("app errored, not restarting", "event", "errored", "app", a.spec.Name, "pid", 0, "policy", a.spec.Restart)
		} else {
			_ = a.transition(Stopped)
			s.log.Info("app stopped, not restarting", "event", "stopped", "app", a.spec.Name, "pid", 0, "policy", a.spec.Restart)
		}
		return
	}
	if uptime >= s.cfg.RestartResetAfter {
		a.burst = 0
	}
	if a.burst >= a.spec.MaxRestarts {
		_ = a.transition(Errored)
		s.log.Warn("app errored: too many restarts", "event", "errored", "app", a.spec.Name, "pid", 0, "restarts", a.burst, "window", s.cfg.RestartResetAfter.String())
		return
	}
	d := backoff(s.cfg.RestartDelay, s.cfg.RestartDelayMax, a.burst)
	a.burst++
	_ = a.transition(Waiting)
	s.schedule(a, d, restartTimer)
	s.log.Info("app restarting", "event", "restarting", "app", a.spec.Name, "pid", 0, "delay_ms", d.Milliseconds())
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
		a.restarts++
		_ = a.transition(Launching)
		s.launch(a, false)
	case ev.kind == killTimer && a.state == Stopping:
		s.log.Warn("app ignored SIGTERM, killing it", "event", "killing", "app", a.spec.Name, "pid", a.pid)
		_ = s.signal(a.pid, syscall.SIGKILL)
	}
}
