package daemon

import (
	"fmt"
	"os"

	"opm/daemon/api"
	"opm/daemon/proc"
	"opm/shm"
)

// status describes the daemon for `opm daemon status`.
func (s *Supervisor) status() api.DaemonStatus {
	st := api.DaemonStatus{
		PID:        os.Getpid(),
		UptimeMs:   s.now().Sub(s.startedAt).Milliseconds(),
		Version:    api.Version,
		Apps:       len(s.apps),
		Home:       s.cfg.Home,
		RuntimeDir: s.cfg.RuntimeDir,
		Socket:     api.SocketPath(s.cfg.RuntimeDir),
		LogDir:     s.cfg.logDir(),
		DaemonLog:  s.cfg.Logs.DaemonLog,
		Notes:      s.notes(),
		Cgroups:    s.cgroupMode,
	}
	if s.flag != nil {
		// Off the fast path: make sure the daemon maps the page restorers
		// use now, should it have been truncated or replaced (OnRemap
		// logs what happened).
		if _, err := s.flag.Check(); err != nil {
			s.log.Warn("cannot map the restore flag", "event", "flag-check-failed", "error", err)
		}
		o := s.flag.Owner()
		st.Restore = api.RestoreFlag{
			InProgress: o.Word != 0,
			OwnerPID:   o.PID,
			OwnerStart: o.Start,
			Generation: o.Gen,
			HeldSince:  o.HeldSince,
		}
		if o.Word != 0 {
			if !o.HeldSince.IsZero() {
				st.Restore.HeldMs = max(0, s.now().Sub(o.HeldSince).Milliseconds())
			}
			st.Restore.OwnerStopped = stopped(o)
			st.Restore.Stalled = st.Restore.HeldMs > s.cfg.RestoreStall.Milliseconds()
			s.warnStalledRestore()
		}
	}
	return st
}

// notes are the warnings `opm daemon status` shows: how the daemon was set
// up, and faults that degrade its guarantees.
func (s *Supervisor) notes() []string {
	notes := append([]string(nil), s.cfg.Notes...)
	if s.recordFailure != "" {
		notes = append(notes, "runtime records cannot be written ("+s.recordFailure+"): no app can be started or restarted until they can (starts are retried with back-off); running apps keep running")
	}
	if n := len(s.orphans); n > 0 {
		notes = append(notes, fmt.Sprintf("%d live app processes found at start had no usable runtime record; each is adopted when its app is started or restored ('opm restore')", n))
	}
	return notes
}

// warnStalledRestore logs, once per restore, that a restore has held the
// flag longer than the restore_stall bound. The daemon looks when it has a
// reason to (no timer watches the flag): while takeover starts wait for
// it, and when someone asks for its status.
func (s *Supervisor) warnStalledRestore() {
	if s.flag == nil {
		return
	}
	o := s.flag.Owner()
	if o.Word == 0 || o.Word == s.stallWarned || o.HeldSince.IsZero() {
		return
	}
	held := s.now().Sub(o.HeldSince)
	if held < s.cfg.RestoreStall {
		return
	}
	s.stallWarned = o.Word
	s.log.Warn("a restore has held the restore flag past restore_stall; starts of apps taken over wait for it (end that restore if it is stuck)", "event", "restore-stalled", "pid", o.PID, "held_ms", held.Milliseconds(), "owner_stopped", stopped(o))
}

// stopped reports whether the flag's owner is stopped (SIGSTOP, or a
// debugger): alive, holding the flag, and not getting on with it. A PID
// whose start time differs from the owner's is another process.
func stopped(o shm.Owner) bool {
	p, err := proc.ReadStat(o.PID)
	if err != nil || (o.Start != 0 && p.Start != o.Start) {
		return false
	}
	return p.State == 'T' || p.State == 't'
}
