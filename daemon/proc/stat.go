package proc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// TicksPerSecond is USER_HZ, the unit of the CPU times and start time in
// /proc/<pid>/stat. It is 100 on every Linux architecture Go supports.
const TicksPerSecond = 100

// PageSize is the unit of the RSS field.
var PageSize = int64(os.Getpagesize())

// Stat is the part of /proc/<pid>/stat the daemon uses.
type Stat struct {
	PID     int
	State   byte
	PPID    int
	PGID    int
	Session int
	// Utime and Stime are CPU times in clock ticks.
	Utime, Stime uint64
	// Start is the start time in clock ticks since boot.
	Start uint64
	// RSS is the resident set size in bytes.
	RSS int64
}

// Ticks is the process's total CPU time in clock ticks.
func (s Stat) Ticks() uint64 { return s.Utime + s.Stime }

// ErrGone reports a process that does not exist (any more).
var ErrGone = errors.New("no such process")

// ReadStat reads /proc/<pid>/stat.
func ReadStat(pid int) (Stat, error) {
	var buf [512]byte
	return readStat(pid, buf[:])
}

func readStat(pid int, buf []byte) (Stat, error) {
	// Raw syscalls: os.Open would also try to register the file with the
	// poller, a wasted syscall per process on a full scan.
	path := "/proc/" + strconv.Itoa(pid) + "/stat"
	var fd int
	var err error
	for {
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
			return Stat{}, fmt.Errorf("read stat of pid %d: %w", pid, ErrGone)
		}
		return Stat{}, fmt.Errorf("read stat of pid %d: %w", pid, err)
	}
	n, err := unix.Read(fd, buf)
	unix.Close(fd)
	if err != nil || n <= 0 {
		// A process that exits between open and read answers ESRCH.
		return Stat{}, fmt.Errorf("read stat of pid %d: %w", pid, ErrGone)
	}
	st, err := ParseStat(buf[:n])
	if err != nil {
		return Stat{}, fmt.Errorf("read stat of pid %d: %w", pid, err)
	}
	return st, nil
}

// ParseStat parses the text of /proc/<pid>/stat.
func ParseStat(b []byte) (Stat, error) {
	var st Stat
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 1 || end < open || end+2 >= len(b) {
		return st, errors.New("malformed stat line")
	}
	num := bytes.TrimSpace(b[:open])
	if len(num) == 0 || len(num) > 10 || bytes.ContainsFunc(num, func(r rune) bool { return r < '0' || r > '9' }) {
		return st, errors.New("malformed stat line")
	}
	pid := atoi(num)
	st.PID = pid
	// Fields after the command, numbered as in proc(5): 3 is the state.
	rest := b[end+2:]
	field := 3
	for len(rest) > 0 && field <= 24 {
		i := bytes.IndexByte(rest, ' ')
		var tok []byte
		if i < 0 {
			tok, rest = bytes.TrimSpace(rest), nil
		} else {
			tok, rest = rest[:i], rest[i+1:]
		}
		switch field {
		case 3:
			if len(tok) > 0 {
				st.State = tok[0]
			}
		case 4:
			st.PPID = atoi(tok)
		case 5:
			st.PGID = atoi(tok)
		case 6:
			st.Session = atoi(tok)
		case 14:
			st.Utime = atou(tok)
		case 15:
			st.Stime = atou(tok)
		case 22:
			st.Start = atou(tok)
		case 24:
			st.RSS = int64(atou(tok)) * PageSize
		}
		field++
	}
	if field <= 24 {
		return st, errors.New("short stat line")
	}
	return st, nil
}

func atoi(b []byte) int {
	if len(b) > 0 && b[0] == '-' {
		return -int(atou(b[1:]))
	}
	return int(atou(b))
}

func atou(b []byte) uint64 {
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + uint64(c-'0')
	}
	return n
}

// StartTime is the start time of process pid in clock ticks since boot.
// With the PID it names one process for the life of the system: a
// recycled PID has a later start.
func StartTime(pid int) (uint64, error) {
	st, err := ReadStat(pid)
	return st.Start, err
}

// Alive reports whether pid exists and is not a zombie.
func Alive(pid int) bool {
	st, err := ReadStat(pid)
	return err == nil && st.State != 'Z' && st.State != 'X'
}

// Scan reads the stat of every process on the system. Processes that exit
// while it runs are skipped.
func Scan() ([]Stat, error) {
	var out []Stat
	err := Each(func(st *Stat) { out = append(out, *st) })
	return out, err
}

// Each calls fn with the stat of every process on the system, in one
// pass that allocates little: the stat files are opened relative to one
// descriptor of /proc, read into one buffer per reader, and fn's *Stat is
// reused (copy it to keep it). Processes that exit while it runs are
// skipped. On a machine with several processors the files are read by
// several goroutines, each a share of the processes (reading is the
// cost: three system calls a process); fn is called by one at a time.
func Each(fn func(*Stat)) error {
	d, err := os.Open("/proc")
	if err != nil {
		return fmt.Errorf("scan /proc: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("scan /proc: %w", err)
	}
	each(int(d.Fd()), names, fn)
	return nil
}

// each calls fn with the stat of each process of names (entries of the
// /proc directory dirfd), as Each does.
func each(dirfd int, names []string, fn func(*Stat)) {
	readers := min(runtime.GOMAXPROCS(0), len(names)/eachShare+1)
	if readers <= 1 {
		eachOf(dirfd, names, fn)
		return
	}
	var mu sync.Mutex
	locked := func(st *Stat) {
		mu.Lock()
		defer mu.Unlock()
		fn(st)
	}
	var wg sync.WaitGroup
	per := (len(names) + readers - 1) / readers
	for part := range slices.Chunk(names, per) {
		wg.Go(func() { eachOf(dirfd, part, locked) })
	}
	wg.Wait()
}

// eachShare is how many processes are worth a reader of their own.
const eachShare = 64

// eachOf calls fn with the stat of each process of names (entries of the
// /proc directory dirfd).
func eachOf(dirfd int, names []string, fn func(*Stat)) {
	var buf [512]byte
	path := make([]byte, 0, 32)
	for _, name := range names {
		if name == "" || name[0] < '0' || name[0] > '9' {
			continue
		}
		path = append(append(path[:0], name...), "/stat"...)
		fd, err := openat(dirfd, string(path))
		if err != nil {
			continue
		}
		n, err := unix.Read(fd, buf[:])
		unix.Close(fd)
		if err != nil || n <= 0 {
			continue
		}
		st, err := ParseStat(buf[:n])
		if err != nil {
			continue
		}
		fn(&st)
	}
}

func openat(dirfd int, path string) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}
