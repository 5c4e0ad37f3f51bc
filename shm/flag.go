package shm

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// ErrBusy is returned (wrapped in a *BusyError) by Acquire when a live
// owner holds the flag.
var ErrBusy = errors.New("a restore is already in progress")

// ErrNotOwner is returned by Release when this Flag does not hold the flag.
var ErrNotOwner = errors.New("this process does not own the restore flag")

// BusyError says who holds the flag.
type BusyError struct{ Owner Owner }

func (e *BusyError) Error() string {
	if e.Owner.Word == 0 {
		return ErrBusy.Error() + " (its owner is just starting or finishing)"
	}
	return fmt.Sprintf("%v (owner %v)", ErrBusy, e.Owner)
}

func (e *BusyError) Unwrap() error { return ErrBusy }

// Flag is one process's mapping of the restore flag page. InProgress,
// Owner, Free, ClearIfStale and Check may be called from any goroutine;
// Acquire and Release are serialised by the Flag. A page that shrinks
// under the mapping never crashes a caller: the Flag maps the page again
// and carries on (mapping.go).
type Flag struct {
	// Rebuilt is non-empty when OpenFlag found a broken page and rebuilt
	// it; it says what was wrong, for the caller to report.
	Rebuilt string

	dir  string
	path string
	cur  atomic.Pointer[mapping] // the page in use

	mu      sync.Mutex
	mine    uint64     // the owner word this Flag set, 0 when it holds nothing
	held    *mapping   // the mapping whose file carries this Flag's lease
	retired []*mapping // mappings replaced after a fault, unmapped at Close
	closed  bool
	onRemap func(string)
}

// Path is the page file's path.
func (f *Flag) Path() string { return f.path }

// InProgress reports whether a restore holds the flag: one atomic load, no
// syscall, no allocation. A set flag whose owner died stays set until
// someone calls ClearIfStale.
func (f *Flag) InProgress() bool {
	m := f.cur.Load()
	if w, ok := m.load(offWord); ok {
		return w != 0
	}
	return f.inProgressAfterFault(m)
}

// inProgressAfterFault is InProgress once m faulted: map the page again
// and ask the new mapping.
func (f *Flag) inProgressAfterFault(m *mapping) bool {
	for range 3 {
		f.remap(m, whyFault)
		m = f.cur.Load()
		if w, ok := m.load(offWord); ok {
			return w != 0
		}
	}
	return false
}

// Owner returns the current owner (Word 0 when idle), with its start time
// and when it took the flag, as far as the owner recorded them.
func (f *Flag) Owner() Owner {
	for range 3 {
		m := f.cur.Load()
		if o, ok := m.owner(); ok {
			return o
		}
		f.remap(m, whyFault)
	}
	return Owner{}
}

// owner reads the owner from m; ok is false when the read faulted.
func (m *mapping) owner() (o Owner, ok bool) {
	var heldAt uint64
	ok = m.try(func() {
		w := atomic.LoadUint64(m.word())
		o = ownerOf(w)
		if w == 0 {
			return
		}
		if atomic.LoadUint64(m.u64(offInfoWord)) == w {
			o.Start = atomic.LoadUint64(m.u64(offInfoStat))
			if atomic.LoadUint64(m.u64(offInfoWord)) != w {
				o.Start = 0 // changed while we read it
			}
		}
		if atomic.LoadUint64(m.u64(offTimeWord)) == w {
			at := atomic.LoadUint64(m.u64(offHeldAt))
			if atomic.LoadUint64(m.u64(offTimeWord)) == w {
				heldAt = at
			}
		}
	})
	o.HeldSince = wallTime(heldAt)
	return o, ok
}

// Acquire makes this process the owner. Exactly one of any number of
// concurrent acquirers, in this process or others, wins; the others get a
// *BusyError (errors.Is(err, ErrBusy)) naming the owner. A flag left set by
// a dead owner is taken over.
//
// The owner takes its liveness lease first and only then swaps the owner
// word, and on Release clears the word before dropping the lease; so
// whenever the word names a live owner, the lease is held.
//
// start is the caller's start time in clock ticks since boot (0 when
// unknown), kept in the page for `opm daemon status` to show with the
// owner's PID. This package reads no process facts itself: the caller
// has them (opm's daemon/proc).
func (f *Flag) Acquire(start uint64) (Owner, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mine != 0 {
		return ownerOf(f.mine), fmt.Errorf("acquire restore flag: already held by this process")
	}
	for range 3 {
		m, err := f.usableLocked()
		if err != nil {
			return Owner{}, err
		}
		o, faulted, err := f.acquireOn(m, start)
		if !faulted {
			return o, err
		}
		if _, err := f.remapLocked(m, whyFault); err != nil {
			return Owner{}, err
		}
	}
	return Owner{}, fmt.Errorf("acquire restore flag %s: the page keeps shrinking under us (is something truncating it?); try again", f.path)
}

// acquireOn is Acquire on mapping m, with f.mu held. faulted reports that
// m's page shrank under it; nothing is held then.
func (f *Flag) acquireOn(m *mapping, start uint64) (o Owner, faulted bool, err error) {
	if err := m.lease(true); err != nil {
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
			o, ok := m.owner()
			if !ok {
				return Owner{}, true, nil
			}
			return Owner{}, false, &BusyError{Owner: o}
		}
		return Owner{}, false, fmt.Errorf("lock restore flag %s: %w", f.path, err)
	}
	pid := os.Getpid()
	now := bootNanos()
	var mine uint64
	ok := m.try(func() {
		mine = word(atomic.AddUint32(m.gen(), 1), pid)
		// We hold the lease, so any value still in the word was left by
		// a dead owner: replace exactly what we saw.
		for {
			old := atomic.LoadUint64(m.word())
			if atomic.CompareAndSwapUint64(m.word(), old, mine) {
				break
			}
		}
		// Display fields, tagged with the word they describe: a reader
		// checks the tag, so a crash half-way leaves nothing misleading.
		atomic.StoreUint64(m.u64(offInfoWord), 0)
		atomic.StoreUint64(m.u64(offInfoPID), uint64(pid))
		atomic.StoreUint64(m.u64(offInfoStat), start)
		atomic.StoreUint64(m.u64(offInfoWord), mine)
		atomic.StoreUint64(m.u64(offTimeWord), 0)
		atomic.StoreUint64(m.u64(offHeldAt), now)
		atomic.StoreUint64(m.u64(offTimeWord), mine)
	})
	if !ok {
		_ = m.lease(false)
		return Owner{}, true, nil
	}
	f.mine, f.held = mine, m
	return Owner{PID: pid, Start: start, Gen: uint32(mine >> 32), HeldSince: wallTime(now), Word: mine}, false, nil
}

// Release gives up ownership: compare-and-swap from the exact value this
// Flag set to idle, then drop the lease. When the page was damaged and
// mapped again while this Flag held it, ownership ended with that page.
func (f *Flag) Release() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mine == 0 {
		return ErrNotOwner
	}
	mine, m := f.mine, f.held
	f.mine, f.held = 0, nil
	cleared := false
	faulted := !m.try(func() { cleared = atomic.CompareAndSwapUint64(m.word(), mine, 0) })
	lerr := m.lease(false)
	current := m == f.cur.Load()
	if !current {
		m.closeFile() // retired while it carried the lease
	}
	if faulted {
		if _, err := f.remapLocked(m, whyFault); err != nil {
			return err
		}
		return nil
	}
	if lerr != nil && current {
		return fmt.Errorf("unlock restore flag %s: %w", f.path, lerr)
	}
	if !cleared && current {
		if why := m.stale(f.path); why != "" {
			_, err := f.remapLocked(m, why)
			return err
		}
		return fmt.Errorf("release restore flag: %w (it was taken over while we held it)", ErrNotOwner)
	}
	return nil
}

// Free reports whether nobody holds the flag: the owner word is idle and
// no process holds the lease, which an acquirer takes before it sets the
// word and keeps until after it clears it. One load and, when idle, one
// lock probe (no lock is taken). A word left by a dead owner is not free:
// ClearIfStale clears it.
func (f *Flag) Free() (bool, error) {
	for range 3 {
		m := f.cur.Load()
		w, ok := m.load(offWord)
		if !ok {
			f.remap(m, whyFault)
			continue
		}
		if w != 0 {
			return false, nil
		}
		held, err := m.leaseHeld()
		if errors.Is(err, errRetired) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("probe restore flag owner: %w", err)
		}
		return !held, nil
	}
	return false, fmt.Errorf("probe restore flag %s: the page keeps changing under us; try again", f.path)
}

// ClearIfStale clears the flag if it is set and its owner is dead, and
// returns the owner it saw. It first checks that the mapping is still the
// page at the path (Check); then it costs one load when the flag is idle
// and one lock probe (no lock is taken) when set; callers on a hot path
// should rate-limit it. The clear is a compare-and-swap on the exact value
// seen, so a newer owner's flag is never cleared.
func (f *Flag) ClearIfStale() (Owner, bool, error) {
	if _, err := f.Check(); err != nil {
		return Owner{}, false, err
	}
	for range 3 {
		m := f.cur.Load()
		o, ok := m.owner()
		if !ok {
			f.remap(m, whyFault)
			continue
		}
		if o.Word == 0 {
			return Owner{}, false, nil
		}
		f.mu.Lock()
		mine := f.mine == o.Word && f.held == m
		f.mu.Unlock()
		if mine {
			return o, false, nil
		}
		held, err := m.leaseHeld()
		if errors.Is(err, errRetired) {
			continue
		}
		if err != nil {
			return o, false, fmt.Errorf("probe restore flag owner: %w", err)
		}
		if held {
			return o, false, nil
		}
		var cleared bool
		if !m.try(func() { cleared = atomic.CompareAndSwapUint64(m.word(), o.Word, 0) }) {
			f.remap(m, whyFault)
			continue
		}
		return o, cleared, nil
	}
	return Owner{}, false, fmt.Errorf("check restore flag %s: the page keeps changing under us; try again", f.path)
}

// Close unmaps the page and closes the file, dropping the lease (and so
// ownership, for anyone checking) if this Flag held it. Every page mapped
// since OpenFlag is unmapped; a late reader sees an idle flag.
func (f *Flag) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	if f.mine != 0 {
		m, mine := f.held, f.mine
		m.try(func() { atomic.CompareAndSwapUint64(m.word(), mine, 0) })
		f.mine, f.held = 0, nil
	}
	var errs []error
	for _, m := range append(f.retired, f.cur.Swap(detached())) {
		errs = append(errs, m.close())
	}
	f.retired = nil
	return errors.Join(errs...)
}
