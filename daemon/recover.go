package daemon

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
	"time"

	"opm/daemon/internal/proc"
)

// recoverApps rebuilds the app table from the runtime records a previous
// daemon left, before the API is served. An app whose recorded process is
// still alive — same PID and same start time — is adopted and watched; a
// PID that now names another process is never adopted nor signalled. An
// app that should run but whose process is gone is started again (unless a
// restore holds the flag: then it waits). Unusable records are logged and
// removed.
func (s *Supervisor) recoverApps() {
	if s.records == nil {
		return
	}
	recs, bad, err := s.records.readAll()
	if err != nil {
		s.log.Error("cannot read runtime records; starting with an empty table", "event", "records-failed", "error", err)
		return
	}
	for _, b := range bad {
		s.log.Warn("ignoring corrupt runtime record", "event", "record-corrupt", "path", b.path, "error", b.err)
		s.removeFile(b.path)
	}
	for _, rec := range recs {
		if old := s.byName[rec.Spec.Name]; old != nil {
			s.log.Warn("ignoring runtime record with a duplicate name", "event", "record-corrupt", "app", rec.Spec.Name, "id", rec.ID, "kept_id", old.id)
			s.removeFile(s.records.path(rec.ID))
			continue
		}
		ownLogPaths(&rec.Spec, s.cfg.Home)
		a := &app{id: rec.ID, spec: rec.Spec, state: Stopped, restarts: rec.Restarts, exitCode: -1}
		s.apps[a.id] = a
		s.byName[a.spec.Name] = a
		s.nextID = max(s.nextID, a.id+1)
		if rec.Want != wantRunning {
			s.finishStop(a, rec)
		}
		switch rec.Want {
		case wantStopped:
			a.dirty = true
		case wantErrored:
			_ = a.transition(Launching)
			_ = a.transition(Errored)
		case wantRunning:
			s.recoverRunning(a, rec)
		}
	}
	if n := s.readNextID(); n > s.nextID {
		s.nextID = n
	}
	s.flushRecords()
}

// finishStop kills what a dead daemon left of an app that should not run:
// a process it was stopping, or one it was starting when the app was
// stopped. Only a process whose start time matches is signalled.
func (s *Supervisor) finishStop(a *app, rec record) {
	if rec.PID > 0 && sameProcess(rec.PID, rec.Start) == nil {
		_ = s.signal(rec.PID, syscall.SIGKILL)
		s.log.Info("killed the process of a stopped app", "event", "discarded", "app", a.spec.Name, "pid", rec.PID)
	}
	if rec.Spawning != "" {
		if pid, _, ok := findSpawn(rec.Spawning); ok {
			_ = s.signal(pid, syscall.SIGKILL)
			s.log.Info("killed a process started for a stopped app", "event", "discarded", "app", a.spec.Name, "pid", pid)
		}
	}
}

func (s *Supervisor) recoverRunning(a *app, rec record) {
	_ = a.transition(Launching)
	if rec.Spawning != "" {
		// The old daemon died while starting it: the process may exist
		// without the record knowing its PID.
		if pid, start, ok := findSpawn(rec.Spawning); ok {
			rec.PID, rec.Start = pid, start
		}
	}
	if rec.PID > 0 {
		p, err := openAdopted(rec.PID, rec.Start)
		if err == nil {
			started, ok := startedAt(rec.Start)
			if !ok {
				started = s.now()
			}
			a.seq++
			s.adoptProcess(a, p, started)
			s.log.Info("app adopted", "event", "adopted", "app", a.spec.Name, "pid", a.pid)
			return
		}
		s.log.Info("app's process is gone; starting it again", "event", "lost", "app", a.spec.Name, "pid", rec.PID, "error", err)
	}
	a.restarts++
	s.launch(a, false)
}

// startedAt converts a process start time (ticks since boot) to wall time.
func startedAt(ticks uint64) (time.Time, bool) {
	bt, err := bootTime()
	if err != nil {
		return time.Time{}, false
	}
	return bt.Add(time.Duration(ticks) * (time.Second / 100)), true
}

// findSpawn looks for the live session leader whose environment carries
// the spawn token. It scans /proc, so it only runs at takeover and only
// for records of spawns that were in flight.
func findSpawn(token string) (pid int, start uint64, ok bool) {
	needle := []byte(SpawnTokenEnv + "=" + token + "\x00")
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, 0, false
	}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil || p <= 1 || p == os.Getpid() {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || !bytes.Contains(env, needle) {
			continue
		}
		st, err := proc.ReadStat(p)
		if err != nil || st.Session != p || st.State == 'Z' {
			continue
		}
		return p, st.Start, true
	}
	return 0, 0, false
}
