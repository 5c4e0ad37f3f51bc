package shm

import (
	"errors"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestAcquireRelease(t *testing.T) {
	dir := privateDir(t)
	a, b := openFlag(t, dir), openFlag(t, dir)
	if a.InProgress() {
		t.Fatal("fresh flag is in progress")
	}
	o, err := a.Acquire(4242)
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	if o.PID != os.Getpid() || o.Start != 4242 {
		t.Fatalf("owner = %+v, want our pid with a start time", o)
	}
	if !b.InProgress() {
		t.Fatal("second mapping does not see the flag")
	}
	if got := b.Owner(); got.Word != o.Word || got.Start != o.Start {
		t.Fatalf("second mapping sees owner %+v, want %+v", got, o)
	}
	_, err = b.Acquire(0)
	var busy *BusyError
	if !errors.As(err, &busy) || !errors.Is(err, ErrBusy) || busy.Owner.Word != o.Word {
		t.Fatalf("second Acquire = %v, want ErrBusy naming %v", err, o)
	}
	if _, stale, err := b.ClearIfStale(); stale || err != nil {
		t.Fatalf("ClearIfStale on a live owner = %v, %v; want no clear", stale, err)
	}
	if err := a.Release(); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if b.InProgress() {
		t.Fatal("flag still set after Release")
	}
	if err := a.Release(); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("second Release = %v, want ErrNotOwner", err)
	}
	o2, err := b.Acquire(0)
	if err != nil {
		t.Fatalf("Acquire after release: %v", err)
	}
	if o2.Word == o.Word {
		t.Fatal("a new ownership reused the old owner word; generations must differ")
	}
	if err := b.Release(); err != nil {
		t.Fatal(err)
	}
}

func TestInProgressAllocatesNothing(t *testing.T) {
	f := openFlag(t, privateDir(t))
	if n := testing.AllocsPerRun(1000, func() { _ = f.InProgress() }); n != 0 {
		t.Fatalf("InProgress allocates %v times per call", n)
	}
}

// Many goroutines, each with its own mapping and lock, race for the flag:
// exactly one wins each round.
func TestAcquireRaceThreads(t *testing.T) {
	dir := privateDir(t)
	const racers, rounds = 8, 200
	flags := make([]*Flag, racers)
	for i := range flags {
		flags[i] = openFlag(t, dir)
	}
	for round := range rounds {
		var wins atomic.Int32
		var winner atomic.Pointer[Flag]
		var wg sync.WaitGroup
		start := make(chan struct{})
		for _, f := range flags {
			wg.Go(func() {
				<-start
				if _, err := f.Acquire(0); err == nil {
					wins.Add(1)
					winner.Store(f)
				} else if !errors.Is(err, ErrBusy) {
					t.Errorf("Acquire: %v", err)
				}
			})
		}
		close(start)
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("round %d: %d winners, want 1", round, wins.Load())
		}
		if err := winner.Load().Release(); err != nil {
			t.Fatal(err)
		}
	}
}

// The owner word may name a live process that is not the owner — a
// recycled PID, or an owner killed between taking the word and anything
// else. With no lease held, it is stale all the same.
func TestLiveUnrelatedPIDIsStale(t *testing.T) {
	dir := privateDir(t)
	f := openFlag(t, dir)
	other := exec.Command("sleep", "60")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Process.Kill(); _ = other.Wait() })
	for name, pid := range map[string]int{"unrelated process": other.Process.Pid, "this process": os.Getpid()} {
		t.Run(name, func(t *testing.T) {
			w := word(41, pid)
			atomic.StoreUint64(f.cur.Load().word(), w)
			if !f.InProgress() {
				t.Fatal("forged owner not visible")
			}
			o, stale, err := f.ClearIfStale()
			if err != nil || !stale || o.PID != pid {
				t.Fatalf("ClearIfStale = %+v, %v, %v; want pid %d cleared", o, stale, err, pid)
			}
			if f.InProgress() {
				t.Fatal("flag still set")
			}
		})
	}
	if err := other.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("the unrelated process was harmed: %v", err)
	}
}

// A stale cleanup followed by a new owner: the old owner's late Release
// must not clear the new owner's flag, and neither may a cleaner that saw
// the old value.
func TestLateReleaseKeepsNewOwner(t *testing.T) {
	dir := privateDir(t)
	old, cleaner, newer := openFlag(t, dir), openFlag(t, dir), openFlag(t, dir)
	if _, err := old.Acquire(0); err != nil {
		t.Fatal(err)
	}
	seen := atomic.LoadUint64(old.cur.Load().word())
	// Make the old owner look dead (as if it had hung past its lease).
	if err := old.cur.Load().lease(false); err != nil {
		t.Fatal(err)
	}
	if _, stale, err := cleaner.ClearIfStale(); !stale || err != nil {
		t.Fatalf("ClearIfStale = %v, %v", stale, err)
	}
	n, err := newer.Acquire(0)
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Release(); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("late Release = %v, want ErrNotOwner", err)
	}
	// A cleaner acting on the value it saw before: its CAS must fail.
	if atomic.CompareAndSwapUint64(cleaner.cur.Load().word(), seen, 0) {
		t.Fatal("a CAS on the old value cleared the new owner")
	}
	if o := cleaner.Owner(); o.Word != n.Word {
		t.Fatalf("owner = %+v, want the newer owner %+v", o, n)
	}
	if _, stale, _ := cleaner.ClearIfStale(); stale {
		t.Fatal("the live new owner was cleared as stale")
	}
	if err := newer.Release(); err != nil {
		t.Fatal(err)
	}
}

// The owner records when it took the flag, for `opm daemon status` to
// say how long a restore has held it; a page filled in by an older opm,
// which does not record it, reads as unknown, never as a stale time.
func TestHeldSince(t *testing.T) {
	dir := privateDir(t)
	a, b := openFlag(t, dir), openFlag(t, dir)
	if o := b.Owner(); !o.HeldSince.IsZero() {
		t.Fatalf("idle flag held since %v", o.HeldSince)
	}
	before := time.Now()
	o, err := a.Acquire(0)
	after := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	const slack = 50 * time.Millisecond // two clocks, read at different instants
	seen := b.Owner()
	for _, held := range []time.Time{o.HeldSince, seen.HeldSince} {
		if held.Before(before.Add(-slack)) || held.After(after.Add(slack)) {
			t.Fatalf("held since %v, want between %v and %v", held, before, after)
		}
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	// An older opm: it sets the word and the fields up to the start time,
	// and leaves the time's tag as it was (the previous owner's).
	m := b.cur.Load()
	w := word(999, os.Getpid())
	atomic.StoreUint64(m.u64(offInfoWord), w)
	atomic.StoreUint64(m.word(), w)
	if got := b.Owner(); got.Word != w || !got.HeldSince.IsZero() {
		t.Fatalf("owner set by an older opm: %+v, want no acquisition time", got)
	}
	atomic.StoreUint64(m.word(), 0)
}

func openFlag(t *testing.T, dir string) *Flag {
	t.Helper()
	f, err := OpenFlag(dir)
	if err != nil {
		t.Fatalf("OpenFlag: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
