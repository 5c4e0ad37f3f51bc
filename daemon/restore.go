package daemon

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"path/filepath"
	"slices"

	"opm/daemon/api"
	"opm/daemon/appspec"
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
	for _, g := range s.dumpGroups(ev.apps, res.Failed) {
		name := g[0].Spec.Name
		if s.names[name] > 0 {
			// In the table already: left as it is, instances and all.
			for _, a := range s.group(name) {
				if a.removing {
					continue // on its way out (scaled down)
				}
				label := a.label()
				switch {
				case a.state == Launching && a.deferred:
					// Its automatic start waited for this restore.
					s.launch(a, false)
					launched = append(launched, a)
				case a.state == Launching:
					starting = append(starting, a)
				case a.state == Stopped || a.state == Errored:
					res.Stopped = append(res.Stopped, label)
				default:
					res.AlreadyRunning = append(res.AlreadyRunning, label)
				}
			}
			continue
		}
		for _, d := range g {
			a := s.register(d.Spec)
			a.userStopped = d.UserStopped
			if !d.Running {
				res.Stopped = append(res.Stopped, a.label())
				continue
			}
			s.move(a, Launching)
			s.launch(a, false)
			launched = append(launched, a)
		}
	}
	ids := make([]int, 0, len(launched)+len(starting))
	for _, a := range append(launched, starting...) {
		ids = append(ids, a.id)
	}
	s.log.Info("restoring apps", "event", "restore", "starting", len(launched), "already_running", len(res.AlreadyRunning)+len(starting), "stopped", len(res.Stopped))
	s.publish(nil, api.Event{Type: api.EventTypeRestoreBegin, Detail: fmt.Sprintf("starting=%d already_running=%d stopped=%d", len(launched), len(res.AlreadyRunning)+len(starting), len(res.Stopped))})
	s.wait(ids, func() {
		settle := func(apps []*app, online *[]string) {
			for _, a := range apps {
				switch {
				case s.apps[a.id] != a:
					res.Failed[a.label()] = "removed while it was being restored"
				case a.state == Online:
					*online = append(*online, a.label())
				case a.lastErr != "":
					res.Failed[a.label()] = a.lastErr
				default:
					res.Failed[a.label()] = "is " + a.state.String() + " after its start"
				}
			}
		}
		settle(launched, &res.Started)
		settle(starting, &res.AlreadyRunning)
		s.publish(nil, api.Event{Type: api.EventTypeRestoreEnd, Detail: fmt.Sprintf("started=%d already_running=%d stopped=%d failed=%d", len(res.Started), len(res.AlreadyRunning), len(res.Stopped), len(res.Failed))})
		ev.reply <- result{restore: res}
	})
}

// handleRestore reads the dump and asks the supervisor to restore it. A
// dump that cannot be read is left untouched, a copy is set aside, and the
// daemon carries on.
func (srv *server) handleRestore(w http.ResponseWriter, r *http.Request) {
	res, err := srv.restoreDump(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// restoreDump restores the saved apps (restore) and says how it went.
func (srv *server) restoreDump(ctx context.Context) (api.RestoreResult, error) {
	path := filepath.Join(srv.cfg.Home, api.DumpName)
	d, err := store.ReadDump(path)
	if errors.Is(err, store.ErrNoDump) {
		return api.RestoreResult{}, api.Errorf(api.CodeNotFound, "no dump at %s: nothing to restore (run 'opm save' first)", path)
	}
	if err != nil {
		aside, cerr := store.SetAside(path)
		msg := "cannot restore from " + path + ": " + err.Error() + "; the file was left as it is"
		if cerr == nil {
			msg += " and a copy set aside as " + aside
		}
		srv.log.Error("dump unreadable", "event", "restore-failed", "path", path, "error", err)
		return api.RestoreResult{}, api.Errorf(api.CodeInternal, "%s (fix or remove it, then 'opm save' again)", msg)
	}
	reply := make(chan result, 1)
	res := srv.sup.ask(ctx, restoreReq{path: path, apps: d.Apps, reply: reply}, reply)
	if res.err != nil {
		return api.RestoreResult{}, res.err
	}
	srv.log.Info("restore done", "event", "restored", "started", len(res.restore.Started), "already_running", len(res.restore.AlreadyRunning), "stopped", len(res.restore.Stopped), "failed", len(res.restore.Failed))
	return res.restore, nil
}

// dumpGroups checks a dump's apps and groups them by app, each group the
// instances 0..N-1 of its app in order, N being what its instance 0 says
// (or, without it, the largest count saved): an unusable definition is
// said in failed; an instance saved twice is restored once, one beyond N
// not at all (said in daemon.log), and one missing — a dump edited by
// hand — is made from the app's lowest instance, so that the app gets
// exactly N.
func (s *Supervisor) dumpGroups(apps []store.DumpApp, failed map[string]string) [][]store.DumpApp {
	byName := map[string]map[int]store.DumpApp{}
	var order []string
	for _, d := range apps {
		name := d.Spec.Name
		label := api.Label(name, d.Spec.Instance, d.Spec.Count())
		if err := appspec.Check(d.Spec); err != nil {
			failed[label] = "saved definition unusable: " + err.Error()
			continue
		}
		if byName[name] == nil {
			byName[name] = map[int]store.DumpApp{}
			order = append(order, name)
		}
		if _, dup := byName[name][d.Spec.Instance]; dup {
			s.log.Warn("an instance is saved twice in the dump; restored once", "event", "dump-instances", "app", label)
			continue
		}
		byName[name][d.Spec.Instance] = d
	}
	out := make([][]store.DumpApp, 0, len(order))
	for _, name := range order {
		saved := byName[name]
		n := 0
		if d, ok := saved[0]; ok {
			n = d.Spec.Count()
		} else {
			for _, d := range saved {
				n = max(n, d.Spec.Count())
			}
		}
		first := slices.Min(slices.Collect(maps.Keys(saved)))
		g := make([]store.DumpApp, 0, n)
		for i := range n {
			d, ok := saved[i]
			if !ok {
				d = saved[first]
			}
			if d.Spec.Count() != n {
				d.Spec.Instances = n
			}
			d.Spec = s.instanceSpec(d.Spec, i)
			g = append(g, d)
		}
		for i := range saved {
			if i >= n {
				s.log.Warn("an instance in the dump is beyond the app's count; not restored", "event", "dump-instances", "app", api.Label(name, i, n), "instances", n)
			}
		}
		out = append(out, g)
	}
	return out
}
