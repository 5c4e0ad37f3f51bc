package daemon

// While a restore holds the restore flag the daemon makes no automatic
// starts: launch marks such apps deferred, and one recheck timer runs only
// while deferred work exists.

// scheduleRecheck arms the recheck timer unless it is already armed.
func (s *Supervisor) scheduleRecheck() {
	if s.recheck != nil {
		return
	}
	s.recheck = s.after(s.cfg.RestoreRecheck, timerEvent{kind: recheckTimer})
}

// onRecheck starts the deferred apps once the flag is free.
func (s *Supervisor) onRecheck() {
	s.recheck = nil
	if s.hooks.holdStarts != nil && s.hooks.holdStarts() {
		s.scheduleRecheck()
		return
	}
	for _, id := range s.allIDs() {
		if a := s.apps[id]; a.state == Launching && a.deferred {
			_ = s.launch(a, false)
		}
	}
}
