package daemon

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"

	"opm/daemon/api"
	"opm/daemon/process"
	"opm/daemon/testkit"
)

// fakeWorld drives a Supervisor through handle alone: no goroutines, no
// processes, no real timers.
type fakeWorld struct {
	s       *Supervisor
	now     time.Time
	nextPID int
	fail    error
	timers  []*fakeTimer
	signals []string
	pending []spawnedEvent
	// hold keeps spawns pending until the test releases them.
	hold bool
}

// handle runs ev, then the spawns it started, as the loop would.
func (w *fakeWorld) handle(ev event) {
	w.s.handle(ev)
	for !w.hold && len(w.pending) > 0 {
		next := w.pending[0]
		w.pending = w.pending[1:]
		w.s.handle(next)
	}
}

type fakeTimer struct {
	d       time.Duration
	ev      event
	stopped bool
}

func (f *fakeTimer) Stop() bool { f.stopped = true; return true }

type fakeProc struct{ pid int }

func (p fakeProc) Pid() int                 { return p.pid }
func (p fakeProc) StartTicks() uint64       { return uint64(p.pid) }
func (p fakeProc) Wait() process.ExitStatus { panic("fake processes are not waited for") }

func newFakeWorld(testing.TB) *fakeWorld {
	cfg := DefaultConfig("/home", "/run")
	cfg.RestartDelay = 100 * time.Millisecond
	cfg.RestartDelayMax = time.Second
	cfg.RestartResetAfter = 30 * time.Second
	cfg.MaxRestarts = 3
	w := &fakeWorld{now: time.Unix(1000, 0), nextPID: 100}
	s := newSupervisor(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.now = func() time.Time { return w.now }
	s.spawn = func(api.Spec, string, string) (process.Process, error) {
		if w.fail != nil {
			return nil, w.fail
		}
		w.nextPID++
		return fakeProc{w.nextPID}, nil
	}
	s.signal = func(pid int, sig syscall.Signal) error {
		w.signals = append(w.signals, sig.String())
		return nil
	}
	s.after = func(d time.Duration, ev event) timer {
		ft := &fakeTimer{d: d, ev: ev}
		w.timers = append(w.timers, ft)
		return ft
	}
	s.watch = func(int, uint64, process.Process) {}
	s.startSpawn = func(id int, seq uint64, spec api.Spec, _ string) {
		p, err := s.spawn(spec, "", "")
		w.pending = append(w.pending, spawnedEvent{id: id, seq: seq, proc: p, err: err})
	}
	w.s = s
	return w
}

// lastTimer returns the most recent live timer.
func (w *fakeWorld) lastTimer(t *testing.T) *fakeTimer {
	t.Helper()
	for i := len(w.timers) - 1; i >= 0; i-- {
		if !w.timers[i].stopped {
			return w.timers[i]
		}
	}
	t.Fatal("no live timer")
	return nil
}

func (w *fakeWorld) start(t *testing.T, name string) *app {
	t.Helper()
	return w.startPolicy(t, name, api.RestartAlways)
}

func (w *fakeWorld) startPolicy(t *testing.T, name, policy string) *app {
	t.Helper()
	reply := make(chan result, 1)
	w.handle(startReq{spec: api.Spec{Name: name, Restart: policy, MaxRestarts: 3, KillTimeoutMs: 500}, reply: reply})
	r := <-reply
	if r.err != nil {
		t.Fatal(r.err)
	}
	return w.s.apps[r.apps[0].ID]
}

// shown is the app as clients see it.
func (w *fakeWorld) shown(a *app) api.App { return a.snapshot(w.now) }

func (w *fakeWorld) exit(a *app, code int) {
	w.handle(exitEvent{id: a.id, seq: a.seq, status: process.ExitStatus{Code: code, Known: true}})
}

func (w *fakeWorld) action(t *testing.T, target, action string) result {
	t.Helper()
	reply := make(chan result, 1)
	w.handle(actionReq{target: target, action: action, reply: reply})
	select {
	case r := <-reply:
		return r
	default:
		return result{err: errors.New("no reply yet")}
	}
}

// A crashing app is restarted after a back-off that doubles; after
// MaxRestarts restarts in a burst it is errored and stays down — no timer
// is left to start it, and a late back-off event is stale — until the user
// starts it, which begins a new burst.
func TestHandleCrashBackoffErrored(t *testing.T) {
	w := newFakeWorld(t)
	a := w.start(t, "web")
	if a.state != Online || a.pid != 101 {
		t.Fatalf("after start: %s pid %d", a.state, a.pid)
	}
	wantDelays := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}
	var tm *fakeTimer
	for i, want := range wantDelays {
		w.now = w.now.Add(time.Second)
		w.exit(a, 1)
		if a.state != Waiting {
			t.Fatalf("crash %d: state %s, want waiting", i, a.state)
		}
		tm = w.lastTimer(t)
		if tm.d != want {
			t.Fatalf("crash %d: back-off %s, want %s", i, tm.d, want)
		}
		w.handle(tm.ev)
		if a.state != Online || a.restarts != i+1 {
			t.Fatalf("after back-off %d: %s, %d restarts", i, a.state, a.restarts)
		}
	}
	w.exit(a, 1)
	if got := w.shown(a); a.state != Errored || got.Restarts != 3 || got.PID != 0 || got.ExitCode != 1 {
		t.Fatalf("after %d restarts: %+v, want errored with 3 restarts, exit code 1, no pid", a.restarts, got)
	}
	if a.timer != nil {
		t.Fatal("an errored app has a timer armed")
	}
	w.handle(tm.ev)
	if a.state != Errored || w.nextPID != 104 {
		t.Fatalf("a late back-off event restarted an errored app: %s, pid %d", a.state, w.nextPID)
	}

	if r := w.action(t, "web", "start"); r.err != nil || a.state != Online || a.pid != 105 {
		t.Fatalf("start an errored app: %v, %s pid %d", r.err, a.state, a.pid)
	}
	w.exit(a, 1)
	if d := w.lastTimer(t).d; d != 100*time.Millisecond || a.burst != 1 {
		t.Fatalf("after a start by the user: back-off %s burst %d, want a new burst from 100ms", d, a.burst)
	}
}

// The restart policy decides what follows an exit: always restarts,
// on-failure restarts after a failure only, never does not restart. An
// app that is not restarted is stopped after a success and errored after
// a failure, with no restart pending; its exit status is shown.
func TestHandleRestartPolicies(t *testing.T) {
	for _, tt := range []struct {
		policy string
		code   int
		want   State
	}{
		{api.RestartAlways, 0, Waiting},
		{api.RestartAlways, 1, Waiting},
		{api.RestartOnFailure, 0, Stopped},
		{api.RestartOnFailure, 1, Waiting},
		{api.RestartNever, 0, Stopped},
		{api.RestartNever, 1, Errored},
	} {
		w := newFakeWorld(t)
		a := w.startPolicy(t, "web", tt.policy)
		w.exit(a, tt.code)
		got := w.shown(a)
		if a.state != tt.want || got.ExitCode != tt.code || got.PID != 0 {
			t.Errorf("%s, exit %d: %+v, want %s", tt.policy, tt.code, got, tt.want)
			continue
		}
		if restarts := a.state == Waiting; restarts != (a.timer != nil) {
			t.Errorf("%s, exit %d: %s with timer %v", tt.policy, tt.code, a.state, a.timer)
			continue
		}
		if a.state == Waiting {
			w.handle(w.lastTimer(t).ev)
		}
		if wantPID := map[bool]int{true: 102, false: 101}[tt.want == Waiting]; w.nextPID != wantPID || (a.state == Online) != (tt.want == Waiting) {
			t.Errorf("%s, exit %d: %s after the back-off, last pid %d", tt.policy, tt.code, a.state, w.nextPID)
		}
	}
}

func TestHandleUptimeResetsBackoff(t *testing.T) {
	w := newFakeWorld(t)
	a := w.start(t, "web")
	for range 2 {
		w.exit(a, 1)
		w.handle(w.lastTimer(t).ev)
	}
	w.now = w.now.Add(time.Minute) // stayed up longer than RestartResetAfter
	w.exit(a, 1)
	if d := w.lastTimer(t).d; d != 100*time.Millisecond || a.burst != 1 {
		t.Fatalf("after a long run: back-off %s burst %d, want 100ms and 1", d, a.burst)
	}
}

// Stopping an app that waits to be restarted cancels the restart: its
// timer is stopped, and its event, were it already on its way, is stale.
func TestHandleStopCancelsBackoff(t *testing.T) {
	w := newFakeWorld(t)
	a := w.start(t, "web")
	w.exit(a, 1)
	tm := w.lastTimer(t)
	w.now = w.now.Add(40 * time.Millisecond)
	if got := w.shown(a); got.Status != api.StatusWaiting || got.NextRestartMs != 60 {
		t.Fatalf("waiting app shown as %+v, want waiting with its restart due in 60 ms", got)
	}
	r := w.action(t, "web", "stop")
	if r.err != nil || a.state != Stopped {
		t.Fatalf("stop during back-off: %v, %s", r.err, a.state)
	}
	if !tm.stopped {
		t.Fatal("back-off timer still armed after stop")
	}
	// Even if the timer event was already on its way, it is stale.
	w.handle(tm.ev)
	if a.state != Stopped || w.nextPID != 101 {
		t.Fatalf("stale timer restarted the app: %s, pid %d", a.state, w.nextPID)
	}
}

func TestHandleExitDuringStopNeverRestarts(t *testing.T) {
	w := newFakeWorld(t)
	a := w.start(t, "web")
	reply := make(chan result, 1)
	w.handle(actionReq{target: "web", action: "stop", reply: reply})
	if a.state != Stopping || len(reply) != 0 {
		t.Fatalf("stop: state %s, replied early %v", a.state, len(reply) != 0)
	}
	if w.signals[0] != syscall.SIGTERM.String() {
		t.Fatalf("signals %v, want SIGTERM first", w.signals)
	}
	kill := w.lastTimer(t)
	if kill.d != 500*time.Millisecond {
		t.Fatalf("kill timer %s, want the app's 500ms", kill.d)
	}
	w.handle(kill.ev)
	if w.signals[len(w.signals)-1] != syscall.SIGKILL.String() {
		t.Fatalf("signals %v, want SIGKILL after the kill timeout", w.signals)
	}
	w.exit(a, -1)
	if a.state != Stopped {
		t.Fatalf("exit while stopping: %s, want stopped", a.state)
	}
	if r := <-reply; r.err != nil || r.apps[0].Status != api.StatusStopped {
		t.Fatalf("stop reply %+v", r)
	}
	if w.nextPID != 101 {
		t.Fatal("an exit during stop started a new process")
	}
}

func TestHandleLateExitIgnored(t *testing.T) {
	w := newFakeWorld(t)
	a := w.start(t, "web")
	old := a.seq
	reply := make(chan result, 1)
	w.handle(actionReq{target: "web", action: "restart", reply: reply})
	w.exit(a, 0)
	if a.state != Online || a.pid != 102 {
		t.Fatalf("after restart: %s pid %d", a.state, a.pid)
	}
	w.handle(exitEvent{id: a.id, seq: old, status: process.ExitStatus{Code: 1, Known: true}})
	if a.state != Online {
		t.Fatalf("a late exit of the old process changed the app: %s", a.state)
	}
}

func TestHandleFirstSpawnFailureForgetsApp(t *testing.T) {
	w := newFakeWorld(t)
	w.fail = errors.New("exec format error")
	reply := make(chan result, 1)
	w.handle(startReq{spec: api.Spec{Name: "bad"}, reply: reply})
	if r := <-reply; api.CodeOf(r.err) != api.CodeStartFailed {
		t.Fatalf("err = %v", r.err)
	}
	if len(w.s.apps) != 0 || len(w.s.byKey) != 0 {
		t.Fatal("failed app left in the table")
	}
}

func TestHandleDeferredWhileRestoreHeld(t *testing.T) {
	w := newFakeWorld(t)
	held := true
	w.s.holdStarts = func() bool { return held }
	a := w.start(t, "web") // a user start is not deferred
	w.exit(a, 1)
	w.handle(w.lastTimer(t).ev) // back-off over: a crash restart is not held
	if a.state != Online || w.nextPID != 102 {
		t.Fatalf("crash restart under a held flag: %s deferred=%v", a.state, a.deferred)
	}
	// A start of the daemon's own accord for an app it does not run yet
	// (a takeover's) waits for the flag.
	w.handle(actionReq{target: "web", action: "stop", reply: make(chan result, 1)})
	w.exit(a, 0)
	w.s.move(a, Launching)
	w.s.launch(a, true)
	if a.state != Launching || !a.deferred || w.nextPID != 102 {
		t.Fatalf("deferrable start under a held flag: %s deferred=%v", a.state, a.deferred)
	}
	recheck := w.lastTimer(t)
	w.handle(recheck.ev)
	if a.state != Launching {
		t.Fatal("started while still held")
	}
	held = false
	w.handle(w.lastTimer(t).ev)
	if a.state != Online || w.nextPID != 103 {
		t.Fatalf("after release: %s", a.state)
	}
}

// A legal move changes the state; an illegal one is a bug of the
// supervisor: under test it panics, in a daemon it is refused and logged
// with the app, from and to.
func TestTransitions(t *testing.T) {
	w := newFakeWorld(t)
	a := &app{spec: api.Spec{Name: "x"}}
	for _, to := range []State{Launching, Online, Stopping, Stopped} {
		w.s.move(a, to)
		if a.state != to {
			t.Fatalf("move to %s left %s", to, a.state)
		}
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("stopped -> online did not panic under test")
			}
		}()
		w.s.move(a, Online)
	}()

	strictMoves = false
	defer func() { strictMoves = true }()
	var log testkit.SyncBuffer
	w.s.log = slog.New(slog.NewTextHandler(&log, nil))
	w.s.move(a, Online)
	if a.state != Stopped || !strings.Contains(log.String(), `app=x from=stopped to=online`) {
		t.Errorf("an illegal move in a daemon: state %s, log %q; want it refused and logged", a.state, log.String())
	}
	if Waiting.String() != "waiting" || State(42).String() != "State(42)" {
		t.Fatal("State.String")
	}
}

func TestBackoff(t *testing.T) {
	for n, want := range []time.Duration{10, 20, 40, 80, 100, 100} {
		if got := backoff(10, 100, n); got != want {
			t.Errorf("backoff(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestHandleStopWhileSpawningDiscardsProcess(t *testing.T) {
	w := newFakeWorld(t)
	a := w.start(t, "web")
	w.hold = true
	w.action(t, "web", "restart")
	w.exit(a, 0) // the old process ends; the new one is being spawned
	if a.state != Launching || !a.spawning {
		t.Fatalf("during the spawn: %s spawning=%v", a.state, a.spawning)
	}
	reply := make(chan result, 1)
	w.handle(actionReq{target: "web", action: "stop", reply: reply})
	if a.state != Stopped || len(reply) != 0 {
		t.Fatalf("stop during spawn: %s, replied before the spawn ended: %v", a.state, len(reply) != 0)
	}
	w.hold = false
	w.signals = nil
	next := w.pending[0]
	w.pending = nil
	w.handle(next)
	if a.state != Stopped || a.pid != 0 {
		t.Fatalf("after the spawn: %s pid %d, want stopped", a.state, a.pid)
	}
	if len(w.signals) != 1 || w.signals[0] != syscall.SIGKILL.String() {
		t.Fatalf("signals %v, want the unwanted process killed", w.signals)
	}
	if r := <-reply; r.err != nil || r.apps[0].Status != api.StatusStopped {
		t.Fatalf("stop reply %+v", r)
	}
}
