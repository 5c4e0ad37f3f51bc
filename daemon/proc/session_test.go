package proc

import (
	"os"
	"os/exec"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The sums of a session follow its processes from pass to pass: a child
// forked between two passes is counted in the second; a process known to
// be in another session is not read again, unless its PID may have been
// handed out since.
func TestSessionsFollowProcesses(t *testing.T) {
	leader := startForker(t)
	s := &sessionScan{seen: map[int]seenProc{}}
	rss := func() int64 {
		t.Helper()
		out, err := s.sum([]int{leader})
		if err != nil {
			t.Fatal(err)
		}
		if !out[leader].Leader {
			t.Fatalf("leader %d not seen", leader)
		}
		return out[leader].RSS
	}

	members := waitMembers(t, leader, 2)
	if got, want := rss(), sumRSS(members); got != want {
		t.Fatalf("first pass: RSS %d, want %d (%d processes)", got, want, len(members))
	}

	// A child forked after the first pass.
	if err := syscall.Kill(leader, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	before := members
	members = waitMembers(t, leader, 3)
	if got, want := rss(), sumRSS(members); got != want {
		t.Fatalf("after a fork: RSS %d, want %d (%d processes)", got, want, len(members))
	}

	// A process the last pass saw in another session is not read...
	i := slices.IndexFunc(members, func(m Stat) bool {
		return !slices.ContainsFunc(before, func(b Stat) bool { return b.PID == m.PID })
	})
	child := members[i]
	p := s.seen[child.PID]
	if !p.read || p.sid != leader || p.ino == 0 {
		t.Fatalf("the pass knew pid %d as %+v, want it read in session %d with its inode", child.PID, p, leader)
	}
	p.sid = -1
	s.seen[child.PID] = p
	if got, want := rss(), sumRSS(members)-child.RSS; got != want {
		t.Fatalf("with pid %d known to be elsewhere: RSS %d, want %d", child.PID, got, want)
	}
	// ...unless its /proc entry is another one: its PID was handed out
	// again since.
	p.ino++
	s.seen[child.PID] = p
	if got, want := rss(), sumRSS(members); got != want {
		t.Fatalf("with pid %d handed out again: RSS %d, want %d", child.PID, got, want)
	}
	// A process gone is forgotten.
	if err := syscall.Kill(child.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	members = waitMembers(t, leader, 2)
	if got, want := rss(), sumRSS(members); got != want {
		t.Fatalf("after pid %d ended: RSS %d, want %d", child.PID, got, want)
	}
	if _, ok := s.seen[child.PID]; ok {
		t.Errorf("pid %d still remembered after it ended", child.PID)
	}
}

// Entries of /proc are parsed as PIDs only when they are one.
func TestParsePID(t *testing.T) {
	for name, want := range map[string]int{"1": 1, "4194304": 4194304, "self": 0, "01": 0, "": 0, "12a": 0, "99999999999": 0} {
		if got := parsePID([]byte(name)); got != want {
			t.Errorf("parsePID(%q) = %d, want %d", name, got, want)
		}
	}
}

// The inode of a process's /proc entry, which tells a PID handed out
// again, stays while the process lives, and differs between processes.
func TestProcInodes(t *testing.T) {
	s := &sessionScan{}
	dirfd, err := openat(unix.AT_FDCWD, "/proc")
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dirfd)
	inodes := func() map[int]uint64 {
		m := map[int]uint64{}
		if err := s.readdir(dirfd, func(pid int, ino uint64, _ []byte) { m[pid] = ino }); err != nil {
			t.Fatal(err)
		}
		return m
	}
	first, second := inodes(), inodes()
	self := first[os.Getpid()]
	if self == 0 || second[os.Getpid()] != self {
		t.Fatalf("this process's /proc inode: %d, then %d", self, second[os.Getpid()])
	}
	owner := map[uint64]int{}
	for pid, ino := range first {
		if other, ok := owner[ino]; ok && ino != 0 {
			t.Errorf("pids %d and %d have the same /proc inode %d", pid, other, ino)
		}
		owner[ino] = pid
	}
}

// startForker starts a shell that leads its own session with a child,
// and forks another at each SIGUSR1; it returns the shell's pid.
func startForker(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sh", "-c", `trap 'sleep 1000 &' USR1; sleep 1000 & while :; do wait; done`)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	return cmd.Process.Pid
}

// waitMembers waits until the session sid has n processes, each asleep
// (so that their RSS stays put), and returns them.
func waitMembers(t *testing.T, sid, n int) []Stat {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var ms []Stat
		asleep := true
		err := Each(func(st *Stat) {
			if st.Session == sid {
				ms = append(ms, *st)
				asleep = asleep && st.State == 'S'
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == n && asleep {
			return ms
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %d has %d processes (asleep: %v), want %d", sid, len(ms), asleep, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func sumRSS(ms []Stat) (rss int64) {
	for _, m := range ms {
		rss += m.RSS
	}
	return rss
}

// A PID handed out again to a process of a session asked about is read,
// though the pass before saw it held by a process of another session.
// (Root moves the kernel's PID cursor back to hand the PID out again.)
func TestReusedPIDIsRead(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to set /proc/sys/kernel/ns_last_pid")
	}
	leader := startForker(t)
	first := waitMembers(t, leader, 2)
	s := &sessionScan{seen: map[int]seenProc{}}
	for range 20 {
		other := exec.Command("sleep", "1000")
		other.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := other.Start(); err != nil {
			t.Fatal(err)
		}
		pid := other.Process.Pid
		if _, err := s.sum([]int{leader}); err != nil {
			t.Fatal(err)
		}
		if p := s.seen[pid]; !p.read || p.sid != pid {
			t.Fatalf("the pass knew pid %d as %+v, want it read in its own session", pid, p)
		}
		_ = other.Process.Kill()
		_ = other.Wait()
		// The leader's next child gets pid, unless another fork on the
		// machine takes it first: then again.
		if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(pid-1)), 0); err != nil {
			t.Skipf("cannot move the PID cursor: %v", err)
		}
		if err := syscall.Kill(leader, syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		members := waitMembers(t, leader, 3)
		i := slices.IndexFunc(members, func(m Stat) bool {
			return !slices.ContainsFunc(first, func(f Stat) bool { return f.PID == m.PID })
		})
		if members[i].PID != pid {
			_ = syscall.Kill(members[i].PID, syscall.SIGKILL)
			waitMembers(t, leader, 2)
			continue
		}
		out, err := s.sum([]int{leader})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := out[leader].RSS, sumRSS(members); got != want {
			t.Fatalf("pid %d handed out again to the session: RSS %d, want %d (%d processes)", pid, got, want, len(members))
		}
		return
	}
	t.Skip("another process took the PID each time")
}
