package daemon

import (
	"syscall"

	"opm/daemon/api"
	"opm/daemon/process"
	"opm/daemon/store"
)

// Everything the supervisor loop handles is an event: a watched process
// ended, a spawn finished, a timer fired, or an API request arrived with
// its reply channel.

// timer is a pending timer event.
type timer interface{ Stop() bool }

// event is anything the supervisor loop handles.
type event any

// exitEvent: a watched process ended.
type exitEvent struct {
	id     int
	seq    uint64
	status process.ExitStatus
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
	dump    []store.DumpApp
	restore api.RestoreResult
	err     error
}

// Requests, each with a buffered reply channel so that the loop never
// blocks on a reply.
type (
	startReq struct {
		spec api.Spec
		// update replaces the definition of an existing app (keepIfSame:
		// unless it is the same and the app runs); stopped registers a
		// new one without starting it.
		update, keepIfSame, stopped bool
		reply                       chan result
	}
	actionReq struct {
		target, action string
		// signal is the signal of a "signal" action.
		signal syscall.Signal
		reply  chan result
	}
	removeReq struct {
		target string
		reply  chan result
	}
	listReq struct {
		target string // "" for all
		reply  chan result
	}
	// pingReq asks the loop to answer, no more (the watchdog).
	pingReq struct {
		reply chan result
	}
	statusReq struct {
		reply chan result
	}
	shutdownReq struct {
		keepApps bool
		reply    chan result // nil when the context ended
	}
)
