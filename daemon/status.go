package daemon

import (
	"os"

	"opm/daemon/api"
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
		Cgroups:    s.cgroupMode,
	}
	if s.flag != nil {
		o := s.flag.Owner()
		st.Restore = api.RestoreFlag{
			InProgress: o.Word != 0,
			OwnerPID:   o.PID,
			OwnerStart: o.Start,
			Generation: o.Gen,
		}
	}
	return st
}
