package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"syscall"
	"time"

	"opm/daemon/api"
	"opm/daemon/cgroup"
	"opm/daemon/feed"
	"opm/daemon/hooks"
	"opm/daemon/logs"
	"opm/daemon/proc"
	"opm/daemon/process"
	"opm/daemon/store"
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
	// onStopping, when set, is called once when the daemon starts
	// stopping (STOPPING=1 to a service manager), with the apps as they
	// were then.
	onStopping func([]api.App)
	// tokens makes the token every app process carries (token.go);
	// daemonStart, this daemon's start time, orders its spawns after
	// those of earlier daemons.
	tokens      process.Tokens
	daemonStart uint64
	// orphans are live app processes found by their tokens at start
	// that no runtime record claimed, by app key: an app registered
	// under that name adopts its orphan instead of starting a copy.
	orphans map[string][]process.Holder

	apps  map[int]*app
	byKey map[string]*app
	// names counts the rows of each app name (its instances).
	names  map[string]int
	nextID int
	// recordedNextID is the next id the records hold.
	recordedNextID int
	// touched are the apps the current event touched (records.go).
	touched []*app

	waiters []*waiter
	// recheck is the pending restore-flag recheck timer, if any.
	recheck timer
	// stallWarned is the owner word of the restore last logged as stalled.
	stallWarned uint64
	// stopping is set once the daemon is shutting down; exit once the
	// loop should end.
	stopping bool
	exit     bool

	// Hooks, replaced by unit tests that drive handle directly.
	now   func() time.Time
	spawn process.Spawner
	// memArmed is set while a memory sample is scheduled or under way;
	// memSeq invalidates one from before a shutdown.
	memArmed bool
	memSeq   uint64
	// notifySocket is the path apps that wait_ready get in NOTIFY_SOCKET
	// ("" when the socket could not be made).
	notifySocket string
	// earlyReady holds READY=1 senders no app waited for yet (by pid
	// and session), with when they said it.
	earlyReady map[int]time.Time
	// logs drains the apps' output into their log files (nil in tests
	// that fake spawning).
	logs *logs.Hub
	// startSpawn runs spawn off the loop (spawnAsync); spawnSem bounds
	// how many run at once.
	startSpawn func(id int, seq uint64, spec api.Spec, keep string)
	spawnSem   chan struct{}
	signal     func(pid int, sig syscall.Signal) error
	after      func(d time.Duration, ev event) timer
	watch      func(id int, seq uint64, p process.Process)
	// holdStarts reports whether automatic starts must wait (a restore
	// holds the restore flag); nil never holds.
	holdStarts func() bool
	// findHolders scans for live holders of app tokens (scanHolders; nil
	// in unit tests).
	findHolders func() map[string][]process.Holder
	// records keeps the runtime records (nil: none, in unit tests);
	// recordFailure says when and why a record last failed to be written.
	records       *store.Records
	recordFailure string
	// cgroups holds the apps' cgroups (nil: cgroups are off);
	// cgroupMode says which mode is in effect and why.
	cgroups    *cgroup.Tree
	cgroupMode api.Cgroups
	// files watches the files of the apps that ask (watchfs.go); made
	// when the first app watches.
	files *fileWatch
	// feed keeps the events GET /v1/events streams, and hooks runs the
	// hooks of config.toml and the apps (publish.go); nil in unit tests.
	feed  *feed.Bus
	hooks *hooks.Runner
}

// waiter answers a request once every app it names has settled: no
// process being stopped or being spawned.
type waiter struct {
	ids  []int
	done func()
	// spawnsOnly: readiness is not waited for (waitSpawned).
	spawnsOnly bool
}

func newSupervisor(cfg Config, log *slog.Logger) *Supervisor {
	s := &Supervisor{
		cfg:         cfg,
		log:         log,
		events:      make(chan event, 64),
		quit:        make(chan struct{}),
		apps:        make(map[int]*app),
		byKey:       make(map[string]*app),
		names:       make(map[string]int),
		now:         time.Now,
		startedAt:   time.Now(),
		daemonStart: ownStartTime(),
		signal:      process.KillGroup,
	}
	s.after = func(d time.Duration, ev event) timer {
		return time.AfterFunc(d, func() { s.post(ev) })
	}
	s.spawnSem = make(chan struct{}, maxParallelSpawns)
	s.startSpawn = s.spawnAsync
	s.watch = func(id int, seq uint64, p process.Process) {
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
	case cronEvent:
		s.onCron(ev)
	case watchEvent:
		s.onWatch(ev)
	case memTickEvent:
		s.onMemTick(ev)
	case memResultEvent:
		s.onMemResult(ev)
	case readyEvent:
		s.onReady(ev)
	case readyTimeoutEvent:
		s.onReadyTimeout(ev)
	case retireKillEvent:
		s.onRetireKill(ev)
	case startReq:
		s.startNew(ev)
	case actionReq:
		s.onAction(ev)
	case removeReq:
		s.onRemove(ev)
	case scaleReq:
		s.onScale(ev)
	case listReq:
		ev.reply <- s.list(ev.target)
	case pingReq:
		ev.reply <- result{}
	case statusReq:
		ev.reply <- result{status: s.status()}
	case metricsReq:
		s.onMetrics(ev)
	case shutdownReq:
		s.onShutdown(ev)
	case saveReq:
		ev.reply <- result{dump: s.dumpApps()}
	case restoreReq:
		s.restore(ev)
	default:
		s.log.Error("unknown event", "event", "internal", "type", typeName(ev))
	}
	// Records first: when a client hears that an app started, the next
	// daemon could already adopt it.
	s.flushRecords()
	s.settleWaiters()
	s.flushRecords()
}

// settleWaiters completes the waiters whose apps have all settled. A
// waiter's done may add waiters (remove, then answer once the rest has
// settled): they are checked too, in the same pass.
func (s *Supervisor) settleWaiters() {
	for {
		pending := s.waiters
		s.waiters = nil
		var kept []*waiter
		completed := false
		for _, w := range pending {
			if s.settled(w.ids, !w.spawnsOnly) {
				w.done()
				completed = true
			} else {
				kept = append(kept, w)
			}
		}
		added := s.waiters
		s.waiters = append(kept, added...)
		if !completed || len(added) == 0 {
			return
		}
	}
}

func (s *Supervisor) settled(ids []int, readiness bool) bool {
	for _, id := range ids {
		if a := s.apps[id]; a != nil && (a.state == Stopping || a.spawning || a.retiring != nil || readiness && a.awaitingReady) {
			return false
		}
	}
	return true
}

// waitSpawned runs done once no app of ids is being spawned or stopped:
// readiness (a process that has its record) is not waited for.
func (s *Supervisor) waitSpawned(ids []int, done func()) {
	s.waiters = append(s.waiters, &waiter{ids: ids, done: done, spawnsOnly: true})
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

func typeName(v any) string { return fmt.Sprintf("%T", v) }

// ownStartTime is this process's start time in clock ticks since boot.
func ownStartTime() uint64 {
	start, _ := proc.StartTime(os.Getpid())
	return start
}
