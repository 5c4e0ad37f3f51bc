package daemon

import (
	"sync"
	"time"

	"opm/daemon/api"
	"opm/daemon/proc"
)

// sampler fills in CPU and memory figures for `list` and `info`, on
// demand only. It scans /proc once per call and sums each app's process
// tree: every process in the app's session (each app leads its own).
//
// CPU is the share of one core the app's processes used over a window that
// does not depend on who asked before: for each app process (pid and start
// time, so that a recycled pid starts afresh) the sampler keeps its
// session's CPU ticks at a few past moments, and an answer uses the newest
// of them at least cpuWindow old — or, when there is none (the first look,
// or looks closer together than that), the process's whole life. Two
// `opm list` in a row therefore show the same kind of figure, not a rate
// over the few milliseconds between them.
//
// It keeps its own small cache behind a mutex; it never touches the app
// table.
type sampler struct {
	mu    sync.Mutex
	marks map[procKey][]cpuMark // oldest first
	now   func() time.Time
}

// procKey names one process for the machine's uptime.
type procKey struct {
	pid   int
	start uint64
}

// cpuMark is a session's CPU ticks at a moment.
type cpuMark struct {
	ticks uint64
	at    time.Time
}

const (
	// cpuWindow is the shortest span a CPU figure is a rate over.
	cpuWindow = time.Second
	// markEvery spaces the marks kept, and markMax bounds them, so that
	// frequent askers cannot grow the cache.
	markEvery = 100 * time.Millisecond
	markMax   = 16
	// markExpiry drops the marks of processes nobody asked about lately
	// (gone, or no longer apps).
	markExpiry = 10 * time.Minute
)

func newSampler() *sampler {
	return &sampler{marks: make(map[procKey][]cpuMark), now: time.Now}
}

// sample sets CPU and Memory of the running apps in apps.
func (s *sampler) sample(apps []api.App) {
	want := false
	for _, a := range apps {
		if a.PID > 0 {
			want = true
			break
		}
	}
	if !want {
		return
	}
	leaders := make([]int, 0, len(apps))
	for _, a := range apps {
		if a.PID > 0 {
			leaders = append(leaders, a.PID)
		}
	}
	tree, err := proc.Sessions(leaders)
	if err != nil {
		return
	}
	now := s.now()
	up := proc.Uptime()

	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range apps {
		a := &apps[i]
		if a.PID <= 0 {
			continue
		}
		t := tree[a.PID]
		if !t.Leader {
			continue // gone, or no longer leading its session
		}
		a.Memory = uint64(t.RSS)
		key := procKey{a.PID, t.Start}
		a.CPU = round1(s.rate(key, t, now, up))
	}
	s.expire(now)
}

// rate is the CPU percentage of the session t leads (process key) at now,
// and records this look.
func (s *sampler) rate(key procKey, t *proc.Session, now time.Time, up uint64) float64 {
	marks := s.marks[key]
	base := -1
	for i := len(marks) - 1; i >= 0; i-- {
		if now.Sub(marks[i].at) >= cpuWindow {
			base = i
			break
		}
	}
	var dTicks, dSecs float64
	switch {
	case base >= 0 && t.Ticks >= marks[base].ticks:
		dTicks = float64(t.Ticks - marks[base].ticks)
		dSecs = now.Sub(marks[base].at).Seconds()
	case up > t.Start:
		// No look old enough: the average over the process's life.
		dTicks = float64(t.Ticks)
		dSecs = float64(up-t.Start) / proc.TicksPerSecond
	}
	if base > 0 {
		marks = marks[base:] // older marks are never a base again
	}
	if len(marks) == 0 || now.Sub(marks[len(marks)-1].at) >= markEvery {
		if len(marks) == markMax {
			marks = marks[1:]
		}
		marks = append(marks, cpuMark{ticks: t.Ticks, at: now})
	}
	s.marks[key] = marks
	if dSecs <= 0 {
		return 0
	}
	return 100 * dTicks / proc.TicksPerSecond / dSecs
}

// expire drops the marks of processes not looked at for markExpiry.
func (s *sampler) expire(now time.Time) {
	for k, m := range s.marks {
		if len(m) == 0 || now.Sub(m[len(m)-1].at) > markExpiry {
			delete(s.marks, k)
		}
	}
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }
