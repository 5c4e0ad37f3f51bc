package daemon

// While a restore holds the restore flag the daemon makes none of its own
// starts of apps it does not supervise yet (those it takes over): launch
// marks such apps deferred, and one recheck timer runs only while deferred
// work exists. A restore that holds the flag past restore_stall is logged
// once (and shown by `opm daemon status`).

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
	if s.flag != nil {
		// Off the fast path: a flag whose owner died is cleared here
		// (compare-and-swap on the value seen, so never a newer owner's).
		if o, cleared, err := s.flag.ClearIfStale(); err != nil {
			s.log.Warn("cannot check the restore flag's owner", "event", "flag-check-failed", "error", err)
		} else if cleared {
			s.log.Info("cleared a restore flag left by a dead restore", "event", "flag-cleared", "pid", o.PID)
		}
	}
	if s.holdStarts != nil && s.holdStarts() {
		s.warnStalledRestore()
		s.scheduleRecheck()
		return
	}
	if s.stopping {
		return
	}
	for _, id := range s.allIDs() {
		if a := s.apps[id]; a.state == Launching && a.deferred {
			s.launch(a, true)
		}
	}
}
