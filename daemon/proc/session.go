package proc

// Session sums the processes of one session: an app leads its own, so its
// session is its process tree, even the children that left its process
// group.
type Session struct {
	// Ticks is the CPU time of the live processes, in clock ticks; RSS
	// their resident memory in bytes.
	Ticks uint64
	RSS   int64
	// Start is the leader's start time; Leader is set once the leader
	// itself was seen (a session whose leader is gone is no app's).
	Start  uint64
	Leader bool
}

// Sessions sums, in one pass over /proc, the sessions led by leaders.
func Sessions(leaders []int) (map[int]*Session, error) {
	out := make(map[int]*Session, len(leaders))
	for _, pid := range leaders {
		out[pid] = &Session{}
	}
	err := Each(func(st *Stat) {
		s := out[st.Session]
		if s == nil || st.Session == 0 {
			return
		}
		if st.PID == st.Session {
			s.Start, s.Leader = st.Start, true
		}
		s.Ticks += st.Ticks()
		s.RSS += st.RSS
	})
	return out, err
}
