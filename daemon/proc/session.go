package proc

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

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
//
// Only a session's processes change its sums, so a pass reads the stat of
// those, of the leaders, and of processes it has not seen before; the rest
// are known by the session each was in when last read (sessions, below).
// That is sound because a process never joins another session (setsid
// makes a new one, led by the caller: a leader, always read), and because
// it can tell whether a PID was used again since: see pidClock.
func Sessions(leaders []int) (map[int]*Session, error) {
	return sessions.sum(leaders)
}

// sessions is the memory of Sessions, shared by its callers: it keeps
// sessions of every process, so any set of leaders can be asked about.
var sessions = sessionScan{sid: map[int]int{}}

// sessionScan remembers, between passes, the session of each process
// seen, and the pidClock of the last pass.
type sessionScan struct {
	mu    sync.Mutex
	sid   map[int]int // pid → session, as last read
	clock pidClock    // at the last pass; zero: sid is not to be trusted
	buf   []byte      // for /proc/stat
}

func (s *sessionScan) sum(leaders []int) (map[int]*Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int]*Session, len(leaders))
	for _, pid := range leaders {
		out[pid] = &Session{}
	}
	now, nowOK := s.readClock()
	d, err := os.Open("/proc")
	if err != nil {
		return out, fmt.Errorf("scan /proc: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return out, fmt.Errorf("scan /proc: %w", err)
	}
	trust := nowOK && s.clock.unchanged(now)
	if !trust {
		clear(s.sid)
	}
	live := make(map[int]bool, len(names))
	read := names[:0:0]
	for _, name := range names {
		if name == "" || name[0] < '0' || name[0] > '9' {
			continue // self, sys, ...
		}
		pid, err := strconv.Atoi(name)
		if err != nil || pid <= 0 {
			continue
		}
		live[pid] = true
		if sid, ok := s.sid[pid]; ok && out[pid] == nil && out[sid] == nil && !s.clock.swept(now, pid) {
			continue // in no session asked about, and the same process
		}
		read = append(read, name)
	}
	for pid := range s.sid {
		if !live[pid] {
			delete(s.sid, pid)
		}
	}
	each(int(d.Fd()), read, func(st *Stat) {
		s.sid[st.PID] = st.Session
		t := out[st.Session]
		if t == nil || st.Session == 0 {
			return
		}
		if st.PID == st.Session {
			t.Start, t.Leader = st.Start, true
		}
		t.Ticks += st.Ticks()
		t.RSS += st.RSS
	})
	if nowOK {
		s.clock = now
	} else {
		s.clock = pidClock{}
	}
	return out, nil
}

// pidClock tells how far the kernel's PID allocation went. PIDs are handed
// out in turn, from the last one given up to pid_max and round again,
// skipping those in use; so between two passes only the PIDs from the
// last pass's to this pass's can have been given to a new process — as
// long as fewer PIDs were handed out than it takes to come round, which
// the count of forks since boot bounds.
type pidClock struct {
	last     int    // the PID last handed out in this namespace
	forks    uint64 // forks since boot, read before last
	forksEnd uint64 // and after it
	tasks    uint64 // tasks on the system
	max      int    // pid_max
}

// unchanged reports whether every PID outside the sweep from c to now is
// held by the same process (or none) at now as at c.
func (c pidClock) unchanged(now pidClock) bool {
	if c.max == 0 || now.forksEnd < c.forks {
		return false
	}
	// The allocator passes each PID it hands out and each one in use it
	// skips: at most every task's PID, group and session (tasks alive at
	// c or forked since), and the reserved PIDs below 300 it never
	// comes back to.
	forks := now.forksEnd - c.forks
	passed := forks + 3*(c.tasks+forks) + reservedPIDs
	return passed < uint64(c.max)
}

// reservedPIDs are the PIDs the kernel does not hand out again once it
// has come round.
const reservedPIDs = 300

// swept reports whether pid may have been handed out between c and now.
func (c pidClock) swept(now pidClock, pid int) bool {
	switch {
	case now.last == c.last:
		return false
	case now.last > c.last:
		return pid > c.last && pid <= now.last
	default: // came round
		return pid > c.last || pid <= now.last
	}
}

// readClock reads the pidClock; ok is false when it cannot be read.
func (s *sessionScan) readClock() (c pidClock, ok bool) {
	if c.max = s.clock.max; c.max == 0 {
		if c.max, ok = readInt("/proc/sys/kernel/pid_max"); !ok {
			return c, false
		}
	}
	var ok1, ok2, ok3 bool
	c.forks, ok1 = s.readForks()
	c.last, c.tasks, ok2 = readLoadavg()
	c.forksEnd, ok3 = s.readForks()
	return c, ok1 && ok2 && ok3
}

// readForks reads the forks since boot ("processes" in /proc/stat).
func (s *sessionScan) readForks() (uint64, bool) {
	for {
		if s.buf == nil {
			s.buf = make([]byte, 4096)
		}
		n, ok := readAt("/proc/stat", s.buf)
		if !ok {
			return 0, false
		}
		if n == len(s.buf) && len(s.buf) < 1<<20 {
			s.buf = make([]byte, 2*len(s.buf)) // it may not all have fitted
			continue
		}
		_, rest, found := bytes.Cut(s.buf[:n], []byte("\nprocesses "))
		if !found {
			return 0, false
		}
		line, _, _ := bytes.Cut(rest, []byte("\n"))
		v, err := strconv.ParseUint(string(line), 10, 64)
		return v, err == nil
	}
}

// readLoadavg reads the last PID handed out in this namespace and the
// number of tasks on the system from /proc/loadavg
// ("0.00 0.01 0.05 1/215 20931").
func readLoadavg() (last int, tasks uint64, ok bool) {
	var buf [128]byte
	n, ok := readAt("/proc/loadavg", buf[:])
	if !ok {
		return 0, 0, false
	}
	f := bytes.Fields(buf[:n])
	if len(f) < 5 {
		return 0, 0, false
	}
	_, t, found := bytes.Cut(f[3], []byte("/"))
	if !found {
		return 0, 0, false
	}
	tasks, err1 := strconv.ParseUint(string(t), 10, 64)
	last, err2 := strconv.Atoi(string(f[4]))
	return last, tasks, err1 == nil && err2 == nil
}

// readInt reads a file holding one integer.
func readInt(path string) (int, bool) {
	var buf [32]byte
	n, ok := readAt(path, buf[:])
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(string(bytes.TrimSpace(buf[:n])))
	return v, err == nil && v > 0
}

// readAt reads the start of the file at path into buf.
func readAt(path string, buf []byte) (int, bool) {
	fd, err := openat(unix.AT_FDCWD, path)
	if err != nil {
		return 0, false
	}
	defer unix.Close(fd)
	n, err := unix.Read(fd, buf)
	return n, err == nil && n > 0
}
