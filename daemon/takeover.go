package daemon

import (
	"errors"
	"slices"
	"syscall"

	"opm/daemon/api"
	"opm/daemon/logs"
	"opm/daemon/proc"
	"opm/daemon/process"
	"opm/daemon/store"
)

// recoverApps rebuilds the app table from the runtime records a previous
// daemon left, before the API is served. An app whose process is still
// alive is adopted and watched: the process the record names, if it still
// is that process (same PID and start time), else the live holder of the
// app's token (token.go), found by one scan of /proc made before anything
// is started — so a record that is stale, or missing, never leads to a
// second copy. A PID that now names another process is never adopted nor
// signalled. An app that should run but whose process is gone is started
// again (unless a restore holds the flag: then it waits). Unusable records
// are logged and removed; live holders no record claims are kept as
// orphans, adopted when their app is started or restored.
func (s *Supervisor) recoverApps() {
	if s.records == nil {
		return
	}
	var holders map[string][]process.Holder
	if s.findHolders != nil {
		holders = s.findHolders()
	}
	recs, bad, err := s.records.ReadAll()
	if err != nil {
		s.log.Error("cannot read runtime records; starting with an empty table", "event", "records-failed", "error", err)
	}
	for _, b := range bad {
		s.log.Warn("ignoring corrupt runtime record", "event", "record-corrupt", "path", b.Path, "error", b.Err)
		s.removeRecordFile(b.Path)
	}
	for _, rec := range recs {
		if old := s.byKey[rec.Spec.Key()]; old != nil {
			s.log.Warn("ignoring runtime record with a duplicate name", "event", "record-corrupt", "app", rec.Spec.Name, "id", rec.ID, "kept_id", old.id)
			s.removeRecordFile(s.records.Path(rec.ID))
			continue
		}
		logs.OwnIn(&rec.Spec, s.cfg.logDir())
		a := &app{id: rec.ID, spec: rec.Spec, state: Stopped, restarts: rec.Restarts, exitCode: -1, userStopped: rec.UserStopped}
		// What the record holds is what was last written; the end of
		// the takeover writes what changed.
		a.recorded = true
		a.written = recordState{specRev: a.specRev, want: rec.Want, pid: rec.PID, start: rec.Start, restarts: rec.Restarts, spawn: rec.Spawning, userStopped: rec.UserStopped}
		a.leaderPID, a.leaderStart = rec.PID, rec.Start
		s.apps[a.id] = a
		s.index(a)
		s.touch(a)
		s.armTriggers(a)
		s.nextID = max(s.nextID, a.id+1)
		held := s.tokens.HoldersOf(a.spec.Key(), holders)
		delete(holders, s.tokens.AppKey(a.spec.Key()))
		a.spawnToken = rec.Spawning
		switch rec.Want {
		case store.WantStopped:
			s.finishStop(a, rec, held)
		case store.WantErrored:
			s.finishStop(a, rec, held)
			s.move(a, Launching)
			s.move(a, Errored)
		case store.WantRunning:
			s.recoverRunning(a, rec, held)
		}
		// What the app wrote while no daemon read it goes to its logs
		// now, and what it writes from now on as it comes.
		if err := s.logs.Attach(a.spec); err != nil {
			s.log.Warn("cannot open the app's logs: its output waits in RAM; fix the log file, then restart the app (opm restart NAME)", "event", "log-failed", "app", a.label(), "error", err)
		}
	}
	if len(holders) > 0 {
		s.orphans = holders
		s.log.Warn("live app processes have no usable runtime record; each is adopted when its app is started or restored", "event", "orphans", "apps", len(holders))
	}
	if n := s.records.ReadNextID(); n > s.nextID {
		s.nextID = n
	}
	s.recordedNextID = s.nextID
	s.repairInstances()
	s.flushRecords()
}

// repairInstances gives every app taken over exactly the instances its
// count says, when a daemon died while it was adding or removing some:
// the count is instance 0's, instances beyond it are stopped and
// removed, missing ones are made from the lowest one and started if it
// should run (deferred while a restore runs, as any start of the
// takeover).
func (s *Supervisor) repairInstances() {
	groups := map[string][]*app{}
	var names []string
	for _, id := range s.allIDs() {
		a := s.apps[id]
		if groups[a.spec.Name] == nil {
			names = append(names, a.spec.Name)
		}
		groups[a.spec.Name] = append(groups[a.spec.Name], a)
	}
	for _, name := range names {
		g := groups[name]
		slices.SortFunc(g, func(x, y *app) int { return x.spec.Instance - y.spec.Instance })
		n := g[0].spec.Count()
		if g[0].spec.Instance != 0 {
			for _, a := range g {
				n = max(n, a.spec.Count())
			}
		}
		var keep, extra []*app
		for _, a := range g {
			if a.spec.Instance < n {
				keep = append(keep, a)
			} else {
				extra = append(extra, a)
			}
		}
		// Records are checked (an instance below its own count), so
		// keep holds at least the instance n came from.
		s.setCount(keep, n)
		if len(keep) == n && len(extra) == 0 {
			continue
		}
		s.log.Warn("app had other instances than its count says (a daemon died while scaling it): repaired", "event", "instances-repaired", "app", name, "instances", n, "found", len(g))
		if len(extra) > 0 {
			s.dropInstances(extra, func() {})
		}
		have := map[int]bool{}
		for _, a := range keep {
			have[a.spec.Instance] = true
		}
		base := keep[0]
		for i := range n {
			if have[i] {
				continue
			}
			a := s.register(s.instanceSpec(base.spec, i))
			a.userStopped = base.userStopped
			if want := recordOf(base).Want; want == store.WantRunning {
				s.move(a, Launching)
				s.launch(a, true)
			}
		}
	}
}

// finishStop kills what a dead daemon left of an app that should not run:
// a process it was stopping, or one it was starting when the app was
// stopped, and anything left in its cgroup. Only a process whose start
// time matches is signalled.
func (s *Supervisor) finishStop(a *app, rec store.Record, held []process.Holder) {
	if rec.PID > 0 && process.SameProcess(rec.PID, rec.Start) == nil {
		_ = s.signal(rec.PID, syscall.SIGKILL)
		s.log.Info("killed the process of a stopped app", "event", "discarded", "app", a.label(), "pid", rec.PID)
	}
	for _, h := range held {
		s.killHolder(a, h, "its app is stopped")
	}
	s.killStale(a)
}

// recoverRunning adopts the live process of an app that should run, or
// starts it again. The process the record names comes first; else a
// holder of the app's token — but only one that may be the leader of the
// app's latest spawn: when the record knew that spawn's leader and it is
// dead, a holder of that spawn (or of an older one) is a leftover, a child
// that called setsid, and is killed rather than mistaken for the app.
func (s *Supervisor) recoverRunning(a *app, rec store.Record, held []process.Holder) {
	s.move(a, Launching)
	last, known := process.ParseToken(rec.Spawning)
	if rec.PID > 0 {
		if s.adoptLive(a, rec.PID, rec.Start) {
			s.log.Info("app adopted", "event", api.EventAdopted, "app", a.label(), "pid", a.pid)
			// Processes of an earlier spawn — the old process of a
			// reload the dead daemon was doing — are leftovers.
			// (A newer one would be a reload's new process that
			// failed, whose spawn the record no longer names.)
			for _, h := range held {
				if known && h.Spawn.Compare(last.Spawn) != 0 && h.PID != a.pid {
					s.killHolder(a, h, "a process of another run (a reload cut short)")
				}
			}
			return
		}
		s.log.Info("app's recorded process is gone", "event", "lost", "app", a.label(), "pid", rec.PID)
	}
	adopted := false
	for _, h := range held {
		switch c := h.Spawn.Compare(last.Spawn); {
		case known && (c < 0 || c == 0 && rec.PID > 0):
			s.killHolder(a, h, "a leftover of a run whose leader is gone")
		case !adopted && s.adoptLive(a, h.PID, h.Start):
			adopted = true
			a.spawnToken = s.tokens.Token(a.spec.Key(), h.Spawn)
			s.log.Info("app adopted, found by its token", "event", api.EventAdopted, "app", a.label(), "pid", a.pid)
		}
	}
	if adopted {
		return
	}
	a.restarts++
	s.launch(a, true)
}

// adoptLive makes the live process pid, started at start, a's process.
func (s *Supervisor) adoptLive(a *app, pid int, start uint64) bool {
	p, err := process.Adopt(pid, start)
	switch {
	case err == nil:
	case errors.Is(err, process.ErrNotSame), errors.Is(err, proc.ErrGone), errors.Is(err, syscall.ESRCH):
		return false // gone
	default:
		// The process may live on, and this daemon cannot watch it:
		// this kernel has no pidfd_open (ErrNoPidfd), or a resource
		// ran out (descriptors, memory). It is ended — and the app's
		// cgroup — so that the app starts again as the daemon's own
		// child, never beside it. (Without cgroups, a process that
		// cannot even be checked is not signalled: its pid may name
		// another process by now.)
		if process.SameProcess(pid, start) == nil {
			_ = s.signal(pid, syscall.SIGKILL)
		}
		s.killStale(a)
		s.log.Warn("cannot watch the app's live process: ended it, the app starts again", "event", "adopt-failed", "app", a.label(), "pid", pid, "error", err)
		return false
	}
	a.nextSeq()
	s.adoptProcess(a, p, proc.Started(start, s.now(), s.now()))
	return true
}

// killHolder kills a holder that must not run (a leftover of an earlier
// run, a process of a stopped app) and its process group, if it still is
// the process that was found.
func (s *Supervisor) killHolder(a *app, h process.Holder, why string) {
	if process.SameProcess(h.PID, h.Start) != nil {
		return
	}
	_ = s.signal(h.PID, syscall.SIGKILL)
	s.log.Info("killed a process that carries the app's token: "+why, "event", "discarded", "app", a.label(), "pid", h.PID)
}

// removeRecordFile removes a record file the takeover cannot use.
func (s *Supervisor) removeRecordFile(path string) {
	if err := s.records.RemoveFile(path); err != nil {
		s.log.Error("cannot remove a runtime record", "event", "record-failed", "path", path, "error", err)
	}
}
