package daemon

import (
	"syscall"
	"time"

	"opm/daemon/api"
)

// onAction handles start, stop, restart, reload, signal and reset of
// existing apps. It answers once the apps have settled: stopped, or
// started (or failed to).
func (s *Supervisor) onAction(ev actionReq) {
	switch ev.action {
	case "start", "stop", "restart", "reload", "signal", "reset":
	default:
		ev.reply <- result{err: api.Errorf(api.CodeBadRequest, "unknown action %q (use start, stop, restart, reload, signal or reset)", ev.action)}
		return
	}
	ids, err := s.resolve(ev.target)
	if err != nil {
		ev.reply <- result{err: err}
		return
	}
	if ev.action != "stop" && s.stopping {
		ev.reply <- result{err: errDaemonStopping}
		return
	}
	var refused error
	for _, id := range ids {
		a := s.apps[id]
		if a.removing && ev.action != "stop" {
			refused = api.Errorf(api.CodeConflict, "app %q is being removed", a.spec.Name)
			continue
		}
		switch ev.action {
		case "start":
			s.startApp(a)
		case "stop":
			a.userStopped = true
			s.touch(a) // the record says so, also for an app stopped already
			s.stopApp(a)
		case "restart":
			s.publishUserRestart(a, api.ReasonUser)
			s.restartApp(a)
		case "reload":
			s.publishUserRestart(a, api.ReasonReload)
			s.reloadApp(a)
		case "signal":
			s.sendSignal(a, ev.signal)
		case "reset":
			a.restarts, a.burst = 0, 0
			s.touch(a)
		}
	}
	s.replySettled(ids, ev.action, refused, ev.reply)
}

// replySettled answers an action on the apps ids once they have settled:
// stopped, or started (or failed to start, which is the answer's error).
func (s *Supervisor) replySettled(ids []int, action string, refused error, reply chan result) {
	s.wait(ids, func() {
		r := result{apps: s.snapshots(ids), err: refused}
		if action != "start" && action != "restart" && action != "reload" {
			reply <- r
			return
		}
		for _, id := range ids {
			a := s.apps[id]
			if a != nil && action == "reload" && a.reloadErr != "" {
				if r.err == nil {
					r.err = api.Errorf(api.CodeStartFailed, "reload of %q failed: %s; the old process (pid %d) keeps running", a.spec.Name, a.reloadErr, a.pid)
				}
				a.reloadErr = ""
				continue
			}
			if a == nil || a.lastErr == "" || a.state == Online {
				continue
			}
			if a.state == Waiting {
				r.err = api.Errorf(api.CodeStartFailed, "cannot start %q: %s; opm tries again in %s (see 'opm list'; 'opm stop %s' gives up)", a.spec.Name, a.lastErr, a.timerDue.Sub(s.now()).Round(time.Millisecond), a.spec.Name)
			} else {
				r.err = api.Errorf(api.CodeStartFailed, "cannot start %q: %s", a.spec.Name, a.lastErr)
			}
			break
		}
		reply <- r
	})
}

// sendSignal sends sig to a running app's process group (`opm signal`,
// PM2's sendSignal); an app that is not running has no process to get it.
func (s *Supervisor) sendSignal(a *app, sig syscall.Signal) {
	if !a.running() {
		return
	}
	if err := s.signal(a.pid, sig); err != nil {
		s.log.Warn("cannot signal app", "event", "signal-failed", "app", a.label(), "pid", a.pid, "error", err)
		return
	}
	s.log.Info("signal sent", "event", "signal", "app", a.label(), "pid", a.pid, "signal", api.SignalString(sig))
}

// restartApp stops a running app and starts it again once it has exited;
// an app that is not running is simply started.
func (s *Supervisor) restartApp(a *app) {
	switch a.state {
	case Online:
		s.stopApp(a)
		a.restartAfterStop = true
	case Stopping:
		a.restartAfterStop = true
	default:
		s.startApp(a)
	}
}
