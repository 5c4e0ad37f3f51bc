package daemon

import (
	"errors"
	"strings"
	"testing"

	"opm/daemon/api"
	"opm/daemon/process"
)

// startSpec registers and starts an app of spec in the fake world.
func (w *fakeWorld) startSpec(t *testing.T, spec api.Spec) *app {
	t.Helper()
	if spec.Restart == "" {
		spec.Restart = api.RestartAlways
	}
	spec.MaxRestarts, spec.KillTimeoutMs = 3, 500
	reply := make(chan result, 1)
	w.handle(startReq{spec: spec, reply: reply})
	if spec.WaitReady {
		// Taken as ready at its listen_timeout.
		a := w.s.byKey[spec.Name]
		w.handle(readyTimeoutEvent{id: a.id, seq: a.readySeq})
	}
	r := <-reply
	if r.err != nil {
		t.Fatal(r.err)
	}
	return w.s.apps[r.apps[0].ID]
}

// liveTimers returns the live timers whose event is of type E.
func liveTimers[E any](w *fakeWorld) []*fakeTimer {
	var out []*fakeTimer
	for _, ft := range w.timers {
		if _, ok := ft.ev.(E); ok && !ft.stopped {
			out = append(out, ft)
		}
	}
	return out
}

// Memory is sampled only while an app with a limit runs: no timer for
// apps without one, one when such an app comes online, none re-armed once
// it is gone.
func TestMemorySamplingOnlyWhileLimited(t *testing.T) {
	w := newFakeWorld(t)
	w.start(t, "plain")
	if n := len(liveTimers[memTickEvent](w)); n != 0 {
		t.Fatalf("%d memory timers without a limited app", n)
	}
	hog := w.startSpec(t, api.Spec{Name: "hog", Settings: api.Settings{MaxMemoryRestart: 100 << 20}})
	ticks := liveTimers[memTickEvent](w)
	if len(ticks) != 1 {
		t.Fatalf("%d memory timers with a limited app, want 1", len(ticks))
	}
	// The app is over its limit in two samples in a row: restarted.
	over := memResultEvent{seq: w.s.memSeq, samples: []memSample{{id: hog.id, run: hog.seq, leader: hog.pid, rss: 200 << 20, ok: true}}}
	w.handle(over)
	if hog.state != Online || hog.restartAfterStop {
		t.Fatalf("restarted after one sample over the limit")
	}
	over.seq = w.s.memSeq
	w.handle(over)
	if hog.state != Stopping || !hog.restartAfterStop || hog.lastRestartReason != "memory limit" {
		t.Fatalf("after two samples over the limit: %s, restart %v, reason %q", hog.state, hog.restartAfterStop, hog.lastRestartReason)
	}
	// A stale result (an older sample) changes nothing.
	before := len(w.timers)
	w.handle(memResultEvent{seq: w.s.memSeq - 1})
	if len(w.timers) != before {
		t.Error("a stale sample armed a timer")
	}
	// Once no limited app runs, a tick samples nothing and stops.
	w.action(t, "hog", "stop")
	w.handle(exitEvent{id: hog.id, seq: hog.seq, status: process.ExitStatus{Code: 0, Known: true}})
	for _, ft := range liveTimers[memTickEvent](w) {
		ft.stopped = true
		w.handle(ft.ev)
	}
	if w.s.memArmed || len(liveTimers[memTickEvent](w)) != 0 {
		t.Error("memory sampling goes on with no limited app running")
	}
}

// A cron timer is armed at registration to the next fire time, re-armed
// by a definition change, cancelled by remove; a stale fire is ignored,
// and an app waiting for its back-off is left to it.
func TestCronTimers(t *testing.T) {
	w := newFakeWorld(t)
	a := w.startSpec(t, api.Spec{Name: "tick", Settings: api.Settings{CronRestart: "*/10 * * * * *"}})
	crons := liveTimers[cronEvent](w)
	if len(crons) != 1 || crons[0].d <= 0 || crons[0].d > 10e9 {
		t.Fatalf("cron timers %v, want one within 10s", crons)
	}
	stale := crons[0]
	w.s.armCron(a) // as a definition change does
	stale.stopped = true
	w.handle(stale.ev)
	if a.state != Online || a.restartAfterStop {
		t.Fatal("a stale cron fire restarted the app")
	}
	w.exit(a, 1) // crashes: waits for its back-off
	if a.state != Waiting {
		t.Fatalf("after a crash: %s", a.state)
	}
	cur := liveTimers[cronEvent](w)
	fire := cur[len(cur)-1]
	fire.stopped = true // it fires
	w.handle(fire.ev)
	if a.state != Waiting {
		t.Fatalf("cron on an app waiting for its back-off: %s", a.state)
	}
	reply := make(chan result, 1)
	w.handle(removeReq{target: "tick", reply: reply})
	if n := len(liveTimers[cronEvent](w)); n != 0 {
		t.Errorf("%d cron timers left after remove", n)
	}
}

// A reload whose new process ends before it is ready reinstates the old
// one; a stop while the new process is being spawned stops both and never
// reinstates anything.
func TestReloadFailuresInTheFakeWorld(t *testing.T) {
	w := newFakeWorld(t)
	a := w.startSpec(t, api.Spec{Name: "web", Settings: api.Settings{WaitReady: true}})
	old, oldSeq := a.pid, a.seq
	reply := make(chan result, 1)
	w.handle(actionReq{target: "web", action: "reload", reply: reply})
	if a.retiring == nil || a.retiring.pid != old || a.pid == old || !a.awaitingReady {
		t.Fatalf("reload: retiring %+v, pid %d (old %d), awaiting %v", a.retiring, a.pid, old, a.awaitingReady)
	}
	w.exit(a, 1) // the new one dies before READY=1
	if a.retiring != nil || a.pid != old || a.seq != oldSeq || a.state != Online {
		t.Fatalf("after the new process died: retiring %v, pid %d seq %d state %s", a.retiring, a.pid, a.seq, a.state)
	}
	if r := <-reply; r.err == nil || !strings.Contains(r.err.Error(), "keeps running") {
		t.Errorf("the failed reload answered %v", r.err)
	}

	w.hold = true
	w.action(t, "web", "reload")
	if a.state != Launching || a.retiring == nil {
		t.Fatalf("second reload: %s", a.state)
	}
	w.action(t, "web", "stop")
	if !a.retiring.terminating || a.state != Stopped {
		t.Fatalf("stop during the spawn: retiring terminating %v, state %s", a.retiring.terminating, a.state)
	}
	w.hold = false
	spawned := w.pending[0]
	w.pending = nil
	spawned.proc, spawned.err = nil, errors.New("exec: no such file")
	w.handle(spawned)
	if a.state != Stopped || a.pid == old {
		t.Fatalf("a failed spawn after the stop brought the old process back: %s pid %d", a.state, a.pid)
	}
	w.handle(exitEvent{id: a.id, seq: a.retiring.seq, status: process.ExitStatus{Code: 0, Known: true}})
	if a.retiring != nil {
		t.Error("the old process's exit did not end the reload")
	}
}

// Watch restarts of processes that had just started, three in a row,
// are taken for an app changing its own watched files (daemon.log says
// which path to ignore); one that ran a while starts the count again.
func TestWatchLoopNoticed(t *testing.T) {
	w := newFakeWorld(t)
	a := w.start(t, "web")
	fire := func() {
		t.Helper()
		w.s.onWatch(watchEvent{id: a.id, seq: a.watch.debounceSeq, due: true})
		if a.state != Stopping || a.lastRestartReason != "watch" {
			t.Fatalf("a due watch change did not restart the app: %s", a.state)
		}
		w.exit(a, 0)
		if a.state != Online {
			t.Fatalf("after the watch restart: %s", a.state)
		}
	}
	for range quickLoop {
		fire()
	}
	if a.watch.quick != quickLoop {
		t.Errorf("%d quick watch restarts counted, want %d", a.watch.quick, quickLoop)
	}
	w.now = w.now.Add(2 * quickRun)
	fire()
	if a.watch.quick != 0 {
		t.Errorf("a process that ran %s still counts as a loop", 2*quickRun)
	}
}
