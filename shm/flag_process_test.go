package shm_test

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"opm/daemon/proc"
	"opm/daemon/testkit"
	"opm/shm"
)

// The restore flag between processes, each one the test binary playing a
// child mode of daemon/testkit.

// Processes race for the flag, hundreds of rounds: exactly one winner each
// round, and every loser is told that a restore is in progress.
func TestAcquireRaceProcesses(t *testing.T) {
	dir := testkit.ShortTempDir(t)
	const racers = 6
	rounds := 300
	if testing.Short() {
		rounds = 50
	}
	kids := make([]*testkit.Child, racers)
	for i := range kids {
		kids[i] = testkit.FlagRacer(t, dir)
	}
	for round := range rounds {
		for _, k := range kids {
			k.Send("go")
		}
		winners := 0
		for _, k := range kids {
			line := k.Line()
			switch {
			case strings.HasPrefix(line, "won"):
				winners++
			case strings.HasPrefix(line, "lost") && strings.Contains(line, "a restore is already in progress"):
			default:
				t.Fatalf("round %d: child said %q", round, line)
			}
		}
		if winners != 1 {
			t.Fatalf("round %d: %d winners, want 1", round, winners)
		}
		for _, k := range kids {
			k.Send("end")
		}
		for _, k := range kids {
			if line := k.Line(); line != "done" {
				t.Fatalf("round %d: child said %q, want done", round, line)
			}
		}
	}
}

// An owner killed with SIGKILL while holding the flag never leaves it
// stuck: a checker sees the dead owner — a zombie, which kill(pid, 0)
// would still call alive — and clears it, and a new restorer can take it.
func TestKilledOwnerIsCleared(t *testing.T) {
	f, holder := heldFlag(t)
	pid := holder.Pid()
	if o := f.Owner(); o.PID != pid || o.Start != startTime(t, pid) {
		t.Fatalf("owner = %+v, want the holder %d with its start time", o, pid)
	}
	if _, stale, _ := f.ClearIfStale(); stale {
		t.Fatal("live owner cleared")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Deliberately not reaped yet.
	testkit.WaitFor(t, "the holder to be a zombie", 20*time.Second, func() bool {
		st, err := proc.ReadStat(pid)
		return err == nil && st.State == 'Z'
	})
	if !f.InProgress() {
		t.Fatal("flag not set after the owner died; nothing to clean")
	}
	// The leader shows as a zombie a moment before its last thread has
	// gone and the kernel has closed its files, so poll (with a deadline),
	// as the daemon's rate-limited check does.
	var o shm.Owner
	testkit.WaitFor(t, "the dead owner to be cleared", 20*time.Second, func() bool {
		var stale bool
		var err error
		o, stale, err = f.ClearIfStale()
		if err != nil {
			t.Fatal(err)
		}
		return stale
	})
	if o.PID != pid {
		t.Fatalf("cleared owner %+v, want pid %d", o, pid)
	}
	if f.InProgress() {
		t.Fatal("flag still set after clearing a dead owner")
	}
	acquireRelease(t, f)
}

// A dead owner's flag does not stop the next restorer even without a
// checker: Acquire takes it over.
func TestAcquireTakesOverDeadOwner(t *testing.T) {
	f, holder := heldFlag(t)
	holder.Kill()
	acquireRelease(t, f)
}

// heldFlag opens the restore flag of a fresh runtime directory, until the
// test ends, and starts a process that holds it.
func heldFlag(t *testing.T) (*shm.Flag, *testkit.Child) {
	t.Helper()
	dir := testkit.ShortTempDir(t)
	f, err := shm.OpenFlag(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, testkit.HoldFlag(t, dir, nil)
}

// acquireRelease takes the flag for this process and gives it back.
func acquireRelease(t *testing.T, f *shm.Flag) {
	t.Helper()
	o, err := f.Acquire(0)
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	if o.PID != os.Getpid() {
		t.Fatalf("owner = %+v, want this process", o)
	}
	if err := f.Release(); err != nil {
		t.Fatal(err)
	}
}

func startTime(t *testing.T, pid int) uint64 {
	t.Helper()
	st, err := proc.StartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
