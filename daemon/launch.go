package daemon

import (
	"syscall"
	"time"

	"opm/daemon/api"
	"opm/daemon/process"
)

// Launching happens off the supervisor goroutine: fork+exec costs
// milliseconds, and a restore of hundreds of apps must not stall `list`.
// launch marks the app spawning and hands the job to a goroutine; the
// result comes back as a spawnedEvent. The app is in the table (Launching)
// before its process exists.

// spawnedEvent: a spawn finished, with a process or an error.
type spawnedEvent struct {
	id   int
	seq  uint64
	proc process.Process
	err  error
}

// maxParallelSpawns bounds concurrent fork+execs.
const maxParallelSpawns = 4

// launch starts the process of a Launching app. Only the starts a daemon
// makes of its own accord for apps it does not supervise yet — those it
// takes over from a previous daemon — are deferrable: they wait while a
// restore holds the restore flag. Crash restarts of apps it supervises
// never wait, so a stalled restore cannot freeze supervision.
func (s *Supervisor) launch(a *app, deferrable bool) {
	if a.spawning {
		return // the spawn in flight will bring it online
	}
	if deferrable && s.holdStarts != nil && s.holdStarts() {
		if !a.deferred {
			a.deferred = true
			s.log.Info("start deferred while a restore runs", "event", "deferred", "app", a.label())
		}
		s.scheduleRecheck()
		return
	}
	a.deferred = false
	// The new process reads the files as they are now: a pending watch
	// restart would restart it again.
	a.stopDebounce()
	if s.adoptOrphan(a) {
		s.logCrashed(a)
		return
	}
	a.nextSeq()
	// The token goes into the runtime record before the process exists
	// and into the process's environment: if this daemon dies before it
	// learns the PID, the next one finds the process by its token
	// instead of starting a second one. No record, no process: a record
	// that cannot be written fails this start like a failed fork.
	a.spawnToken = s.tokens.Token(a.spec.Key(), process.Spawn{DaemonStart: s.daemonStart, Seq: a.seq})
	a.leaderPID, a.leaderStart = 0, 0
	a.spawning = true
	if err := s.writeRecord(a); err != nil {
		a.spawning = false
		s.startFailed(a, err)
		return
	}
	// What describes the caller's own process (its service manager's
	// NOTIFY_SOCKET, its token...) is not the app's: a READY=1 would go
	// to systemd.
	env, err := api.InstanceEnvOf(api.WithoutServiceEnv(a.spec.Env), a.spec.Settings, a.spec.Instance)
	if err != nil {
		a.spawning = false
		s.startFailed(a, err)
		return
	}
	spec := a.spec
	spec.Env = append(env, process.AppTokenEnv+"="+a.spawnToken)
	if a.spec.WaitReady && s.notifySocket != "" {
		spec.Env = append(spec.Env, api.NotifySocketEnv+"="+s.notifySocket)
	}
	keep := ""
	if a.retiring != nil {
		keep = a.retiring.leaf
	}
	s.startSpawn(a.id, a.seq, spec, keep)
}

// adoptOrphan makes a live process of a's app that no runtime record
// claimed a's process, when the scan at start found one: the holder of
// the app's latest spawn, its oldest process.
func (s *Supervisor) adoptOrphan(a *app) bool {
	held := s.tokens.HoldersOf(a.spec.Key(), s.orphans)
	if len(held) == 0 {
		return false
	}
	delete(s.orphans, s.tokens.AppKey(a.spec.Key()))
	for _, h := range held {
		if s.adoptLive(a, h.PID, h.Start) {
			a.firstStart = false
			a.spawnToken = s.tokens.Token(a.spec.Key(), h.Spawn)
			s.log.Info("adopted a live process of the app found by its token (it had no usable runtime record)", "event", api.EventAdopted, "app", a.label(), "pid", a.pid)
			return true
		}
	}
	return false // they ended meanwhile: start the app as usual
}

// spawnAsync runs one spawn on its own goroutine, at most
// maxParallelSpawns at a time.
func (s *Supervisor) spawnAsync(id int, seq uint64, spec api.Spec, keep string) {
	go func() {
		s.spawnSem <- struct{}{}
		p, err := s.spawn(spec, s.appCgroup(spec.Key()), keep)
		<-s.spawnSem
		if !s.post(spawnedEvent{id: id, seq: seq, proc: p, err: err}) && p != nil {
			// The loop has ended (it never does with spawns in
			// flight); never leave an unsupervised process.
			_ = process.KillGroup(p.Pid(), syscall.SIGKILL)
			p.Wait()
		}
	}()
}

// onSpawned brings a spawned process online, or discards it when the app
// no longer wants it (stopped or removed meanwhile).
func (s *Supervisor) onSpawned(ev spawnedEvent) {
	a := s.apps[ev.id]
	if a == nil || ev.seq != a.seq || !a.spawning {
		if a != nil {
			s.logCrashed(a)
		}
		s.discard(ev)
		return
	}
	a.spawning = false
	if ev.err != nil {
		s.startFailed(a, ev.err)
		return
	}
	a.firstStart = false
	if a.state != Launching {
		// Stopped while its process was being created.
		s.logCrashed(a)
		s.discard(ev)
		return
	}
	s.adoptProcess(a, ev.proc, s.now())
	s.awaitReady(a)
	if !a.awaitingReady {
		s.newReady(a) // a reload's old process may go
	}
	if c := a.crashed; c != nil {
		a.crashed = nil
		s.log.Info("app restarted after a crash", "event", api.EventStarted, "app", a.label(), "pid", a.pid, "exited_pid", c.pid, "status", c.status.String(), "uptime_ms", c.uptime.Milliseconds())
	} else {
		s.log.Info("app started", "event", api.EventStarted, "app", a.label(), "pid", a.pid)
	}
	s.publish(a, api.Event{Type: api.EventTypeStart, PID: a.pid})
}

// startFailed handles a start that failed before the app's process ran:
// the fork or exec failed, a log could not be opened, the runtime record
// could not be written. A first start leaves nothing behind (the user
// fixes the command and starts it again under that name); any other is
// treated like a crash — back-off, retry, errored after the limit — since
// the cause may pass (too many open files, no memory, a full tmpfs).
func (s *Supervisor) startFailed(a *app, err error) {
	if r := a.retiring; r != nil && !r.terminating && a.state == Launching {
		s.reloadFailed(a, "the new process could not start: "+err.Error())
		return
	}
	s.logCrashed(a)
	a.lastErr = err.Error()
	a.exitCode = -1
	s.log.Error("app failed to start", "event", "start-failed", "app", a.label(), "pid", 0, "error", err)
	if a.firstStart && a.spec.Count() > 1 {
		// One instance of a new app: the start's answer removes them
		// all once the others have settled (startNew). Until then the
		// row stays, so that the name is never free half-way.
		a.firstStart, a.firstFailed = false, true
		if a.state == Launching {
			s.move(a, Errored)
		}
		return
	}
	if a.firstStart {
		s.forget(a)
		return
	}
	if a.state == Launching {
		s.afterStartFailure(a)
	}
}

// discard kills and reaps a process nobody wants any more.
func (s *Supervisor) discard(ev spawnedEvent) {
	if ev.proc == nil {
		return
	}
	pid := ev.proc.Pid()
	_ = s.signal(pid, syscall.SIGKILL)
	s.discardCgroup(ev.id, ev.proc)
	s.log.Info("discarded a process started for an app that was stopped meanwhile", "event", "discarded", "pid", pid)
	// Its exit event carries a stale seq and is ignored.
	s.watch(ev.id, 0, ev.proc)
}

// adoptProcess makes p the app's running process and watches it.
func (s *Supervisor) adoptProcess(a *app, p process.Process, started time.Time) {
	a.proc, a.pid, a.started = p, p.Pid(), started
	a.leaderPID, a.leaderStart = p.Pid(), p.StartTicks()
	a.lastErr = ""
	s.useCgroup(a, p)
	s.move(a, Online)
	s.watch(a.id, a.seq, p)
	a.memOver = 0
	if a.spec.MaxMemoryRestart > 0 {
		s.armMemory() // only a limited app can need the sampling
	}
}
