package daemon

import (
	"syscall"
	"time"

	"opm/daemon/api"
)

// startNew registers a new app and starts it. The app is in the table
// before its process exists, so its exit can never be unknown.
func (s *Supervisor) startNew(spec api.Spec) result {
	if s.stopping {
		return result{err: errDaemonStopping}
	}
	if old := s.byName[spec.Name]; old != nil {
		return result{err: api.Errorf(api.CodeConflict, "an app named %q already exists (id %d); pick another --name, or use 'opm restart %s'", spec.Name, old.id, spec.Name)}
	}
	a := &app{id: s.nextID, spec: spec, state: Stopped}
	s.nextID++
	s.apps[a.id] = a
	s.byName[spec.Name] = a
	if err := a.transition(Launching); err != nil {
		return result{err: err}
	}
	if err := s.launch(a, true); err != nil {
		// A first start that fails leaves nothing behind: the user
		// fixes the command and starts it again under the same name.
		s.forget(a)
		return result{err: api.Errorf(api.CodeBadRequest, "cannot start %q: %v", spec.Name, err)}
	}
	return result{apps: []api.App{a.snapshot(s.now())}}
}

// launch starts the process of a Launching app. Automatic starts (user
// false) wait while a restore holds the restore flag.
func (s *Supervisor) launch(a *app, user bool) error {
	if !user && s.hooks.holdStarts != nil && s.hooks.holdStarts() {
		a.deferred = true
		s.log.Info("start deferred while a restore runs", "event", "deferred", "app", a.spec.Name)
		s.scheduleRecheck()
		return nil
	}
	a.deferred = false
	p, err := s.spawn(a.spec)
	if err != nil {
		a.lastErr = err.Error()
		a.exitCode = -1
		_ = a.transition(Errored)
		s.log.Error("app failed to start", "event", "errored", "app", a.spec.Name, "pid", 0, "error", err)
		return err
	}
	s.adoptProcess(a, p, s.now())
	s.log.Info("app started", "event", "started", "app", a.spec.Name, "pid", a.pid)
	return nil
}

// adoptProcess makes p the app's running process and watches it.
func (s *Supervisor) adoptProcess(a *app, p process, started time.Time) {
	a.seq++
	a.proc, a.pid, a.started = p, p.Pid(), started
	a.lastErr = ""
	_ = a.transition(Online)
	if s.hooks.spawned != nil {
		s.hooks.spawned(a)
	}
	s.watch(a.id, a.seq, p)
}

// onAction handles start/stop/restart/reload of existing apps. Stop and
// restart answer once the apps have settled.
func (s *Supervisor) onAction(ev actionReq) {
	ids, err := s.resolve(ev.target)
	if err != nil {
		ev.reply <- result{err: err}
		return
	}
	if ev.action != "stop" && s.stopping {
		ev.reply <- result{err: errDaemonStopping}
		return
	}
	var errs []error
	for _, id := range ids {
		a := s.apps[id]
		if a.removing && ev.action != "stop" {
			errs = append(errs, api.Errorf(api.CodeConflict, "app %q is being removed", a.spec.Name))
			continue
		}
		switch ev.action {
		case "start":
			errs = append(errs, s.startApp(a))
		case "stop":
			s.stopApp(a)
		case "restart", "reload":
			errs = append(errs, s.restartApp(a))
		default:
			ev.reply <- result{err: api.Errorf(api.CodeBadRequest, "unknown action %q (use start, stop, restart or reload)", ev.action)}
			return
		}
	}
	s.wait(ids, func() {
		r := result{apps: s.snapshots(ids)}
		for _, err := range errs {
			if err != nil {
				r.err = err
				break
			}
		}
		ev.reply <- r
	})
}

// startApp starts an existing app that is not running.
func (s *Supervisor) startApp(a *app) error {
	switch a.state {
	case Stopped, Errored, Waiting:
		a.cancelTimer()
		a.burst = 0
		_ = a.transition(Launching)
		if err := s.launch(a, true); err != nil {
			return api.Errorf(api.CodeInternal, "cannot start %q: %v", a.spec.Name, err)
		}
	case Launching:
		if a.deferred {
			// The user asked: do not wait for the restore flag.
			if err := s.launch(a, true); err != nil {
				return api.Errorf(api.CodeInternal, "cannot start %q: %v", a.spec.Name, err)
			}
		}
	case Stopping:
		a.restartAfterStop = true
	}
	return nil
}

// restartApp stops a running app and starts it again once it has exited;
// an app that is not running is simply started.
func (s *Supervisor) restartApp(a *app) error {
	switch a.state {
	case Online:
		s.stopApp(a)
		a.restartAfterStop = true
		return nil
	case Stopping:
		a.restartAfterStop = true
		return nil
	}
	return s.startApp(a)
}

// stopApp asks a running app to stop (SIGTERM to its process group, then
// SIGKILL after its kill timeout) and cancels any pending restart, so a
// stop never races a crash-restart.
func (s *Supervisor) stopApp(a *app) {
	a.restartAfterStop = false
	switch a.state {
	case Online:
		a.cancelTimer()
		_ = a.transition(Stopping)
		if err := s.signal(a.pid, syscall.SIGTERM); err != nil {
			s.log.Warn("cannot signal app", "event", "signal-failed", "app", a.spec.Name, "pid", a.pid, "error", err)
		}
		s.schedule(a, time.Duration(a.spec.KillTimeoutMs)*time.Millisecond, killTimer)
		s.log.Info("stopping app", "event", "stopping", "app", a.spec.Name, "pid", a.pid)
	case Waiting, Launching, Errored:
		a.cancelTimer()
		a.deferred = false
		_ = a.transition(Stopped)
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
	if s.hooks.removed != nil {
		s.hooks.removed(a)
	}
}

// schedule arms the app's timer; its event is stale once the timer is
// cancelled or replaced.
func (s *Supervisor) schedule(a *app, d time.Duration, kind timerKind) {
	a.cancelTimer()
	a.timerDue = s.now().Add(d)
	a.timer = s.after(d, timerEvent{id: a.id, seq: a.timerSeq, kind: kind})
}
