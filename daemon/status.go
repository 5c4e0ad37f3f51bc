package daemon

import (
	"os"

	"opm/daemon/api"
	"opm/daemon/internal/proc"
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
		Notes:      s.cfg.Notes,
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
		}
	}
	return st
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
