package daemon

import (
	"opm/daemon/api"
	"opm/daemon/proc"
)

// Memory limits (max_memory_restart) are checked by sampling, and only
// while at least one running app has a limit: one timer for the daemon,
// armed when such an app comes online and re-armed after each sample
// while one still runs. A daemon without limits never wakes for them.
//
// A sample sums the RSS of each limited app's session (its process tree,
// the figure `opm list` shows) in one pass over /proc, off the event
// loop. An app over its limit in two samples in a row is restarted, with
// reason "memory limit": a short spike does not restart it, a leak does
// within two intervals (config memory_check_interval, default 2s).

// memTickEvent: time to sample the memory of apps with a limit.
type memTickEvent struct{ seq uint64 }

// memResultEvent: what a sample found, per app.
type memResultEvent struct {
	seq     uint64
	samples []memSample
}

// memSample is one app's memory in a sample.
type memSample struct {
	id int
	// run is the app's spawn sequence when sampled: a result about a
	// process since replaced is stale.
	run    uint64
	leader int
	// start is the leader's start time: a recycled pid is not the app.
	start uint64
	rss   int64
	ok    bool
}

// overLimitSamples is how many samples in a row must be over the limit.
const overLimitSamples = 2

// armMemory arms the sampling timer when a running app has a limit and
// no sample is pending.
func (s *Supervisor) armMemory() {
	if s.memArmed || s.stopping || !s.anyLimited() {
		return
	}
	s.memArmed = true
	s.memSeq++
	s.after(s.cfg.MemoryCheckInterval, memTickEvent{seq: s.memSeq})
}

// anyLimited reports whether a running app has a memory limit.
func (s *Supervisor) anyLimited() bool {
	for _, a := range s.apps {
		if a.state == Online && a.spec.MaxMemoryRestart > 0 {
			return true
		}
	}
	return false
}

// onMemTick samples the running apps that have a limit, off the loop.
func (s *Supervisor) onMemTick(ev memTickEvent) {
	if ev.seq != s.memSeq {
		return
	}
	if s.stopping {
		// A daemon going away (apps kept or stopped) restarts nothing.
		s.memArmed = false
		return
	}
	var samples []memSample
	var leaders []int
	for _, a := range s.apps {
		if a.state == Online && a.spec.MaxMemoryRestart > 0 && a.pid > 0 {
			samples = append(samples, memSample{id: a.id, run: a.seq, leader: a.pid, start: a.leaderStart})
			leaders = append(leaders, a.pid)
		}
	}
	if len(samples) == 0 {
		s.memArmed = false
		return
	}
	seq := s.memSeq
	go func() {
		sessions, err := proc.Sessions(leaders)
		for i := range samples {
			ss := sessions[samples[i].leader]
			if err == nil && ss != nil && ss.Leader && (samples[i].start == 0 || ss.Start == samples[i].start) {
				samples[i].rss, samples[i].ok = ss.RSS, true
			}
		}
		s.post(memResultEvent{seq: seq, samples: samples})
	}()
}

// onMemResult restarts the apps that stayed over their limit, then arms
// the next sample.
func (s *Supervisor) onMemResult(ev memResultEvent) {
	if ev.seq != s.memSeq {
		return
	}
	s.memArmed = false
	if s.stopping {
		return
	}
	for _, m := range ev.samples {
		a := s.apps[m.id]
		if a == nil || a.seq != m.run || a.state != Online || a.spec.MaxMemoryRestart <= 0 || !m.ok {
			continue
		}
		if m.rss <= a.spec.MaxMemoryRestart {
			a.memOver = 0
			continue
		}
		a.memOver++
		if a.memOver < overLimitSamples {
			continue
		}
		a.memOver = 0
		s.log.Warn("app over its memory limit", "event", "memory-limit", "app", a.label(), "pid", a.pid, "rss", m.rss, "limit", a.spec.MaxMemoryRestart)
		s.publish(a, api.Event{Type: api.EventTypeMemoryLimit, PID: a.pid, Detail: "rss " + api.FormatSize(m.rss) + " over " + api.FormatSize(a.spec.MaxMemoryRestart)})
		s.restartFor(a, "memory limit")
	}
	s.armMemory()
}
