package daemon

import (
	"fmt"
	"strings"
	"syscall"
	"time"

	"opm/daemon/api"
)

// Launching happens off the supervisor goroutine: fork+exec costs
// milliseconds, and a restore of hundreds of apps must not stall `list`.
// launch marks the app spawning and hands the job to a goroutine; the
// result comes back as a spawnedEvent. The app is in the table (Launching)
// before its process exists.

// SpawnTokenEnv is set in every app's environment to a token naming
// the spawn that created it.
const SpawnTokenEnv = "OPM_SPAWN_TOKEN"

// spawnedEvent: a spawn finished, with a process or an error.
type spawnedEvent struct {
	id   int
	seq  uint64
	proc process
	err  error
}

// maxParallelSpawns bounds concurrent fork+execs.
const maxParallelSpawns = 4

// launch starts the process of a Launching app. Automatic starts (user
// false) wait while a restore holds the restore flag.
func (s *Supervisor) launch(a *app, user bool) {
	if a.spawning {
		return // the spawn in flight will bring it online
	}
	if !user && s.holdStarts != nil && s.holdStarts() {
		if !a.deferred {
			a.deferred = true
			s.log.Info("start deferred while a restore runs", "event", "deferred", "app", a.spec.Name)
		}
		s.scheduleRecheck()
		return
	}
	a.deferred = false
	a.spawning = true
	a.seq++
	// The token goes into the runtime record before the process exists
	// and into the process's environment: if this daemon dies before it
	// learns the PID, the next one finds the process by its token
	// instead of starting a second one.
	a.spawnToken = fmt.Sprintf("%s.%d.%d", s.instance, a.id, a.seq)
	s.saveRecord(a)
	spec := a.spec
	spec.Env = make([]string, 0, len(a.spec.Env)+1)
	for _, kv := range a.spec.Env {
		if !strings.HasPrefix(kv, SpawnTokenEnv+"=") {
			spec.Env = append(spec.Env, kv)
		}
	}
	spec.Env = append(spec.Env, SpawnTokenEnv+"="+a.spawnToken)
	s.startSpawn(a.id, a.seq, spec)
}

// spawnAsync runs one spawn on its own goroutine, at most
// maxParallelSpawns at a time.
func (s *Supervisor) spawnAsync(id int, seq uint64, spec api.Spec) {
	go func() {
		s.spawnSem <- struct{}{}
		p, err := s.spawn(spec)
		<-s.spawnSem
		if !s.post(spawnedEvent{id: id, seq: seq, proc: p, err: err}) && p != nil {
			// The loop has ended (it never does with spawns in
			// flight); never leave an unsupervised process.
			_ = killGroup(p.Pid(), syscall.SIGKILL)
			p.Wait()
		}
	}()
}

// onSpawned brings a spawned process online, or discards it when the app
// no longer wants it (stopped or removed meanwhile).
func (s *Supervisor) onSpawned(ev spawnedEvent) {
	a := s.apps[ev.id]
	if a == nil || ev.seq != a.seq || !a.spawning {
		s.discard(ev)
		return
	}
	a.spawning = false
	if ev.err != nil {
		a.lastErr = ev.err.Error()
		a.exitCode = -1
		s.log.Error("app failed to start", "event", "errored", "app", a.spec.Name, "pid", 0, "error", ev.err)
		if a.firstStart {
			// A first start that fails leaves nothing behind: the user
			// fixes the command and starts it again under that name.
			s.forget(a)
			return
		}
		if a.state == Launching {
			_ = a.transition(Errored)
		}
		return
	}
	a.firstStart = false
	if a.state != Launching {
		// Stopped while its process was being created.
		s.discard(ev)
		return
	}
	s.adoptProcess(a, ev.proc, s.now())
	s.log.Info("app started", "event", "started", "app", a.spec.Name, "pid", a.pid)
}

// discard kills and reaps a process nobody wants any more.
func (s *Supervisor) discard(ev spawnedEvent) {
	if ev.proc == nil {
		return
	}
	pid := ev.proc.Pid()
	_ = s.signal(pid, syscall.SIGKILL)
	s.log.Info("discarded a process started for an app that was stopped meanwhile", "event", "discarded", "pid", pid)
	// Its exit event carries a stale seq and is ignored.
	s.watch(ev.id, 0, ev.proc)
}

// adoptProcess makes p the app's running process and watches it.
func (s *Supervisor) adoptProcess(a *app, p process, started time.Time) {
	a.proc, a.pid, a.started = p, p.Pid(), started
	a.lastErr = ""
	_ = a.transition(Online)
	s.watch(a.id, a.seq, p)
}
