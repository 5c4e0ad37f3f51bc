package daemon

import (
	"fmt"

	"opm/daemon/api"
)

// State is where an app is in its life. The only way to change it is
// app.transition, which refuses moves the supervisor must never make.
type State int

const (
	// Stopped: not running and not meant to run until the user acts.
	Stopped State = iota
	// Launching: meant to run; its start is in progress or deferred
	// (e.g. while a restore holds the restore flag).
	Launching
	// Online: its process is running.
	Online
	// Stopping: SIGTERM sent, waiting for the process to exit.
	Stopping
	// Waiting: it exited (or could not be started) and a back-off timer
	// will start it again.
	Waiting
	// Errored: it failed too often (or could not be started) and stays
	// down until the user acts.
	Errored
)

func (s State) String() string {
	switch s {
	case Stopped:
		return api.StatusStopped
	case Launching:
		return api.StatusLaunching
	case Online:
		return api.StatusOnline
	case Stopping:
		return api.StatusStopping
	case Waiting:
		return api.StatusWaiting
	case Errored:
		return api.StatusErrored
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// legal lists, for each state, the states it may move to.
var legal = map[State][]State{
	Stopped:   {Launching},
	Launching: {Online, Waiting, Stopped, Errored},
	Online:    {Stopping, Waiting, Stopped, Errored},
	Stopping:  {Stopped, Launching},
	Waiting:   {Launching, Stopped},
	Errored:   {Launching, Stopped},
}

// canMove reports whether from → to is a legal transition.
func canMove(from, to State) bool {
	for _, s := range legal[from] {
		if s == to {
			return true
		}
	}
	return false
}

// transition moves a to state to, or returns an error and leaves it alone.
func (a *app) transition(to State) error {
	if !canMove(a.state, to) {
		return fmt.Errorf("app %q: illegal transition %s -> %s", a.spec.Name, a.state, to)
	}
	a.state = to
	a.dirty = true
	return nil
}
