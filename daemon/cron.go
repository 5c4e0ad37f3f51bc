package daemon

import (
	"opm/daemon/api"
)

// cronEvent is an app's cron_restart time come.
type cronEvent struct {
	id  int
	seq uint64
}

// armCron sets the app's cron timer to the next time its cron_restart
// names, or cancels it when it has none. One timer an app, armed to the
// next fire time: nothing polls.
func (s *Supervisor) armCron(a *app) {
	a.cancelCron()
	if a.spec.CronRestart == "" {
		return
	}
	sched, err := api.ParseCron(a.spec.CronRestart)
	if err != nil {
		// Checked when the definition was made; a dump edited by hand
		// may still hold one.
		s.log.Warn("ignoring the app's cron_restart", "event", "cron-invalid", "app", a.label(), "error", err)
		return
	}
	now := s.now()
	next := sched.Next(now)
	if next.IsZero() {
		return // never fires (e.g. 30 February)
	}
	a.cronTimer = s.after(next.Sub(now), cronEvent{id: a.id, seq: a.cronSeq})
}

// onCron restarts an app at its cron time: a running one is restarted
// (one waiting to restart is left to its back-off); a stopped or errored
// one whose restart policy is never and that the user did not stop is
// started — PM2's periodic job, which runs again after a failed run.
func (s *Supervisor) onCron(ev cronEvent) {
	a := s.apps[ev.id]
	if a == nil || ev.seq != a.cronSeq {
		return
	}
	a.cronTimer = nil
	switch {
	case s.stopping || a.removing:
	case a.state == Online:
		s.restartFor(a, "cron")
	case a.state == Waiting:
		// A restart is due already, with its back-off.
	case (a.state == Stopped || a.state == Errored) && a.spec.Restart == api.RestartNever && !a.userStopped:
		a.lastRestartReason = "cron"
		s.log.Info("starting app at its cron time", "event", "cron-start", "app", a.label())
		s.startApp(a)
	}
	s.armCron(a)
}

// armTriggers arms what restarts an app by itself: its cron time and
// its watched files. Called when an app is registered, changed or taken
// over.
func (s *Supervisor) armTriggers(a *app) {
	s.armCron(a)
	s.armWatch(a)
}

// cancelTriggers cancels them, when the app is removed.
func (s *Supervisor) cancelTriggers(a *app) {
	a.cancelCron()
	s.cancelWatch(a)
}

// restartFor restarts a by opm's own decision (cron, memory limit, a
// watched file), saying why in daemon.log and `opm info`.
func (s *Supervisor) restartFor(a *app, reason string) {
	a.lastRestartReason = reason
	s.log.Info("restarting app", "event", "restarting", "app", a.label(), "pid", a.pid, "reason", reason)
	s.publish(a, api.Event{Type: api.EventTypeRestart, PID: a.pid, Reason: restartReason(reason)})
	s.restartApp(a)
}

// cancelCron stops the app's cron timer; a fire already on its way is
// stale.
func (a *app) cancelCron() {
	a.cronSeq++
	if a.cronTimer != nil {
		a.cronTimer.Stop()
		a.cronTimer = nil
	}
}
