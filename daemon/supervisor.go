package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"syscall"
	"time"

	"opm/daemon/api"
	"opm/daemon/internal/proc"
	"opm/shm"
)

// Supervisor owns the app table. One goroutine (run) receives every event
// — API requests with reply channels, child exits, timers — and handles it
// with the plain method handle; nothing else touches the table.
type Supervisor struct {
	cfg    Config
	log    *slog.Logger
	events chan event
	// quit is closed when the loop has ended; senders select on it.
	quit chan struct{}

	// startedAt is when the daemon started; flag is the restore flag
	// (nil in unit tests).
	startedAt time.Time
	flag      *shm.Flag
	// instance names this daemon process in spawn tokens.
	instance string

	apps   map[int]*app
	byName map[string]*app
	nextID int

	waiters []*waiter
	// recheck is the pending restore-flag recheck timer, if any.
	recheck timer
	// stopping is set once the daemon is shutting down; exit once the
	// loop should end.
	stopping bool
	exit     bool

	// Hooks, replaced by unit tests that drive handle directly.
	now   func() time.Time
	spawn spawner
	// startSpawn runs spawn off the loop (spawnAsync); spawnSem bounds
	// how many run at once.
	startSpawn func(id int, seq uint64, spec api.Spec)
	spawnSem   chan struct{}
	signal     func(pid int, sig syscall.Signal) error
	after      func(d time.Duration, ev event) timer
	watch      func(id int, seq uint64, p process)
	hooks      hooks
	// records keeps the runtime records (nil: none, in unit tests).
	records *records
}

// hooks are optional side effects (runtime records, restore flag) that
// later features plug in; zero values do nothing.
type hooks struct {
	// holdStarts reports whether automatic starts must wait (a restore
	// holds the restore flag).
	holdStarts func() bool
}

// timer is a pending timer event.
type timer interface{ Stop() bool }

// event is anything the supervisor loop handles.
type event any

// exitEvent: a watched process ended.
type exitEvent struct {
	id     int
	seq    uint64
	status exitStatus
}

// timerKind tells a back-off timer from a kill timer.
type timerKind int

const (
	restartTimer timerKind = iota
	killTimer
	recheckTimer
)

// timerEvent: a timer fired.
type timerEvent struct {
	id   int
	seq  uint64
	kind timerKind
}

// result is the answer to a request.
type result struct {
	apps    []api.App
	status  api.DaemonStatus
	dump    []dumpApp
	restore api.RestoreResult
	err     error
}

// Requests, each with a buffered reply channel so that the loop never
// blocks on a reply.
type (
	startReq struct {
		spec  api.Spec
		reply chan result
	}
	actionReq struct {
		target, action string
		reply          chan result
	}
	removeReq struct {
		target string
		reply  chan result
	}
	listReq struct {
		target string // "" for all
		reply  chan result
	}
	statusReq struct {
		reply chan result
	}
	shutdownReq struct {
		keepApps bool
		reply    chan result // nil when the context ended
	}
)

// waiter answers a request once every app it names has settled: no
// process being stopped or being spawned.
type waiter struct {
	ids  []int
	done func()
}

func newSupervisor(cfg Config, log *slog.Logger) *Supervisor {
	s := &Supervisor{
		cfg:       cfg,
		log:       log,
		events:    make(chan event, 64),
		quit:      make(chan struct{}),
		apps:      make(map[int]*app),
		byName:    make(map[string]*app),
		now:       time.Now,
		startedAt: time.Now(),
		instance:  daemonInstance(),
		signal:    killGroup,
	}
	s.after = func(d time.Duration, ev event) timer {
		return time.AfterFunc(d, func() { s.post(ev) })
	}
	s.spawnSem = make(chan struct{}, maxParallelSpawns)
	s.startSpawn = s.spawnAsync
	s.watch = func(id int, seq uint64, p process) {
		go func() { s.post(exitEvent{id: id, seq: seq, status: p.Wait()}) }()
	}
	return s
}

// post hands ev to the loop; it gives up when the loop has ended.
func (s *Supervisor) post(ev event) bool {
	select {
	case s.events <- ev:
		return true
	case <-s.quit:
		return false
	}
}

// errShuttingDown answers requests that arrive after the loop ended.
var errShuttingDown = api.Errorf(api.CodeBusy, "the opm daemon is shutting down; run the command again to start a new one")

// ask sends a request and waits for its reply.
func (s *Supervisor) ask(ctx context.Context, req event, reply chan result) result {
	select {
	case s.events <- req:
	case <-s.quit:
		return result{err: errShuttingDown}
	case <-ctx.Done():
		return result{err: ctx.Err()}
	}
	select {
	case r := <-reply:
		return r
	case <-s.quit:
		// The loop may have answered just before ending.
		select {
		case r := <-reply:
			return r
		default:
			return result{err: errShuttingDown}
		}
	case <-ctx.Done():
		return result{err: ctx.Err()}
	}
}

// run is the supervisor loop. When ctx ends it stops every app, then
// returns; a shutdown request with keepApps returns at once.
func (s *Supervisor) run(ctx context.Context) {
	defer close(s.quit)
	done := ctx.Done()
	for !s.exit {
		select {
		case ev := <-s.events:
			s.handle(ev)
		case <-done:
			done = nil
			s.handle(shutdownReq{})
		}
	}
}

// handle processes one event. It never blocks.
func (s *Supervisor) handle(ev event) {
	switch ev := ev.(type) {
	case exitEvent:
		s.onExit(ev)
	case spawnedEvent:
		s.onSpawned(ev)
	case timerEvent:
		s.onTimer(ev)
	case startReq:
		s.startNew(ev)
	case actionReq:
		s.onAction(ev)
	case removeReq:
		s.onRemove(ev)
	case listReq:
		ev.reply <- s.list(ev.target)
	case statusReq:
		ev.reply <- result{status: s.status()}
	case shutdownReq:
		s.onShutdown(ev)
	case saveReq:
		ev.reply <- result{dump: s.dumpApps()}
	case restoreReq:
		s.restore(ev)
	default:
		s.log.Error("unknown event", "event", "internal", "type", typeName(ev))
	}
	s.settleWaiters()
	s.flushRecords()
}

// settleWaiters completes the waiters whose apps have all settled.
func (s *Supervisor) settleWaiters() {
	kept := s.waiters[:0]
	for _, w := range s.waiters {
		if s.settled(w.ids) {
			w.done()
		} else {
			kept = append(kept, w)
		}
	}
	clear(s.waiters[len(kept):])
	s.waiters = kept
}

func (s *Supervisor) settled(ids []int) bool {
	for _, id := range ids {
		if a := s.apps[id]; a != nil && (a.state == Stopping || a.spawning) {
			return false
		}
	}
	return true
}

// wait runs done once the apps named by ids have settled (maybe now).
func (s *Supervisor) wait(ids []int, done func()) {
	s.waiters = append(s.waiters, &waiter{ids: ids, done: done})
}

// snapshots returns the client view of the apps named by ids.
func (s *Supervisor) snapshots(ids []int) []api.App {
	now := s.now()
	out := make([]api.App, 0, len(ids))
	for _, id := range ids {
		if a := s.apps[id]; a != nil {
			out = append(out, a.snapshot(now))
		}
	}
	return out
}

func (s *Supervisor) list(target string) result {
	var ids []int
	if target == "" {
		ids = s.allIDs()
	} else {
		var err error
		if ids, err = s.resolve(target); err != nil {
			return result{err: err}
		}
	}
	return result{apps: s.snapshots(ids)}
}

func (s *Supervisor) onShutdown(ev shutdownReq) {
	reply := func() {
		s.exit = true
		if ev.reply != nil {
			ev.reply <- result{status: s.status()}
		}
	}
	if ev.keepApps {
		// Spawns in flight finish first, so that every process the
		// next daemon finds has its runtime record.
		s.log.Info("daemon exiting, apps keep running", "event", "daemon-exit", "apps", len(s.apps))
		s.stopping = true
		s.wait(s.allIDs(), reply)
		return
	}
	if !s.stopping {
		s.log.Info("daemon stopping all apps", "event", "daemon-stop", "apps", len(s.apps))
	}
	s.stopping = true
	ids := s.allIDs()
	for _, id := range ids {
		s.stopApp(s.apps[id])
	}
	s.wait(ids, func() {
		// The table dies with the daemon, as with PM2's kill: the
		// next daemon starts empty and 'opm restore' brings the apps
		// back.
		s.clearRecords()
		reply()
	})
}

// errDaemonStopping refuses starts while the daemon shuts down.
var errDaemonStopping = api.Errorf(api.CodeBusy, "the opm daemon is shutting down; run the command again once it has exited")

func typeName(v any) string { return fmt.Sprintf("%T", v) }

// daemonInstance names this process for the machine's uptime: its PID
// and start time.
func daemonInstance() string {
	start, _ := proc.StartTime(os.Getpid())
	return fmt.Sprintf("%d-%d", os.Getpid(), start)
}
