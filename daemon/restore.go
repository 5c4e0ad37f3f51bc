package daemon

import (
	"errors"
	"net/http"
	"path/filepath"

	"opm/daemon/api"
	"opm/daemon/appspec"
	"opm/daemon/logs"
	"opm/daemon/store"
)

// restoreReq asks the loop to bring back the apps of a dump.
type restoreReq struct {
	path  string
	apps  []store.DumpApp
	reply chan result
}

// restore starts every saved app that was running and is not in the
// table (matched by name), registers the saved-stopped ones without
// starting them, and leaves apps already in the table alone. Starts run in
// parallel; the answer comes once each has started or failed. Everything
// happens on the supervisor goroutine, so no app is ever started twice,
// however many restores arrive at once.
func (s *Supervisor) restore(ev restoreReq) {
	if s.stopping {
		ev.reply <- result{err: errDaemonStopping}
		return
	}
	res := api.RestoreResult{Path: ev.path, Started: []string{}, AlreadyRunning: []string{}, Stopped: []string{}, Failed: map[string]string{}}
	// launched: started by this restore; starting: being started already
	// (by a user or another restore) — the answer waits for both, so that
	// a restore never reports an app before its process runs.
	var launched, starting []*app
	for _, d := range ev.apps {
		name := d.Spec.Name
		if err := appspec.Check(d.Spec); err != nil {
			res.Failed[name] = "saved definition unusable: " + err.Error()
			continue
		}
		logs.Own(&d.Spec, s.cfg.Home)
		if a := s.byName[name]; a != nil {
			switch {
			case a.state == Launching && a.deferred:
				// Its automatic start waited for this restore.
				s.launch(a, false)
				launched = append(launched, a)
			case a.state == Launching:
				starting = append(starting, a)
			case a.state == Stopped || a.state == Errored:
				res.Stopped = append(res.Stopped, name)
			default:
				res.AlreadyRunning = append(res.AlreadyRunning, name)
			}
			continue
		}
		a := s.register(d.Spec)
		a.userStopped = d.UserStopped
		if !d.Running {
			res.Stopped = append(res.Stopped, name)
			continue
		}
		s.move(a, Launching)
		s.launch(a, false)
		launched = append(launched, a)
	}
	ids := make([]int, 0, len(launched)+len(starting))
	for _, a := range append(launched, starting...) {
		ids = append(ids, a.id)
	}
	s.log.Info("restoring apps", "event", "restore", "starting", len(launched), "already_running", len(res.AlreadyRunning)+len(starting), "stopped", len(res.Stopped))
	s.wait(ids, func() {
		settle := func(apps []*app, online *[]string) {
			for _, a := range apps {
				switch {
				case s.apps[a.id] != a:
					res.Failed[a.spec.Name] = "removed while it was being restored"
				case a.state == Online:
					*online = append(*online, a.spec.Name)
				case a.lastErr != "":
					res.Failed[a.spec.Name] = a.lastErr
				default:
					res.Failed[a.spec.Name] = "is " + a.state.String() + " after its start"
				}
			}
		}
		settle(launched, &res.Started)
		settle(starting, &res.AlreadyRunning)
		ev.reply <- result{restore: res}
	})
}

// handleRestore reads the dump and asks the supervisor to restore it. A
// dump that cannot be read is left untouched, a copy is set aside, and the
// daemon carries on.
func (srv *server) handleRestore(w http.ResponseWriter, r *http.Request) {
	path := filepath.Join(srv.cfg.Home, api.DumpName)
	d, err := store.ReadDump(path)
	if errors.Is(err, store.ErrNoDump) {
		writeError(w, api.Errorf(api.CodeNotFound, "no dump at %s: nothing to restore (run 'opm save' first)", path))
		return
	}
	if err != nil {
		aside, cerr := store.SetAside(path)
		msg := "cannot restore from " + path + ": " + err.Error() + "; the file was left as it is"
		if cerr == nil {
			msg += " and a copy set aside as " + aside
		}
		srv.log.Error("dump unreadable", "event", "restore-failed", "path", path, "error", err)
		writeError(w, api.Errorf(api.CodeInternal, "%s (fix or remove it, then 'opm save' again)", msg))
		return
	}
	res, ok := srv.call(r.Context(), w, func(reply chan result) event { return restoreReq{path: path, apps: d.Apps, reply: reply} })
	if !ok {
		return
	}
	srv.log.Info("restore done", "event", "restored", "started", len(res.restore.Started), "already_running", len(res.restore.AlreadyRunning), "stopped", len(res.restore.Stopped), "failed", len(res.restore.Failed))
	writeJSON(w, http.StatusOK, res.restore)
}
