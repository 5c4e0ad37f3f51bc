package daemon

import (
	"path"
	"syscall"

	"opm/daemon/api"
	"opm/daemon/process"
)

// The supervisor's side. These run on its goroutine; each is a few
// system calls on cgroupfs.

// appCgroup is the cgroup of the app called name ("" when cgroups are
// off). It reads only what is fixed before the loop starts, so spawns
// call it off the loop.
func (s *Supervisor) appCgroup(name string) string {
	if s.cgroups == nil {
		return ""
	}
	return s.cgroups.App(s.tokens.AppKey(name))
}

// useCgroup records the cgroup of the app's new process p. A cgroup in
// which a previous daemon had put the app, and which this daemon does not
// use, is removed: its last process has exited.
func (s *Supervisor) useCgroup(a *app, p process.Process) {
	var cg string
	switch p := p.(type) {
	case *process.Child:
		cg = p.Cgroup()
	case *process.Adopted:
		cg = s.cgroups.Adopted(p.Pid(), s.tokens.AppKey(a.spec.Key()))
		if cg != "" && process.SameProcess(p.Pid(), p.StartTicks()) != nil {
			cg = "" // the process ended while its cgroup was read
		}
	}
	appCG := s.appCgroup(a.spec.Key())
	if a.cgroup != "" && a.cgroup != cg && a.cgroup != appCG && path.Dir(a.cgroup) != appCG {
		// (A leaf of the app's cgroup is Enter's to remove.)
		s.cgroups.Remove(a.cgroup)
	}
	a.cgroup = cg
}

// terminate asks a running app to stop: its kill signal (SIGTERM unless it
// set another) to its process group, and to every other process of its
// cgroup.
func (s *Supervisor) terminate(a *app) {
	sig := killSignal(a.spec)
	if err := s.signal(a.pid, sig); err != nil {
		s.log.Warn("cannot signal app", "event", "signal-failed", "app", a.label(), "pid", a.pid, "error", err)
	}
	if a.cgroup == "" {
		return
	}
	if err := s.cgroups.Signal(a.cgroup, sig, a.pid); err != nil {
		s.log.Warn("cannot signal app", "event", "signal-failed", "app", a.label(), "pid", a.pid, "error", err)
	}
}

// kill ends a running app that outlived its kill timeout: SIGKILL to its
// process group, and cgroup.kill.
func (s *Supervisor) kill(a *app) {
	_ = s.signal(a.pid, syscall.SIGKILL)
	if a.cgroup == "" {
		return
	}
	if err := s.cgroups.Kill(a.cgroup); err != nil {
		s.log.Warn("cannot kill app", "event", "signal-failed", "app", a.label(), "pid", a.pid, "error", err)
	}
}

// killLeftovers ends whatever the app's leader (pid, now exited) left
// behind: everything in its cgroup, or without one its process group.
func (s *Supervisor) killLeftovers(a *app, pid int) {
	if a.cgroup != "" {
		err := s.cgroups.KillLeftovers(a.cgroup)
		if err == nil {
			return
		}
		s.log.Warn("cannot kill what is left of app", "event", "signal-failed", "app", a.label(), "pid", pid, "error", err)
	}
	_ = s.signal(pid, syscall.SIGKILL)
}

// discardCgroup kills what a discarded process of app id may have
// started already, unless the app runs (then the cgroup is its process's).
// When the app is gone — removed while the process was being created, its
// cgroups dropped meanwhile from under the spawn — the cgroup goes too.
func (s *Supervisor) discardCgroup(id int, p process.Process) {
	c, ok := p.(*process.Child)
	if !ok || c.Cgroup() == "" {
		return
	}
	a := s.apps[id]
	switch {
	case a == nil:
		s.cgroups.Remove(c.Cgroup())
	case a.running():
	default:
		if err := s.cgroups.Kill(c.Cgroup()); err != nil {
			s.log.Warn("cannot kill what is left of a discarded process", "event", "signal-failed", "pid", c.Pid(), "error", err)
		}
	}
}

// dropCgroups removes the cgroups of an app that no process of which may
// run any more: it was removed, or the daemon stopped every app.
func (s *Supervisor) dropCgroups(a *app) {
	if s.cgroups == nil {
		return
	}
	if a.cgroup != "" {
		s.cgroups.Remove(a.cgroup)
	}
	if cg := s.appCgroup(a.spec.Key()); cg != a.cgroup {
		s.cgroups.Remove(cg)
	}
}

// killStale kills what a dead daemon left running in the cgroup of an
// app that should not run.
func (s *Supervisor) killStale(a *app) {
	if s.cgroups == nil {
		return
	}
	if err := s.cgroups.Kill(s.appCgroup(a.spec.Key())); err != nil {
		s.log.Warn("cannot kill what is left of app", "event", "signal-failed", "app", a.label(), "error", err)
	}
}

// killSignal is the signal that asks the app of spec to stop.
func killSignal(spec api.Spec) syscall.Signal {
	if spec.KillSignal != "" {
		if sig, err := api.ParseSignal(spec.KillSignal); err == nil {
			return sig
		}
	}
	return syscall.SIGTERM
}
