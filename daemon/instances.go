package daemon

import (
	"slices"

	"opm/daemon/api"
	"opm/daemon/logs"
)

// Instances (api/instances.go): an app of N instances is N rows of the
// table, one per process, keyed by api.InstanceKey, that share a name and
// a definition but for Spec.Instance. The table keeps, for every name,
// exactly the instances 0..N-1 of the app's Settings.Instances: start
// registers them all, scale adds or removes the highest, remove takes
// them all, restore and the takeover fill in what a dump or a dead daemon
// left out and drop what is beyond N.

// scaleReq asks for an app's instance count to become count ("4", "+1",
// "max").
type scaleReq struct {
	name, count string
	reply       chan result
}

// group returns the instances of the app called name, by instance id.
func (s *Supervisor) group(name string) []*app {
	var out []*app
	for _, a := range s.apps {
		if a.spec.Name == name {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(x, y *app) int { return x.spec.Instance - y.spec.Instance })
	return out
}

// instanceSpec is the definition of instance i of the app spec defines,
// its log files resolved for that instance.
func (s *Supervisor) instanceSpec(spec api.Spec, i int) api.Spec {
	spec.Instance = i
	logs.OwnIn(&spec, s.cfg.logDir())
	return spec
}

// index makes a findable by its instance key and its name. A key taken
// already is a bug of opm's: said, and the first row kept.
func (s *Supervisor) index(a *app) {
	if old := s.byKey[a.spec.Key()]; old != nil && old != a {
		s.log.Error("two rows for one instance: a bug of opm's", "event", "internal", "app", a.label(), "id", a.id, "kept_id", old.id)
	} else {
		s.byKey[a.spec.Key()] = a
	}
	s.names[a.spec.Name]++
}

func idsOf(apps []*app) []int {
	ids := make([]int, len(apps))
	for i, a := range apps {
		ids[i] = a.id
	}
	return ids
}

// addInstances registers instances from..to-1 of the app spec defines
// and starts them unless stopped; first marks them never started (a
// failed first start removes an instance).
func (s *Supervisor) addInstances(spec api.Spec, from, to int, stopped, first bool) []*app {
	var added []*app
	for i := from; i < to; i++ {
		a := s.register(s.instanceSpec(spec, i))
		added = append(added, a)
		if stopped {
			a.userStopped = true
			continue
		}
		a.firstStart = first
		s.move(a, Launching)
		s.launch(a, false)
	}
	return added
}

// dropInstances stops apps and forgets them once they are down, then
// runs done.
func (s *Supervisor) dropInstances(apps []*app, done func()) {
	for _, a := range apps {
		a.removing = true
		s.stopApp(a)
	}
	ids := idsOf(apps)
	s.wait(ids, func() {
		for _, id := range ids {
			if a := s.apps[id]; a != nil {
				s.forget(a)
				s.log.Info("instance removed", "event", api.EventRemoved, "app", a.label(), "instance", a.spec.Instance, "pid", 0)
			}
		}
		done()
	})
}

// errRemoving refuses to change an app some of whose instances are being
// removed.
func errRemoving(name string) error {
	return api.Errorf(api.CodeConflict, "app %q is being removed or scaled down; try again once 'opm list' shows it settled", name)
}

// setCount records n as the instance count of the instances apps.
func (s *Supervisor) setCount(apps []*app, n int) {
	for _, a := range apps {
		if a.spec.Instances != n {
			a.spec.Instances = n
			a.specRev++
			s.touch(a)
		}
	}
}

// onScale makes the app have the instance count asked for: it starts the
// instances it lacks and stops and removes the highest ones it has too
// many, leaving the others as they run. It answers with the app's rows
// once they have settled.
func (s *Supervisor) onScale(ev scaleReq) {
	if s.stopping {
		ev.reply <- result{err: errDaemonStopping}
		return
	}
	cur := s.group(ev.name)
	if len(cur) == 0 {
		if api.IsID(ev.name) {
			ev.reply <- result{err: api.Errorf(api.CodeBadRequest, "scale takes an app's name, not an id (see 'opm list')")}
			return
		}
		ev.reply <- result{err: api.Errorf(api.CodeNotFound, "no app named %q (see 'opm list')", ev.name)}
		return
	}
	if slices.ContainsFunc(cur, func(a *app) bool { return a.removing }) {
		ev.reply <- result{err: errRemoving(ev.name)}
		return
	}
	n, err := api.ParseInstances(ev.count, len(cur))
	if err != nil {
		ev.reply <- result{err: api.Errorf(api.CodeBadRequest, "%v", err)}
		return
	}
	keep := cur[:min(n, len(cur))]
	s.setCount(keep, n)
	// New instances of a stopped app stay stopped, as the app is.
	stopped := keep[0].state == Stopped || keep[0].state == Errored
	added := s.addInstances(keep[0].spec, len(cur), n, stopped, false)
	s.log.Info("app scaled", "event", api.EventScaled, "app", ev.name, "from", len(cur), "to", n)
	reply := func() {
		r := result{apps: s.snapshots(idsOf(s.group(ev.name)))}
		if keep[0].recordFailing {
			// A daemon killed now would bring back the old count.
			r.err = api.Errorf(api.CodeInternal, "scaled %q to %d, but its runtime record cannot be written (%s is full?): if the daemon dies before it can, the next one goes back to the old count", ev.name, n, s.cfg.RuntimeDir)
		}
		for _, a := range added {
			if s.apps[a.id] == a && a.state != Online && a.lastErr != "" {
				r.err = api.Errorf(api.CodeStartFailed, "cannot start instance %d of %q: %s (see 'opm list')", a.spec.Instance, ev.name, a.lastErr)
				break
			}
		}
		ev.reply <- r
	}
	if n < len(cur) {
		s.dropInstances(cur[n:], reply)
		return
	}
	s.wait(idsOf(added), reply)
}
