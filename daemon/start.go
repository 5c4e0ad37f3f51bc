package daemon

import "opm/daemon/api"

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
