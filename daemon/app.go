package daemon

import (
	"time"

	"opm/daemon/api"
	"opm/daemon/process"
)

// app is one row of the app table. Only the supervisor goroutine touches
// it.
type app struct {
	id    int
	spec  api.Spec
	state State

	// The running process, when Online or Stopping.
	proc    process.Process
	pid     int
	started time.Time
	// cgroup is the cgroup of the current or last process ("" for
	// none; see cgroup.go).
	cgroup string
	// seq numbers the spawns of this app; exit events carry it so that a
	// late event from an old process is ignored.
	seq uint64

	// specRev counts the definitions the app has had (update).
	specRev int

	// leaderPID and leaderStart name the process of the latest spawn,
	// kept after it exits; 0 until it is known.
	leaderPID   int
	leaderStart uint64

	// restarts counts restarts over the app's life (shown to users);
	// burst counts those since it last stayed up for RestartResetAfter.
	restarts int
	burst    int
	exitCode int
	lastErr  string

	// timer is the pending back-off or kill timer; timerSeq invalidates
	// timer events that were already on their way when it was cancelled.
	timer    timer
	timerSeq uint64
	timerDue time.Time

	// restartAfterStop makes the exit of a Stopping app start it again
	// (restart, or start during stop).
	restartAfterStop bool
	// removing is set while `remove` waits for the app to stop.
	removing bool
	// spawning is set while a process is being created for seq;
	// firstStart while the app has never run (a failed first start
	// removes it).
	spawning   bool
	firstStart bool
	// firstFailed is set on an instance of a new app of several whose
	// first start failed: the start removes the app.
	firstFailed bool
	// spawnToken is the token of the latest spawn (token.go).
	spawnToken string
	// touched is set while the app is in the event's touched list;
	// written is the record state last written (when recorded);
	// recordFailing while its writes fail (records.go).
	touched       bool
	recorded      bool
	written       recordState
	recordFailing bool
	// deferred is set while a Launching app waits for the restore flag.
	deferred bool
	// userStopped is set when a user stopped the app, until it starts
	// again: its cron time does not start it.
	userStopped bool
	// lastRestartReason says why opm last restarted it ("crash", "cron").
	lastRestartReason string
	// restartsBy counts its restarts by reason, for /metrics (metrics.go).
	restartsBy map[string]int
	// crashed is the exit of the process a restart under way replaces,
	// written to the daemon log with the new process (one line a crash),
	// or alone if no process comes of it (exit.go).
	crashed *crash
	// cronTimer fires at the app's next cron_restart time; cronSeq
	// invalidates a fire that was on its way when it was re-armed.
	cronTimer timer
	cronSeq   uint64
	// watch is what the app watches, and its debounce (watch.go).
	watch appWatch
	// memOver counts the samples in a row that found the app over its
	// memory limit.
	memOver int
	// awaitingReady is set while a process that must say READY=1 has
	// not (it shows as launching); readyTimer is its listen_timeout,
	// readySeq invalidates a timeout on its way.
	awaitingReady bool
	readyTimer    timer
	readySeq      uint64
	// retiring is the old process of a reload under way (reload.go);
	// reloadErr why the last reload failed, reloadWhy why the new
	// process is being killed.
	retiring  *retiringProc
	reloadErr string
	reloadWhy string
	// lastSeq is the highest seq given: seq goes back to the old
	// process's when a reload fails, never a spawn number (nor its
	// token) twice. retireSeq numbers retire kill timers.
	lastSeq   uint64
	retireSeq uint64
	// specJSON is the spec encoded, for the runtime records
	// (encodedSpec).
	specJSON specMemo
}

// nextSeq numbers a new process of the app.
func (a *app) nextSeq() {
	a.lastSeq = max(a.lastSeq, a.seq) + 1
	a.seq = a.lastSeq
}

// cancelTimer stops the pending timer, if any, and makes any event it
// already sent stale.
func (a *app) cancelTimer() {
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
	a.timerSeq++
	a.timerDue = time.Time{}
}

// label names the app's process for people: its name, and its instance
// id when it has several ("web:2").
func (a *app) label() string { return api.Label(a.spec.Name, a.spec.Instance, a.spec.Count()) }

// running reports whether the app has a live process.
func (a *app) running() bool { return a.state == Online || a.state == Stopping }

// snapshot is the app as clients see it, without resource figures.
func (a *app) snapshot(now time.Time) api.App {
	status := a.state.String()
	if a.awaitingReady && a.state == Online {
		status = api.StatusLaunching
	}
	out := api.App{
		ID:       a.id,
		Name:     a.spec.Name,
		Instance: a.spec.Instance,
		Status:   status,
		Restarts: a.restarts,
		Command:  a.spec.Command,
		ExitCode: a.exitCode,
		Spec:     a.spec,

		LastRestartReason: a.lastRestartReason,
		Instances:         a.spec.Count(),
	}
	if a.running() {
		out.PID = a.pid
		out.UptimeMs = now.Sub(a.started).Milliseconds()
	}
	if a.state == Waiting && !a.timerDue.IsZero() {
		out.NextRestartMs = max(a.timerDue.Sub(now).Milliseconds(), 0)
	}
	return out
}
