package daemon

import (
	"path"
	"syscall"
	"time"

	"opm/daemon/cgroup"
	"opm/daemon/process"
)

// A reload replaces an app's process without a moment where none serves:
// the old process (retiring) runs on while the new one starts; once the
// new one is online — and, with wait_ready, has said READY=1 — the old one
// gets its kill signal (SIGKILL after the kill timeout). If the new one
// fails to start, exits, or is not ready by its listen_timeout, it is
// killed and the old one stays the app's process, and the reload reports
// the failure. So an app has two processes for a bounded time, by
// design; `opm reload` answers once the old one is gone (or reinstated).
//
// Exactly once still holds across a daemon killed mid-reload: the runtime
// record names the new spawn before it exists, and a takeover kills the
// holders of an older spawn's token — the old process — as leftovers.

// retiringProc is the process a reload replaces.
type retiringProc struct {
	proc        process.Process
	pid         int
	seq         uint64
	cgroup      string
	started     time.Time
	leaderPID   int
	leaderStart uint64
	spawnToken  string
	// leaf is the old process's own cgroup (below the app's), which
	// the new spawn spares and retire signals; "" without cgroups.
	leaf        string
	terminating bool
	killTimer   timer
	killSeq     uint64
}

// retireKillEvent: the old process outlived its kill timeout.
type retireKillEvent struct {
	id  int
	seq uint64
}

// reloadApp reloads a running app; an app that is not online (or is
// already reloading, or not ready yet) is restarted as by restart.
func (s *Supervisor) reloadApp(a *app) {
	if a.retiring != nil {
		return // a reload is under way; this one answers with it
	}
	a.reloadErr, a.reloadWhy = "", ""
	if a.state != Online || a.awaitingReady || a.proc == nil {
		s.restartApp(a)
		return
	}
	leaf := ""
	if a.cgroup != "" {
		// The old process's own leaf, which the new spawn spares. An
		// old process whose leaf cannot be told (it just ended) is
		// restarted instead: stopping by the app's whole cgroup would
		// stop the new one too.
		l, err := cgroup.Of(a.pid)
		if err != nil || path.Dir(l) != s.appCgroup(a.spec.Key()) {
			s.restartApp(a)
			return
		}
		leaf = l
	}
	a.retiring = &retiringProc{
		proc: a.proc, pid: a.pid, seq: a.seq, cgroup: a.cgroup, leaf: leaf, started: a.started,
		leaderPID: a.leaderPID, leaderStart: a.leaderStart, spawnToken: a.spawnToken,
	}
	a.proc, a.pid, a.cgroup = nil, 0, ""
	s.log.Info("reloading app: a new process starts beside the old one", "event", "reloading", "app", a.label(), "pid", a.retiring.pid)
	a.restarts++
	s.move(a, Waiting) // the old process is no longer the app's ...
	s.move(a, Launching)
	s.launch(a, false) // ... until the new one fails
}

// newReady retires the old process once the new one serves.
func (s *Supervisor) newReady(a *app) {
	if r := a.retiring; r != nil && !r.terminating {
		s.retire(a)
	}
}

// retire sends the old process its kill signal, with a kill timer.
func (s *Supervisor) retire(a *app) {
	r := a.retiring
	r.terminating = true
	sig := killSignal(a.spec)
	if err := s.signal(r.pid, sig); err != nil {
		s.log.Warn("cannot signal the old process", "event", "signal-failed", "app", a.label(), "pid", r.pid, "error", err)
	}
	if r.leaf != "" {
		_ = s.cgroups.Signal(r.leaf, sig, r.pid)
	}
	a.retireSeq++
	r.killSeq = a.retireSeq
	r.killTimer = s.after(time.Duration(a.spec.KillTimeoutMs)*time.Millisecond, retireKillEvent{id: a.id, seq: r.killSeq})
	s.log.Info("stopping the old process of a reload", "event", "stopping", "app", a.label(), "pid", r.pid)
}

// onRetireKill kills an old process that outlived its kill signal.
func (s *Supervisor) onRetireKill(ev retireKillEvent) {
	a := s.apps[ev.id]
	if a == nil || a.retiring == nil || a.retiring.killSeq != ev.seq {
		return
	}
	r := a.retiring
	_ = s.signal(r.pid, syscall.SIGKILL)
	if r.leaf != "" {
		_ = s.cgroups.Kill(r.leaf)
	}
}

// retiredExit handles the end of a reload's old process: the reload is
// over (or, if it ended before being asked to, the new process goes on
// alone).
func (s *Supervisor) retiredExit(a *app, ev exitEvent) {
	r := a.retiring
	a.retiring = nil
	if r.killTimer != nil {
		r.killTimer.Stop()
	}
	if r.leaf != "" {
		// What it left; the empty leaf goes at a later spawn.
		_ = s.cgroups.Kill(r.leaf)
	} else {
		_ = s.signal(r.pid, syscall.SIGKILL) // what is left of its group
	}
	if a.cgroup != "" && a.running() {
		// The new process is the app's only one: stopping it by the
		// app's cgroup (all its leaves) is right again.
		a.cgroup = s.appCgroup(a.spec.Key())
	}
	s.touch(a)
	s.log.Info("old process of a reload ended", "event", "reloaded", "app", a.label(), "pid", r.pid, "status", ev.status.String())
}

// reloadFailed gives up on the new process (it failed to start, exited,
// or was not ready in time): the old one is the app's process again.
// The new one, when it ran, is dead already.
func (s *Supervisor) reloadFailed(a *app, why string) {
	r := a.retiring
	if a.state != Online && a.state != Launching {
		s.log.Error("reload failure in an unexpected state", "event", "internal", "app", a.label(), "state", a.state.String())
		return
	}
	a.retiring = nil
	if r.killTimer != nil {
		r.killTimer.Stop()
	}
	a.reloadErr = why
	a.proc, a.pid, a.seq, a.cgroup, a.started = r.proc, r.pid, r.seq, r.cgroup, r.started
	a.leaderPID, a.leaderStart, a.spawnToken = r.leaderPID, r.leaderStart, r.spawnToken
	a.spawning = false
	a.ready()
	if a.state != Online {
		s.move(a, Online) // from Launching
	}
	s.touch(a)
	s.log.Warn("reload failed; the old process keeps running", "event", "reload-failed", "app", a.label(), "pid", a.pid, "error", why)
}
