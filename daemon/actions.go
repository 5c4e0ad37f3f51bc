package daemon

import (
	"time"

	"opm/daemon/api"
)

// startNew registers a new app and starts it; it answers once the process
// runs (or failed to start). The app is in the table before its process
// exists, so its exit can never be unknown.
func (s *Supervisor) startNew(ev startReq) {
	spec := ev.spec
	if s.stopping {
		ev.reply <- result{err: errDaemonStopping}
		return
	}
	if old := s.byName[spec.Name]; old != nil {
		ev.reply <- result{err: api.Errorf(api.CodeConflict, "an app named %q already exists (id %d); pick another --name, or use 'opm restart %s'", spec.Name, old.id, spec.Name)}
		return
	}
	a := s.register(spec)
	a.firstStart = true
	s.move(a, Launching)
	s.launch(a, false)
	s.wait([]int{a.id}, func() {
		if s.apps[a.id] != a {
			ev.reply <- result{err: api.Errorf(api.CodeStartFailed, "cannot start %q: %s", spec.Name, a.lastErr)}
			return
		}
		ev.reply <- result{apps: []api.App{a.snapshot(s.now())}}
	})
}

// register adds a stopped app under a new id. Ids are never reused.
func (s *Supervisor) register(spec api.Spec) *app {
	a := &app{id: s.nextID, spec: spec, state: Stopped, exitCode: -1}
	s.nextID++
	s.apps[a.id] = a
	s.byName[spec.Name] = a
	s.touch(a)
	return a
}

// onAction handles start/stop/restart/reload of existing apps. It answers
// once the apps have settled: stopped, or started (or failed to).
func (s *Supervisor) onAction(ev actionReq) {
	switch ev.action {
	case "start", "stop", "restart", "reload":
	default:
		ev.reply <- result{err: api.Errorf(api.CodeBadRequest, "unknown action %q (use start, stop, restart or reload)", ev.action)}
		return
	}
	ids, err := s.resolve(ev.target)
	if err != nil {
		ev.reply <- result{err: err}
		return
	}
	if ev.action != "stop" && s.stopping {
		ev.reply <- result{err: errDaemonStopping}
		return
	}
	var refused error
	for _, id := range ids {
		a := s.apps[id]
		if a.removing && ev.action != "stop" {
			refused = api.Errorf(api.CodeConflict, "app %q is being removed", a.spec.Name)
			continue
		}
		switch ev.action {
		case "start":
			s.startApp(a)
		case "stop":
			s.stopApp(a)
		case "restart", "reload":
			s.restartApp(a)
		}
	}
	s.wait(ids, func() {
		r := result{apps: s.snapshots(ids), err: refused}
		if ev.action == "stop" {
			ev.reply <- r
			return
		}
		for _, id := range ids {
			a := s.apps[id]
			if a == nil || a.lastErr == "" || a.state == Online {
				continue
			}
			if a.state == Waiting {
				r.err = api.Errorf(api.CodeStartFailed, "cannot start %q: %s; opm tries again in %s (see 'opm list'; 'opm stop %s' gives up)", a.spec.Name, a.lastErr, a.timerDue.Sub(s.now()).Round(time.Millisecond), a.spec.Name)
			} else {
				r.err = api.Errorf(api.CodeStartFailed, "cannot start %q: %s", a.spec.Name, a.lastErr)
			}
			break
		}
		ev.reply <- r
	})
}

// startApp starts an existing app that is not running.
func (s *Supervisor) startApp(a *app) {
	switch a.state {
	case Stopped, Errored, Waiting:
		a.cancelTimer()
		a.burst = 0
		s.move(a, Launching)
		s.launch(a, false)
	case Launching:
		// A deferred start goes now: the user asked.
		s.launch(a, false)
	case Stopping:
		a.restartAfterStop = true
	}
}

// restartApp stops a running app and starts it again once it has exited;
// an app that is not running is simply started.
func (s *Supervisor) restartApp(a *app) {
	switch a.state {
	case Online:
		s.stopApp(a)
		a.restartAfterStop = true
	case Stopping:
		a.restartAfterStop = true
	default:
		s.startApp(a)
	}
}

// stopApp asks a running app to stop (SIGTERM to its process group and
// cgroup, then SIGKILL after its kill timeout) and cancels any pending restart, so a
// stop never races a crash-restart.
func (s *Supervisor) stopApp(a *app) {
	a.restartAfterStop = false
	switch a.state {
	case Online:
		a.cancelTimer()
		s.move(a, Stopping)
		s.terminate(a)
		s.schedule(a, time.Duration(a.spec.KillTimeoutMs)*time.Millisecond, killTimer)
		s.log.Info("stopping app", "event", "stopping", "app", a.spec.Name, "pid", a.pid)
	case Waiting, Launching, Errored:
		a.cancelTimer()
		a.deferred = false
		s.move(a, Stopped)
		s.log.Info("app stopped", "event", "stopped", "app", a.spec.Name, "pid", 0)
	}
}

// onRemove stops the target apps and forgets them once they are down.
func (s *Supervisor) onRemove(ev removeReq) {
	ids, err := s.resolve(ev.target)
	if err != nil {
		ev.reply <- result{err: err}
		return
	}
	for _, id := range ids {
		a := s.apps[id]
		a.removing = true
		s.stopApp(a)
	}
	s.wait(ids, func() {
		removed := s.snapshots(ids)
		for _, id := range ids {
			if a := s.apps[id]; a != nil {
				s.forget(a)
				s.log.Info("app removed", "event", "removed", "app", a.spec.Name, "pid", 0)
			}
		}
		ev.reply <- result{apps: removed}
	})
}

// forget drops an app from the table. Its id is never reused.
func (s *Supervisor) forget(a *app) {
	a.cancelTimer()
	delete(s.apps, a.id)
	delete(s.byName, a.spec.Name)
	s.dropRecord(a)
	s.dropCgroups(a)
}

// schedule arms the app's timer; its event is stale once the timer is
// cancelled or replaced.
func (s *Supervisor) schedule(a *app, d time.Duration, kind timerKind) {
	a.cancelTimer()
	a.timerDue = s.now().Add(d)
	a.timer = s.after(d, timerEvent{id: a.id, seq: a.timerSeq, kind: kind})
}
