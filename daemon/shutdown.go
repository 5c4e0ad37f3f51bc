package daemon

import (
	"opm/daemon/api"
	"opm/daemon/process"
)

// onShutdown ends the daemon: with keepApps it leaves the apps running
// for the next daemon to adopt (`opm daemon restart`); otherwise it stops
// every app first (`opm daemon stop`, SIGTERM) and forgets them.
func (s *Supervisor) onShutdown(ev shutdownReq) {
	reply := func() {
		s.exit = true
		if ev.reply != nil {
			ev.reply <- result{status: s.status()}
		}
	}
	if !s.stopping && s.onStopping != nil {
		s.onStopping(s.snapshots(s.allIDs()))
	}
	if ev.keepApps {
		// Spawns in flight finish first, so that every process the
		// next daemon finds has its runtime record.
		s.log.Info("daemon exiting, apps keep running", "event", api.EventDaemonExit, "apps", len(s.apps))
		s.stopping = true
		s.waitSpawned(s.allIDs(), reply)
		return
	}
	if !s.stopping {
		s.log.Info("daemon stopping all apps", "event", api.EventDaemonStop, "apps", len(s.apps))
	}
	s.stopping = true
	ids := s.allIDs()
	for _, id := range ids {
		s.stopApp(s.apps[id])
	}
	s.wait(ids, func() {
		// The table dies with the daemon, as with PM2's kill: the
		// next daemon starts empty and 'opm restore' brings the apps
		// back.
		s.clearRecords()
		for _, id := range ids {
			// A removal that was under way may have forgotten it.
			if a := s.apps[id]; a != nil {
				s.dropCgroups(a)
			}
		}
		reply()
	})
}

// errDaemonStopping refuses starts while the daemon shuts down.
var errDaemonStopping = api.Errorf(api.CodeBusy, "the opm daemon is shutting down; run the command again once it has exited")

// releaseWatches ends the pidfd watches of adopted apps when the daemon
// leaves them running (exit with keep_apps).
func (s *Supervisor) releaseWatches() {
	for _, a := range s.apps {
		if p, ok := a.proc.(*process.Adopted); ok {
			p.Close()
		}
	}
}
