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
	stats, err := proc.Scan()
	if err != nil {
		return
	}
	now := s.now()
	up := uptimeTicks()
	tree := treeTotals(stats)

	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range apps {
		a := &apps[i]
		if a.PID <= 0 {
			continue
		}
		t, ok := tree[a.PID]
		if !ok {
			continue
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
}

// treeTotals sums CPU ticks and RSS over the processes of each session,
// by session leader.
func treeTotals(stats []proc.Stat) map[int]totals {
	byPID := make(map[int]*proc.Stat, len(stats))
	for i := range stats {
		byPID[stats[i].PID] = &stats[i]
	}
	out := make(map[int]totals)
	for i := range stats {
		st := &stats[i]
		if st.Session == st.PID {
			t := out[st.PID]
			t.start = st.Start
			out[st.PID] = t
		}
	}
	for i := range stats {
		st := &stats[i]
		leader := st.Session
		if _, ok := out[leader]; !ok || leader == 0 {
			continue
		}
		t := out[leader]
		t.ticks += st.Ticks()
		t.rss += st.RSS
		out[leader] = t
	}
	return out
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }
