package daemon

import (
	"bytes"
	"encoding/json"
	"slices"

	"opm/daemon/api"
)

// startNew registers a new app — each of its instances — and starts it;
// it answers once the processes run (or failed to start). The app is in
// the table before its process exists, so its exit can never be unknown.
func (s *Supervisor) startNew(ev startReq) {
	spec := ev.spec
	if s.stopping {
		ev.reply <- result{err: errDaemonStopping}
		return
	}
	exists := s.names[spec.Name] > 0
	switch {
	case exists && ev.update:
		s.update(ev)
		return
	case exists:
		ev.reply <- result{err: api.Errorf(api.CodeConflict, "an app named %q already exists (id %d); pick another --name, or use 'opm restart %s'", spec.Name, s.group(spec.Name)[0].id, spec.Name)}
		return
	case ev.update:
		ev.reply <- result{err: api.Errorf(api.CodeNotFound, "no app named %q to change (see 'opm list')", spec.Name)}
		return
	}
	if ev.stopped {
		// registered, not started: by the user's choice
		apps := s.addInstances(spec, 0, spec.Count(), true, false)
		s.log.Info("app registered, stopped", "event", api.EventRegistered, "app", spec.Name, "pid", 0, "instances", len(apps))
		ev.reply <- result{apps: s.snapshots(idsOf(apps))}
		return
	}
	// Until it has run, a failed start leaves nothing behind.
	apps := s.addInstances(spec, 0, spec.Count(), false, true)
	ids := idsOf(apps)
	s.wait(ids, func() {
		for _, a := range apps {
			if s.apps[a.id] == a && !a.firstFailed {
				continue
			}
			// One instance could not start: the app is not left
			// half there.
			err := api.Errorf(api.CodeStartFailed, "cannot start %q: %s", a.label(), a.lastErr)
			s.dropInstances(s.group(spec.Name), func() { ev.reply <- result{err: err} })
			return
		}
		ev.reply <- result{apps: s.snapshots(ids)}
	})
}

// register adds a stopped app under a new id. Ids are never reused.
func (s *Supervisor) register(spec api.Spec) *app {
	a := &app{id: s.nextID, spec: spec, state: Stopped, exitCode: -1}
	s.nextID++
	s.apps[a.id] = a
	s.index(a)
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

// update gives an existing app a new definition and restarts each of its
// instances with it — or starts it, when it is not running — and adds or
// removes instances to the new count. Ids, restart counts and logs stay.
// The answer comes once it has settled, as for `opm restart`.
func (s *Supervisor) update(ev startReq) {
	cur := s.group(ev.spec.Name)
	if slices.ContainsFunc(cur, func(a *app) bool { return a.removing }) {
		ev.reply <- result{err: errRemoving(ev.spec.Name)}
		return
	}
	n := ev.spec.Count()
	if ev.keepIfSame && len(cur) == n && !slices.ContainsFunc(cur, func(a *app) bool {
		return !sameSpec(a.spec, s.instanceSpec(ev.spec, a.spec.Instance))
	}) {
		// The same app: what runs is left alone, what does not is
		// started.
		for _, a := range cur {
			if a.state != Online && a.state != Launching {
				s.startApp(a)
			}
		}
		s.replySettled(idsOf(cur), "start", nil, ev.reply)
		return
	}
	keep := cur[:min(n, len(cur))]
	for _, a := range keep {
		a.spec = s.instanceSpec(ev.spec, a.spec.Instance)
		a.specRev++
		s.touch(a)
		s.armTriggers(a)
		s.log.Info("app's definition changed", "event", api.EventUpdated, "app", a.label(), "instance", a.spec.Instance, "pid", a.pid)
		s.restartApp(a)
	}
	ids := append(idsOf(keep), idsOf(s.addInstances(ev.spec, len(cur), n, false, false))...)
	if n < len(cur) {
		s.dropInstances(cur[n:], func() { s.replySettled(ids, "restart", nil, ev.reply) })
		return
	}
	s.replySettled(ids, "restart", nil, ev.reply)
}

// sameSpec reports whether two definitions are the same, as saved: an
// empty list and a missing one are alike.
func sameSpec(x, y api.Spec) bool {
	a, err1 := json.Marshal(x)
	b, err2 := json.Marshal(y)
	return err1 == nil && err2 == nil && bytes.Equal(a, b)
}
