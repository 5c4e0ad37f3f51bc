package proc

import (
	"encoding/binary"
	"fmt"
	"sync"
	"time"

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
// those, of the leaders, and of processes it has not seen before; the
// rest are known by the session each was in when last read. That is
// sound because a process never joins another session (setsid makes a
// new one, led by the caller: a leader, always read), and because a PID
// handed out again is told from the process that had it by the inode
// number of its /proc entry: the kernel drops a process's /proc entries
// when it is reaped, and the next process with its PID gets a new inode.
// (An entry the kernel dropped for want of memory gets a new inode too:
// its process is then read again, which costs a read and nothing else.)
// Kernels before 5.7 dropped the entries before letting the PID go, and a
// pass in between could keep one: there, and wherever the kernel's
// release cannot be read, every pass reads every process. Everywhere,
// what a pass knows is forgotten every fullEvery, which bounds the cost
// of anything this misses.
func Sessions(leaders []int) (map[int]*Session, error) {
	return sessions.sum(leaders)
}

// sessions is the memory of Sessions, shared by its callers: it keeps
// the session of every process, so any set of leaders can be asked about.
var sessions = sessionScan{seen: map[int]seenProc{}}

// sessionScan remembers, between passes, what it read of each process.
type sessionScan struct {
	mu   sync.Mutex
	seen map[int]seenProc // by PID
	pass uint64
	full time.Time // when seen was last emptied
	buf  []byte    // for getdents
}

// fullEvery is how often a pass reads every process all the same.
const fullEvery = 30 * time.Second

// seenProc is what a pass knew of a process.
type seenProc struct {
	ino  uint64 // of /proc/<pid>
	sid  int
	read bool // sid was read (a process can vanish before it is)
	pass uint64
}

func (s *sessionScan) sum(leaders []int) (map[int]*Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int]*Session, len(leaders))
	for _, pid := range leaders {
		out[pid] = &Session{}
	}
	dirfd, err := openat(unix.AT_FDCWD, "/proc")
	if err != nil {
		return out, fmt.Errorf("scan /proc: %w", err)
	}
	defer unix.Close(dirfd)
	if !inodesTell() || time.Since(s.full) >= fullEvery {
		clear(s.seen)
		s.full = time.Now()
	}
	s.pass++
	var read []string
	err = s.readdir(dirfd, func(pid int, ino uint64, name []byte) {
		p, ok := s.seen[pid]
		if ok && ino != 0 && p.ino == ino && p.read && out[pid] == nil && out[p.sid] == nil {
			// The same process, in no session asked about.
			p.pass = s.pass
			s.seen[pid] = p
			return
		}
		s.seen[pid] = seenProc{ino: ino, pass: s.pass}
		read = append(read, string(name))
	})
	if err != nil {
		clear(s.seen)
		return out, fmt.Errorf("scan /proc: %w", err)
	}
	for pid, p := range s.seen {
		if p.pass != s.pass {
			delete(s.seen, pid) // gone
		}
	}
	each(dirfd, read, func(st *Stat) {
		if p, ok := s.seen[st.PID]; ok {
			p.sid, p.read = st.Session, true
			s.seen[st.PID] = p
		}
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
	return out, nil
}

// readdir calls fn with the PID, inode number and name of each process
// directory of the /proc directory dirfd. An entry whose inode the
// kernel could not give (1, or 0) has ino 0: it is never taken for one
// seen before.
func (s *sessionScan) readdir(dirfd int, fn func(pid int, ino uint64, name []byte)) error {
	if s.buf == nil {
		s.buf = make([]byte, 32<<10)
	}
	if _, err := unix.Seek(dirfd, 0, 0); err != nil {
		return err
	}
	for {
		n, err := unix.Getdents(dirfd, s.buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n <= 0 {
			return nil
		}
		for b := s.buf[:n]; len(b) >= direntName; {
			// struct linux_dirent64: ino (8), off (8), reclen (2),
			// type (1), name, NUL-terminated.
			reclen := int(binary.NativeEndian.Uint16(b[16:18]))
			if reclen < direntName || reclen > len(b) {
				return fmt.Errorf("getdents: bad record length %d", reclen)
			}
			ino := binary.NativeEndian.Uint64(b[0:8])
			name := b[direntName:reclen]
			for i, c := range name {
				if c == 0 {
					name = name[:i]
					break
				}
			}
			b = b[reclen:]
			pid := parsePID(name)
			if pid <= 0 {
				continue // self, sys, ...
			}
			if ino <= 1 {
				ino = 0
			}
			fn(pid, ino, name)
		}
	}
}

// inodesTell reports whether the inode of a /proc/<pid> entry tells a
// process from the next one given its PID: on Linux 5.7 and newer, which
// drop a process's entries after its PID is let go (proc_flush_pid).
var inodesTell = sync.OnceValue(func() bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	return kernelAtLeast(unix.ByteSliceToString(u.Release[:]), 5, 7)
})

// kernelAtLeast reports whether the kernel release ("6.1.0-13-amd64") is
// major.minor or newer.
func kernelAtLeast(release string, major, minor int) bool {
	var maj, mi int
	if n, _ := fmt.Sscanf(release, "%d.%d", &maj, &mi); n != 2 {
		return false
	}
	return maj > major || maj == major && mi >= minor
}

// parsePID is the PID a /proc entry is named after, or 0.
func parsePID(name []byte) int {
	if len(name) == 0 || len(name) > 7 || name[0] == '0' { // pid_max ≤ 2^22
		return 0
	}
	pid := 0
	for _, c := range name {
		if c < '0' || c > '9' {
			return 0
		}
		pid = pid*10 + int(c-'0')
	}
	return pid
}

// direntName is the offset of the name in a linux_dirent64.
const direntName = 19
