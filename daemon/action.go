package daemon

import (
	"time"

	"opm/daemon/api"
)

// onAction handles start/stop/restart/reload of existing apps. It answers
// once the apps have settled: stopped, or started (or failed to).
func (s *Supervisor) onAction(ev actionReq) {
	switch ev.action {
	case "start", "stop", "restart", "reload":
	default:
		ev.reply <- result{err: api.Errorf(api.CodeBadRequest, "unknown action %q (use start, stop, restart or reload)", ev.action)}
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
			s.stopApp(a)
		case "restart", "reload":
			s.restartApp(a)
		}
	}
	s.wait(ids, func() {
		r := result{apps: s.snapshots(ids), err: refused}
		if ev.action == "stop" {
			ev.reply <- r
			return
		}
		for _, id := range ids {
			a := s.apps[id]
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
		ev.reply <- r
	})
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
