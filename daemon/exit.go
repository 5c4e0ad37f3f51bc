package daemon

import (
	"slices"
	"strconv"
	"time"

	"opm/daemon/api"
	"opm/daemon/process"
)

// restartDelay is the wait before a's next restart: a fixed restart_delay
// when the app set one (and no exponential back-off), else a back-off
// doubling from its exp_backoff_restart_delay or the config's
// restart_delay, capped at restart_delay_max.
func (s *Supervisor) restartDelay(a *app) time.Duration {
	ms := func(v int64) time.Duration { return time.Duration(v) * time.Millisecond }
	switch {
	case a.spec.ExpBackoffRestartDelayMs > 0:
		return backoff(ms(a.spec.ExpBackoffRestartDelayMs), max(s.cfg.RestartDelayMax, ms(a.spec.ExpBackoffRestartDelayMs)), a.burst)
	case a.spec.RestartDelayMs > 0:
		return ms(a.spec.RestartDelayMs)
	}
	return backoff(s.cfg.RestartDelay, s.cfg.RestartDelayMax, a.burst)
}

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
	if a != nil && a.retiring != nil && ev.seq == a.retiring.seq {
		s.retiredExit(a, ev)
		return
	}
	if a == nil || ev.seq != a.seq || !a.running() {
		return // a late event from an old process
	}
	if r := a.retiring; r != nil && !r.terminating {
		// A reload's new process ended before it served.
		why := a.reloadWhy
		if why == "" {
			why = "the new process ended (" + ev.status.String() + ") before it was ready"
		}
		a.reloadWhy = ""
		s.killLeftovers(a, a.pid)
		s.reloadFailed(a, why)
		return
	}
	pid := a.pid
	uptime := s.now().Sub(a.started)
	a.proc, a.pid = nil, 0
	a.exitCode = ev.status.Code
	a.ready() // a process that never said so is not waited for any more
	a.cancelTimer()
	// Whatever the leader left behind (its cgroup, or its group) goes
	// with it, so a restart never runs next to a leftover of the
	// previous run.
	s.killLeftovers(a, pid)
	// Its last words, an unfinished line included, off the loop.
	s.logs.Ended(a.spec.Key())
	s.publish(a, exitEventOf(pid, ev.status))
	logExit := func() {
		s.log.Info("app exited", "event", "exited", "app", a.label(), "pid", pid, "status", ev.status.String(), "uptime_ms", uptime.Milliseconds())
	}

	if a.state == Stopping {
		logExit()
		if a.restartAfterStop && !s.stopping {
			a.restartAfterStop = false
			a.burst = 0
			a.restarts++
			s.move(a, Launching)
			s.launch(a, false)
			return
		}
		s.move(a, Stopped)
		s.log.Info("app stopped", "event", "stopped", "app", a.label(), "pid", pid)
		s.publish(a, api.Event{Type: api.EventTypeStop, PID: pid})
		return
	}
	s.afterCrash(a, pid, ev.status, uptime, logExit)
}

// immediateRestart is the back-off under which a crashed app is started
// again in the same event, without a timer: below the timers' resolution
// a timer only adds a goroutine hop and a second event to the restart.
const immediateRestart = time.Millisecond

// afterCrash applies the restart policy to an app whose process (pid)
// ended on its own. logExit writes the exit to the daemon log when no
// restart follows; a restart's line says both.
func (s *Supervisor) afterCrash(a *app, pid int, st process.ExitStatus, uptime time.Duration, logExit func()) {
	d, ok := s.nextRestart(a, st, uptime, logExit)
	if !ok {
		return
	}
	a.lastRestartReason = "crash"
	s.publish(a, api.Event{Type: api.EventTypeRestart, PID: pid, Reason: api.ReasonCrash, Detail: "in " + d.String()})
	if d < immediateRestart {
		// One line for the crash, written once the new process runs
		// (onSpawned): nothing is written before the fork.
		a.crashed = &crash{pid: pid, status: st, uptime: uptime}
		s.restartNow(a)
		return
	}
	s.schedule(a, d, restartTimer)
	s.log.Info("app exited, restarting", "event", "restarting", "app", a.label(), "pid", pid, "status", st.String(), "uptime_ms", uptime.Milliseconds(), "delay_ms", d.Milliseconds())
}

// crash is an exit that an immediate restart follows.
type crash struct {
	pid    int
	status process.ExitStatus
	uptime time.Duration
}

// logCrashed writes a's pending crash alone: its restart brought no
// process (it failed, or the app was stopped meanwhile).
func (s *Supervisor) logCrashed(a *app) {
	if c := a.crashed; c != nil {
		a.crashed = nil
		s.log.Info("app exited", "event", "exited", "app", a.label(), "pid", c.pid, "status", c.status.String(), "uptime_ms", c.uptime.Milliseconds())
	}
}

// afterStartFailure applies the restart policy to an app whose process
// could not be started, as to a failed exit. The retry always waits for
// a timer: a start that fails at once must not loop within one event.
func (s *Supervisor) afterStartFailure(a *app) {
	d, ok := s.nextRestart(a, process.ExitStatus{Code: -1, Known: true}, 0, func() {})
	if !ok {
		return
	}
	d = max(d, immediateRestart)
	a.lastRestartReason = "start failed"
	s.publish(a, api.Event{Type: api.EventTypeRestart, Reason: api.ReasonCrash, Detail: "the start failed; again in " + d.String()})
	s.schedule(a, d, restartTimer)
	s.log.Info("app restarting", "event", "restarting", "app", a.label(), "pid", 0, "delay_ms", d.Milliseconds())
}

// nextRestart decides what follows the failure or end of a's process: it
// returns the back-off before the next start and moves a to Waiting, or
// moves a to Stopped or Errored (logExit first) and returns false.
func (s *Supervisor) nextRestart(a *app, st process.ExitStatus, uptime time.Duration, logExit func()) (time.Duration, bool) {
	// An exit code the app says means "done" ends it, stopped (PM2's
	// stop_exit_codes).
	done := st.Known && st.Signal == 0 && slices.Contains(a.spec.StopExitCodes, st.Code)
	failed := !st.Success() && !done
	restart := !done && (a.spec.Restart == api.RestartAlways ||
		(a.spec.Restart == api.RestartOnFailure && failed) ||
		// An adopted app's status is unknown: treat on-failure as failed.
		(a.spec.Restart == api.RestartOnFailure && !st.Known))
	if !restart {
		logExit()
		if failed && st.Known {
			s.move(a, Errored)
			s.log.Info("app errored, not restarting", "event", "errored", "app", a.label(), "pid", 0, "policy", a.spec.Restart)
			s.publish(a, api.Event{Type: api.EventTypeErrored, Detail: "failed; restart policy " + a.spec.Restart})
		} else {
			s.move(a, Stopped)
			s.log.Info("app stopped, not restarting", "event", "stopped", "app", a.label(), "pid", 0, "policy", a.spec.Restart)
			s.publish(a, api.Event{Type: api.EventTypeStop, Detail: "ended; restart policy " + a.spec.Restart})
		}
		return 0, false
	}
	resetAfter := s.cfg.RestartResetAfter
	if a.spec.MinUptimeMs > 0 {
		resetAfter = time.Duration(a.spec.MinUptimeMs) * time.Millisecond
	}
	if uptime >= resetAfter {
		a.burst = 0
	}
	if a.burst >= a.spec.MaxRestarts {
		logExit()
		s.move(a, Errored)
		s.log.Warn("app errored: too many restarts", "event", "errored", "app", a.label(), "pid", 0, "restarts", a.burst, "window", resetAfter.String())
		s.publish(a, api.Event{Type: api.EventTypeErrored, Detail: "too many restarts: " + strconv.Itoa(a.burst) + " within " + resetAfter.String()})
		return 0, false
	}
	d := s.restartDelay(a)
	a.burst++
	s.move(a, Waiting)
	return d, true
}

// restartNow starts a Waiting app's next process.
func (s *Supervisor) restartNow(a *app) {
	a.restarts++
	s.move(a, Launching)
	s.launch(a, false)
}
