package daemon

import (
	"sync"
	"time"

	"opm/daemon/api"
	"opm/daemon/internal/proc"
)

// sampler fills in CPU and memory figures for `list` and `info`, on
// demand only. It scans /proc once per call and sums each app's process
// tree: every process in the app's session (each app leads its own). CPU is the percentage used since the previous
// sample of the same process (or over its lifetime on the first).
//
// It keeps its own small cache behind a mutex; it never touches the app
// table.
type sampler struct {
	mu   sync.Mutex
	prev map[int]cpuMark // by app id
	now  func() time.Time
}

type cpuMark struct {
	pid   int
	start uint64
	ticks uint64
	at    time.Time
}

func newSampler() *sampler {
	return &sampler{prev: make(map[int]cpuMark), now: time.Now}
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
	tree := make(map[int]*totals, len(apps))
	for _, a := range apps {
		if a.PID > 0 {
			tree[a.PID] = &totals{}
		}
	}
	if err := proc.Each(func(st *proc.Stat) { addTo(tree, st) }); err != nil {
		return
	}
	now := s.now()
	up := uptimeTicks()

	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range apps {
		a := &apps[i]
		if a.PID <= 0 {
			continue
		}
		t := tree[a.PID]
		if !t.leader {
			continue // gone, or no longer leading its session
		}
		a.Memory = uint64(t.rss)
		mark := cpuMark{pid: a.PID, start: t.start, ticks: t.ticks, at: now}
		old, seen := s.prev[a.ID]
		s.prev[a.ID] = mark
		var dTicks float64
		var dSecs float64
		if seen && old.pid == mark.pid && old.start == mark.start && mark.ticks >= old.ticks {
			dTicks = float64(mark.ticks - old.ticks)
			dSecs = now.Sub(old.at).Seconds()
		} else if up > t.start {
			// First sample: the average over the process's life.
			dTicks = float64(t.ticks)
			dSecs = float64(up-t.start) / proc.TicksPerSecond
		}
		if dSecs > 0 {
			a.CPU = round1(100 * dTicks / proc.TicksPerSecond / dSecs)
		}
	}
}

// forget drops the cache entries of apps not in keep.
func (s *sampler) forget(keep map[int]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.prev {
		if !keep[id] {
			delete(s.prev, id)
		}
	}
}

type totals struct {
	ticks uint64
	rss   int64
	start uint64 // of the leader
	// leader is set once the session leader itself was seen.
	leader bool
}

// addTo adds st to the totals of its session, if tree has one: each app
// leads its own session, so an app's process tree is its session.
func addTo(tree map[int]*totals, st *proc.Stat) {
	t := tree[st.Session]
	if t == nil || st.Session == 0 {
		return
	}
	if st.PID == st.Session {
		t.start, t.leader = st.Start, true
	}
	t.ticks += st.Ticks()
	t.rss += st.RSS
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }
