package daemon

import (
	"encoding/json"
	"fmt"
	"time"

	"opm/daemon/store"
)

// When runtime records are written — one rule, in this file: an app's
// record is written when what it holds has changed, at most once per
// event, at the end of the event (flushRecords) — except the record of a
// spawn, written before the process exists (launch calls writeRecord): no
// record, no process. What changed is found by comparing the record's
// state with the one last written, for the apps the event touched: those
// whose state moved (move, the one way a state changes) or that were
// registered. Nothing is written while nothing happens.

// recordState is what a record holds besides the app's definition, which
// changes only when the app is registered.
type recordState struct {
	specRev  int // a new definition (update)
	want     string
	pid      int
	start    uint64
	restarts int
	spawn    string
	// userStopped: a user stopped the app (cron does not start it).
	userStopped bool
}

// stateOf is the record state that describes a now.
func stateOf(a *app) recordState {
	st := recordState{specRev: a.specRev, want: store.WantRunning, restarts: a.restarts, spawn: a.spawnToken, userStopped: a.userStopped}
	switch {
	case a.state == Stopped, a.state == Stopping && !a.restartAfterStop:
		st.want = store.WantStopped
	case a.state == Errored:
		st.want = store.WantErrored
	}
	// The leader of the latest spawn, running or not: a takeover that
	// finds it dead knows the processes of that spawn it still finds
	// are leftovers. 0 while the spawn's process is not known yet.
	st.pid, st.start = a.leaderPID, a.leaderStart
	return st
}

// recordOf is the record describing a now.
func recordOf(a *app) store.Record {
	st := stateOf(a)
	return store.Record{ID: a.id, Spec: a.spec, SpecJSON: a.encodedSpec(), Want: st.want, PID: st.pid, Start: st.start, Restarts: st.restarts, Spawning: st.spawn, UserStopped: st.userStopped}
}

// encodedSpec is a.spec as JSON, encoded again only when the spec has
// changed since (nil if it cannot be encoded: the record then says why).
func (a *app) encodedSpec() json.RawMessage { return a.specJSON.encode(&a.spec) }

// touch marks a for the end of the event's record check.
func (s *Supervisor) touch(a *app) {
	if !a.touched {
		a.touched = true
		s.touched = append(s.touched, a)
	}
}

// flushRecords writes the records of the apps the event touched whose
// state changed, and the next id if it moved. A record that cannot be
// written stays due: the app stays touched, for the next event to try.
func (s *Supervisor) flushRecords() {
	kept := s.touched[:0]
	for _, a := range s.touched {
		a.touched = false
		if s.apps[a.id] != a {
			continue // forgotten
		}
		if err := s.writeRecord(a); err != nil {
			a.touched = true
			kept = append(kept, a)
		}
	}
	clear(s.touched[len(kept):])
	s.touched = kept
	if s.records != nil && s.nextID != s.recordedNextID {
		if err := s.records.WriteNextID(s.nextID); err != nil {
			s.log.Error("cannot record the next app id", "event", "record-failed", "error", err)
		} else {
			s.recordedNextID = s.nextID
		}
	}
}

// writeRecord writes a's record unless it holds what was last written. A
// failure is returned: before a spawn it fails the start (launch); after
// any other change the app runs on, and a later takeover finds its
// process by its token (process.Tokens). The first failure of a run of
// them is logged.
func (s *Supervisor) writeRecord(a *app) error {
	st := stateOf(a)
	if s.records == nil || (a.recorded && st == a.written) {
		return nil
	}
	err := s.records.Write(recordOf(a))
	if err == nil {
		a.recorded, a.written = true, st
		s.recordFailure = ""
		if a.recordFailing {
			a.recordFailing = false
			s.log.Info("runtime record written again", "event", "record-written", "app", a.label(), "pid", a.pid)
		}
		return nil
	}
	s.recordFailure = fmt.Sprintf("%s: %v", s.now().Format(time.RFC3339), err)
	if !a.recordFailing {
		a.recordFailing = true
		s.log.Error("cannot write runtime record", "event", "record-failed", "app", a.label(), "pid", a.pid, "error", err)
	}
	return fmt.Errorf("write its runtime record in %s: %w (free space there, or set OPM_RUNTIME_DIR)", s.records.Dir, err)
}

// dropRecord removes a forgotten app's record.
func (s *Supervisor) dropRecord(a *app) {
	if s.records == nil {
		return
	}
	if err := s.records.Remove(a.id); err != nil {
		s.log.Error("cannot remove runtime record", "event", "record-failed", "app", a.label(), "pid", 0, "error", err)
	}
}

// clearRecords removes every runtime record, once the daemon has stopped
// all its apps and is about to exit.
func (s *Supervisor) clearRecords() {
	if s.records == nil {
		return
	}
	for _, a := range s.touched {
		a.touched = false
	}
	s.touched = s.touched[:0]
	s.recordedNextID = s.nextID
	if err := s.records.Clear(); err != nil {
		s.log.Error("cannot clear runtime records", "event", "record-failed", "error", err)
	}
}
