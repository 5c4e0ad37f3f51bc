package daemon

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
	s.cancelTriggers(a)
	delete(s.apps, a.id)
	delete(s.byName, a.spec.Name)
	s.dropRecord(a)
	s.dropCgroups(a)
	s.logs.Remove(a.spec.Name)
}
