package proc

import (
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"
)

// The sums of a session follow its processes from pass to pass: a child
// forked between two passes is counted in the second; a process known to
// be in another session is not read again, unless its PID may have been
// handed out since.
func TestSessionsFollowProcesses(t *testing.T) {
	cmd := exec.Command("sh", "-c", `trap 'sleep 1000 &' USR1; sleep 1000 & while :; do wait; done`)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	leader := cmd.Process.Pid
	t.Cleanup(func() {
		_ = syscall.Kill(-leader, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	s := &sessionScan{sid: map[int]int{}}
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
	trusted(t, s)

	// A child forked after the first pass.
	if err := syscall.Kill(leader, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	before := members
	members = waitMembers(t, leader, 3)
	if got, want := rss(), sumRSS(members); got != want {
		t.Fatalf("after a fork: RSS %d, want %d (%d processes)", got, want, len(members))
	}
	trusted(t, s)

	// A process the last pass saw in another session is not read...
	i := slices.IndexFunc(members, func(m Stat) bool {
		return !slices.ContainsFunc(before, func(b Stat) bool { return b.PID == m.PID })
	})
	child := members[i]
	s.sid[child.PID] = -1
	if got, want := rss(), sumRSS(members)-child.RSS; got != want {
		t.Fatalf("with pid %d known to be elsewhere: RSS %d, want %d", child.PID, got, want)
	}
	trusted(t, s)
	// ...unless its PID may have been handed out again since.
	s.sid[child.PID] = -1
	s.clock.last = child.PID - 1
	if got, want := rss(), sumRSS(members); got != want {
		t.Fatalf("with pid %d handed out since: RSS %d, want %d", child.PID, got, want)
	}
}

// trusted skips the test when the PIDs handed out since s's last pass
// may have come round: the next pass then reads every process, and there
// is nothing to see.
func trusted(t *testing.T, s *sessionScan) {
	t.Helper()
	now, ok := s.readClock()
	if !ok {
		t.Skip("the PID clock cannot be read here (/proc/stat, /proc/loadavg, pid_max): every pass reads every process")
	}
	if !s.clock.unchanged(now) {
		t.Skipf("so many PIDs were handed out during the test (pid_max %d, %d tasks) that they may have come round", now.max, now.tasks)
	}
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

func TestPIDClock(t *testing.T) {
	base := pidClock{last: 1000, forks: 5000, forksEnd: 5000, tasks: 200, max: 32768}
	for _, c := range []struct {
		name  string
		forks uint64
		want  bool
	}{
		{"no fork", 5000, true},
		{"a few forks", 5100, true},
		{"enough forks to come round", 5000 + 32768/4, false},
		{"counter went back (another boot?)", 10, false},
	} {
		now := base
		now.forksEnd = c.forks
		if got := base.unchanged(now); got != c.want {
			t.Errorf("%s: unchanged = %v, want %v", c.name, got, c.want)
		}
	}
	if (pidClock{}).unchanged(base) {
		t.Error("a pass with no clock before it trusts what it knows")
	}
	for _, c := range []struct {
		from, to, pid int
		want          bool
	}{
		{1000, 1000, 1000, false},
		{1000, 1050, 1000, false},
		{1000, 1050, 1001, true},
		{1000, 1050, 1050, true},
		{1000, 1050, 1051, false},
		{1000, 1050, 400, false},
		{32000, 500, 32500, true}, // came round
		{32000, 500, 300, true},
		{32000, 500, 501, false},
		{32000, 500, 32000, false},
	} {
		if got := (pidClock{last: c.from}).swept(pidClock{last: c.to}, c.pid); got != c.want {
			t.Errorf("swept %d..%d, pid %d = %v, want %v", c.from, c.to, c.pid, got, c.want)
		}
	}
}
