package daemon

import (
	"time"

	"opm/daemon/api"
)

// Watch and restart (PM2's --watch). The supervisor side is here: an
// app's watch set is armed and cancelled with its other triggers, and a
// change (re)arms one debounce timer an app, so that a burst of changes
// gives one restart. The files side — one inotify instance for the whole
// daemon, walks of the watched trees off the loop — is in watchfs.go.

// defaultWatchDelay is how long after the last change of a burst a
// watching app is restarted, when its watch_delay does not say.
const defaultWatchDelay = time.Second

// appWatch is an app's side of watching: its set (nil: nothing is
// watched), seq, which invalidates changes from a set since cancelled,
// and the debounce timer of a burst of changes, whose debounceSeq
// invalidates a fire on its way when it was re-armed.
type appWatch struct {
	set         *watchSet
	seq         uint64
	timer       timer
	debounceSeq uint64
	// firstPath is the first path that changed in the burst; quick
	// counts the watch restarts in a row of processes that had run less
	// than quickRun: an app that writes into its own watched tree.
	firstPath string
	quick     int
}

// A process restarted by a change within quickRun of its start, that
// quickLoop times in a row, is taken for an app that changes its own
// watched files, and daemon.log says which path to ignore.
const (
	quickRun  = 5 * time.Second
	quickLoop = 3
)

// watchEvent is a change under an app's watched paths (seq is its watch
// set's), or the end of its debounce delay (due; seq is the debounce's).
type watchEvent struct {
	id   int
	seq  uint64
	due  bool
	path string // the path that changed
}

// armWatch starts watching the app's files when it asks (Watch), or
// stops when it no longer does. The walk of the watched trees happens
// off the loop.
func (s *Supervisor) armWatch(a *app) {
	s.cancelWatch(a)
	if !a.spec.Watch {
		return
	}
	if s.files == nil {
		s.files = newFileWatch(s)
	}
	a.watch.set = newWatchSet(a.id, a.watch.seq, a.spec, s.cfg)
	s.files.arm(a.watch.set)
}

// cancelWatch stops watching the app's files; changes already on their
// way, and a pending debounce, are stale.
func (s *Supervisor) cancelWatch(a *app) {
	a.watch.seq++
	a.stopDebounce()
	if a.watch.set != nil {
		s.files.release(a.watch.set)
		a.watch.set = nil
	}
}

// stopDebounce stops the app's debounce timer; a fire already on its way
// is stale.
func (a *app) stopDebounce() {
	a.watch.debounceSeq++
	if a.watch.timer != nil {
		a.watch.timer.Stop()
		a.watch.timer = nil
	}
}

// watchDelay is the app's debounce delay.
func watchDelay(spec api.Spec) time.Duration {
	if spec.WatchDelayMs > 0 {
		return time.Duration(spec.WatchDelayMs) * time.Millisecond
	}
	return defaultWatchDelay
}

// onWatch handles a watch event: a change (re)arms the app's debounce
// timer; its end restarts the app if it is meant to run. A stopped (or
// errored) app is not started by a change.
func (s *Supervisor) onWatch(ev watchEvent) {
	a := s.apps[ev.id]
	if a == nil || s.stopping || a.removing {
		return
	}
	if !ev.due {
		if ev.seq != a.watch.seq {
			return // from a watch set since cancelled
		}
		d := watchDelay(a.spec)
		if a.watch.timer == nil {
			a.watch.firstPath = ev.path
			// The first change of a burst, said once.
			s.log.Info("watched file changed", "event", "watch-change", "app", a.label(), "path", ev.path, "restart_in_ms", d.Milliseconds())
		}
		a.stopDebounce()
		a.watch.timer = s.after(d, watchEvent{id: a.id, seq: a.watch.debounceSeq, due: true})
		return
	}
	if ev.seq != a.watch.debounceSeq {
		return
	}
	a.watch.timer = nil
	switch {
	case a.state == Online:
		s.noteWatchLoop(a)
		s.publish(a, api.Event{Type: api.EventTypeWatchRestart, PID: a.pid, Detail: a.watch.firstPath})
		s.restartFor(a, "watch")
	case a.state == Waiting:
		// A crashing app whose files changed starts now, the restart
		// counted as its back-off would have (max_restarts still holds).
		a.cancelTimer()
		a.lastRestartReason = "watch"
		s.log.Info("restarting app", "event", "restarting", "app", a.label(), "pid", 0, "reason", "watch")
		s.publish(a, api.Event{Type: api.EventTypeWatchRestart, Detail: a.watch.firstPath})
		s.publish(a, api.Event{Type: api.EventTypeRestart, Reason: api.ReasonWatch})
		s.restartNow(a)
	case a.state == Launching:
		// Its start is coming (deferred while a restore runs) or under
		// way: it reads the files as they are now.
	case a.state == Stopping && a.restartAfterStop:
		// Being restarted already.
	default:
		s.log.Info("watched files changed, but the app is not running: not started", "event", "watch-idle", "app", a.label(), "status", a.state.String(), "hint", "start it with 'opm start "+a.spec.Name+"'")
	}
}

// noteWatchLoop says in daemon.log, once a loop is seen, that the app
// seems to change its own watched files: each restart is caused by a
// change made soon after the process started.
func (s *Supervisor) noteWatchLoop(a *app) {
	if s.now().Sub(a.started) >= quickRun {
		a.watch.quick = 0
		return
	}
	a.watch.quick++
	if a.watch.quick == quickLoop {
		s.log.Warn("the app seems to change its own watched files: each watch restart follows a change made soon after it started", "event", "watch-loop", "app", a.label(), "path", a.watch.firstPath, "hint", "add the path to --ignore-watch (ignore_watch) if the app writes it")
	}
}
