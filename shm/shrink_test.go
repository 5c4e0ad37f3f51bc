package shm

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// A page file that shrinks under its mappings — truncated to nothing, so
// that any access faults, or to a few bytes, so that the owner word reads
// zero — never crashes a reader: every accessor survives, the page is
// mapped again (rebuilt), and the flag works afterwards.
func TestShrunkPageNeverCrashes(t *testing.T) {
	accessors := map[string]func(*Flag){
		"InProgress":   func(f *Flag) { f.InProgress() },
		"Owner":        func(f *Flag) { f.Owner() },
		"Free":         func(f *Flag) { _, _ = f.Free() },
		"ClearIfStale": func(f *Flag) { _, _, _ = f.ClearIfStale() },
		"Check":        func(f *Flag) { _, _ = f.Check() },
		"Acquire": func(f *Flag) {
			if _, err := f.Acquire(0); err == nil {
				_ = f.Release()
			}
		},
	}
	for _, size := range []int64{0, 5} {
		for name, access := range accessors {
			t.Run(name+"/"+strconv.Itoa(int(size))+" bytes", func(t *testing.T) {
				dir := privateDir(t)
				reader, owner := openFlag(t, dir), openFlag(t, dir)
				var notes []string
				reader.OnRemap(func(n string) { notes = append(notes, n) })
				if _, err := owner.Acquire(0); err != nil {
					t.Fatal(err)
				}
				if !reader.InProgress() {
					t.Fatal("the reader does not see the owner")
				}
				if err := os.Truncate(filepath.Join(dir, FlagName), size); err != nil {
					t.Fatal(err)
				}
				access(reader)
				// Whatever the accessor saw, a check maps the current
				// page; a shrunk page is rebuilt, idle.
				if _, err := reader.Check(); err != nil {
					t.Fatalf("Check after the page shrank: %v", err)
				}
				if len(notes) == 0 || !strings.Contains(notes[0], FlagName) {
					t.Fatalf("OnRemap heard %q, want a note about the page", notes)
				}
				if reader.InProgress() {
					t.Fatal("the rebuilt page is not idle")
				}
				o, err := reader.Acquire(0)
				if err != nil {
					t.Fatalf("Acquire after the page shrank: %v", err)
				}
				third := openFlag(t, dir)
				if third.Rebuilt != "" || third.Owner().Word != o.Word {
					t.Fatalf("a new opener sees %+v (rebuilt %q), want the reader's ownership %+v", third.Owner(), third.Rebuilt, o)
				}
				// The old owner's page is gone: its release ends its
				// ownership and leaves the new owner's alone.
				if err := owner.Release(); err != nil {
					t.Fatalf("the old owner's Release: %v", err)
				}
				if third.Owner().Word != o.Word {
					t.Fatal("the old owner's Release cleared the new owner's flag")
				}
				if err := reader.Release(); err != nil {
					t.Fatal(err)
				}
				if third.InProgress() {
					t.Fatal("flag still set after Release")
				}
			})
		}
	}
}

// Readers on many goroutines keep asking while the page is truncated
// again and again: none crashes, and each ends on a page that works.
func TestTruncateUnderConcurrentReaders(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's atomics cannot survive a concurrent fault (see race_test.go)")
	}
	dir := privateDir(t)
	f := openFlag(t, dir)
	path := filepath.Join(dir, FlagName)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				f.InProgress()
				f.Owner()
			}
		})
	}
	for range 50 {
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Check(); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if _, err := f.Acquire(0); err != nil {
		t.Fatalf("Acquire after the storm: %v", err)
	}
	if g := openFlag(t, dir); !g.InProgress() {
		t.Fatal("a new opener does not see the flag")
	}
	if err := f.Release(); err != nil {
		t.Fatal(err)
	}
}

// A fault is told from any other panic, which is not swallowed.
func TestGuardRepanicsOtherPanics(t *testing.T) {
	m := detached()
	defer func() {
		if r := recover(); r != "boom" {
			t.Fatalf("recovered %v, want the original panic", r)
		}
	}()
	m.try(func() { panic("boom") })
	t.Fatal("try swallowed a panic that is not a fault")
}
