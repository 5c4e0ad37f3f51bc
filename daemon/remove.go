package daemon

import "opm/daemon/api"

// onRemove stops the target apps and forgets them once they are down.
func (s *Supervisor) onRemove(ev removeReq) {
	ids, err := s.resolve(ev.target)
	if err != nil {
		ev.reply <- result{err: err}
		return
	}
	if err := s.wholeApps(ids); err != nil {
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
				s.log.Info("app removed", "event", api.EventRemoved, "app", a.label(), "pid", 0)
			}
		}
		ev.reply <- result{apps: removed}
	})
}

// forget drops an app from the table. Its id is never reused.
func (s *Supervisor) forget(a *app) {
	a.cancelTimer()
	s.cancelTriggers(a)
	delete(s.apps, a.id)
	if s.byKey[a.spec.Key()] == a {
		delete(s.byKey, a.spec.Key())
	}
	if s.names[a.spec.Name]--; s.names[a.spec.Name] <= 0 {
		delete(s.names, a.spec.Name)
	}
	s.dropRecord(a)
	s.dropCgroups(a)
	s.logs.Remove(a.spec.Key())
}

// wholeApps refuses to remove some instances of an app but not all: the
// app would no longer have the instances it says.
func (s *Supervisor) wholeApps(ids []int) error {
	in := make(map[int]bool, len(ids))
	for _, id := range ids {
		in[id] = true
	}
	for _, id := range ids {
		a := s.apps[id]
		if a.spec.Count() == 1 {
			continue
		}
		for _, o := range s.group(a.spec.Name) {
			if !in[o.id] {
				return api.Errorf(api.CodeBadRequest, "id %d is instance %d of %q, which has %d instances: 'opm delete %s' removes them all, 'opm scale %s N' keeps N of them", a.id, a.spec.Instance, a.spec.Name, a.spec.Count(), a.spec.Name, a.spec.Name)
			}
		}
	}
	return nil
}
