package daemon

import (
	"bytes"
	"encoding/json"

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
	old := s.byName[spec.Name]
	switch {
	case old != nil && ev.update:
		s.update(old, ev)
		return
	case old != nil:
		ev.reply <- result{err: api.Errorf(api.CodeConflict, "an app named %q already exists (id %d); pick another --name, or use 'opm restart %s'", spec.Name, old.id, spec.Name)}
		return
	case ev.update:
		ev.reply <- result{err: api.Errorf(api.CodeNotFound, "no app named %q to change (see 'opm list')", spec.Name)}
		return
	}
	a := s.register(spec)
	if ev.stopped {
		a.userStopped = true // registered, not started: by the user's choice
		s.log.Info("app registered, stopped", "event", "registered", "app", spec.Name, "pid", 0)
		ev.reply <- result{apps: []api.App{a.snapshot(s.now())}}
		return
	}
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
	s.armTriggers(a)
	return a
}

// startApp starts an existing app that is not running.
func (s *Supervisor) startApp(a *app) {
	a.userStopped = false
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

// update gives an existing app a new definition and restarts it with it —
// or starts it, when it is not running. Its id, restart count and logs
// stay. The answer comes once it has settled, as for `opm restart`.
func (s *Supervisor) update(a *app, ev startReq) {
	if a.removing {
		ev.reply <- result{err: api.Errorf(api.CodeConflict, "app %q is being removed", a.spec.Name)}
		return
	}
	if ev.keepIfSame && (a.state == Online || a.state == Launching) && sameSpec(a.spec, ev.spec) {
		ev.reply <- result{apps: []api.App{a.snapshot(s.now())}}
		return
	}
	a.spec = ev.spec
	a.specRev++
	s.touch(a)
	s.armTriggers(a)
	s.log.Info("app's definition changed", "event", "updated", "app", a.spec.Name, "pid", a.pid)
	s.restartApp(a)
	s.replySettled([]int{a.id}, "restart", nil, ev.reply)
}

// sameSpec reports whether two definitions are the same, as saved: an
// empty list and a missing one are alike.
func sameSpec(x, y api.Spec) bool {
	a, err1 := json.Marshal(x)
	b, err2 := json.Marshal(y)
	return err1 == nil && err2 == nil && bytes.Equal(a, b)
}
