package daemon

import (
	"fmt"
	"os"

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

// strictMoves makes an illegal move panic instead of being logged: the
// daemon's tests set it (and real daemons under test, through
// OPM_TEST_STRICT_STATES), so that a supervisor bug fails the suite.
var strictMoves = os.Getenv("OPM_TEST_STRICT_STATES") == "1"

// move changes a's state to to, the only way a state changes, and marks a
// for the event's record check. A move its state does not allow is a bug
// of the supervisor: it is refused and logged loudly with the app, from
// and to — or, under test, panics.
func (s *Supervisor) move(a *app, to State) {
	if !canMove(a.state, to) {
		if strictMoves {
			panic(fmt.Sprintf("app %q: illegal state transition %s -> %s", a.spec.Name, a.state, to))
		}
		s.log.Error("illegal state transition refused: a bug of opm's supervisor", "event", "internal", "app", a.label(), "from", a.state.String(), "to", to.String())
		return
	}
	a.state = to
	s.touch(a)
}
