package proc

import (
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
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

	if !inodesTell() {
		t.Skip("this kernel (before Linux 5.7) drops /proc entries too early for a pass to know a process again: every pass reads every process")
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
	// again since...
	p.ino++
	s.seen[child.PID] = p
	if got, want := rss(), sumRSS(members); got != want {
		t.Fatalf("with pid %d handed out again: RSS %d, want %d", child.PID, got, want)
	}
	// ...or its session was never read (it vanished, or seemed to)...
	p = s.seen[child.PID]
	p.sid, p.read = -1, false
	s.seen[child.PID] = p
	if got, want := rss(), sumRSS(members); got != want {
		t.Fatalf("with pid %d never read: RSS %d, want %d", child.PID, got, want)
	}
	// ...or the last full pass is fullEvery old.
	p = s.seen[child.PID]
	p.sid = -1
	s.seen[child.PID] = p
	s.full = time.Now().Add(-fullEvery)
	if got, want := rss(), sumRSS(members); got != want {
		t.Fatalf("with pid %d known elsewhere, %s after the last full pass: RSS %d, want %d", child.PID, fullEvery, got, want)
	}
	// A leader is read, whatever a pass knew of it (a process can be
	// seen between its fork and its setsid).
	p = s.seen[leader]
	p.sid = -1
	s.seen[leader] = p
	if got, want := rss(), sumRSS(members); got != want {
		t.Fatalf("with leader %d known elsewhere: RSS %d, want %d", leader, got, want)
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

func TestKernelAtLeast(t *testing.T) {
	for release, want := range map[string]bool{"5.7.0": true, "6.1.0-13-amd64": true, "5.6.19": false, "4.19.0": false, "5.10": true, "10.0": true, "": false, "x": false} {
		if got := kernelAtLeast(release, 5, 7); got != want {
			t.Errorf("kernelAtLeast(%q, 5, 7) = %v, want %v", release, got, want)
		}
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
	if !inodesTell() {
		t.Skip("before Linux 5.7 the inodes are not relied on")
	}
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
// Root moves the kernel's PID cursor back to hand the PID out again, in a
// PID namespace of the test's own (with its own /proc), where nothing
// else forks and the machine's PIDs are left alone.
func TestReusedPIDIsRead(t *testing.T) {
	if os.Getenv(reuseNamespaceEnv) == "" {
		inNewPIDNamespace(t)
		return
	}
	if !inodesTell() {
		t.Skip("before Linux 5.7 every pass reads every process")
	}
	leader := startForker(t)
	first := waitMembers(t, leader, 2)
	s := &sessionScan{seen: map[int]seenProc{}}
	other := exec.Command("sleep", "1000")
	other.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	pid := other.Process.Pid
	t.Cleanup(func() { _ = other.Process.Kill(); _ = other.Wait() })
	if _, err := s.sum([]int{leader}); err != nil {
		t.Fatal(err)
	}
	if p := s.seen[pid]; !p.read || p.sid != pid {
		t.Fatalf("the pass knew pid %d as %+v, want it read in its own session", pid, p)
	}
	_ = other.Process.Kill()
	_ = other.Wait()
	// The leader's next child gets pid: nothing else forks here.
	if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(pid-1)), 0); err != nil {
		t.Fatalf("cannot move the PID cursor: %v", err)
	}
	if err := syscall.Kill(leader, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	members := waitMembers(t, leader, 3)
	i := slices.IndexFunc(members, func(m Stat) bool {
		return !slices.ContainsFunc(first, func(f Stat) bool { return f.PID == m.PID })
	})
	if members[i].PID != pid {
		t.Fatalf("the new child is pid %d, not %d: something else forked", members[i].PID, pid)
	}
	out, err := s.sum([]int{leader})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := out[leader].RSS, sumRSS(members); got != want {
		t.Fatalf("pid %d handed out again to the session: RSS %d, want %d (%d processes)", pid, got, want, len(members))
	}
}

// reuseNamespaceEnv marks the test binary run in a PID namespace of its
// own by inNewPIDNamespace.
const reuseNamespaceEnv = "OPM_TEST_PID_NAMESPACE"

// inNewPIDNamespace runs the calling test again, alone, in a new PID and
// mount namespace with /proc mounted for it, and reports its result as
// the test's. It needs root; it skips where namespaces cannot be made.
func inNewPIDNamespace(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root, for a PID namespace and its /proc/sys/kernel/ns_last_pid")
	}
	if _, err := exec.LookPath("mount"); err != nil {
		t.Skip("needs mount(8), to mount /proc in the PID namespace")
	}
	// In the namespace: mounts kept private, then its own /proc, then the test.
	script := `mount --make-rprivate / && mount -t proc proc /proc && exec "$0" -test.run='^` + t.Name() + `$' -test.v -test.count=1`
	cmd := exec.Command("sh", "-c", script, os.Args[0])
	cmd.Env = append(os.Environ(), reuseNamespaceEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	switch {
	case err != nil && cmd.ProcessState == nil:
		t.Skipf("cannot make a PID namespace here: %v", err)
	case err != nil:
		t.Fatalf("in a PID namespace: %v\n%s", err, out)
	case strings.Contains(string(out), "--- SKIP"):
		t.Skipf("in a PID namespace:\n%s", out)
	case !strings.Contains(string(out), "--- PASS: "+t.Name()):
		t.Fatalf("in a PID namespace, no pass:\n%s", out)
	}
}
