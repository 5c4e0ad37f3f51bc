package shm

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/edsrzf/mmap-go"
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

// Flag is one process's mapping of the restore flag page. InProgress and
// Owner may be called from any goroutine; Acquire and Release are
// serialised by the Flag.
type Flag struct {
	// Rebuilt is non-empty when OpenFlag found a broken page and rebuilt
	// it; it says what was wrong, for the caller to report.
	Rebuilt string

	path string
	file *os.File
	m    mmap.MMap
	word *uint64 // the owner word, inside m
	gen  *uint32 // the generation counter, inside m

	mu   sync.Mutex
	mine uint64 // the owner word this Flag set, 0 when it holds nothing
}

func newFlag(path string, file *os.File, m mmap.MMap) *Flag {
	return &Flag{
		path: path,
		file: file,
		m:    m,
		word: (*uint64)(unsafe.Pointer(&m[offWord])),
		gen:  (*uint32)(unsafe.Pointer(&m[offGen])),
	}
}

// Path is the page file's path.
func (f *Flag) Path() string { return f.path }

// InProgress reports whether a restore holds the flag: one atomic load, no
// syscall, no allocation. A set flag whose owner died stays set until
// someone calls ClearIfStale.
func (f *Flag) InProgress() bool { return atomic.LoadUint64(f.word) != 0 }

// Owner returns the current owner (Word 0 when idle), with its start time
// when the owner recorded it.
func (f *Flag) Owner() Owner {
	w := atomic.LoadUint64(f.word)
	o := ownerOf(w)
	if w != 0 && atomic.LoadUint64(f.u64(offInfoWord)) == w {
		o.Start = atomic.LoadUint64(f.u64(offInfoStat))
		if atomic.LoadUint64(f.u64(offInfoWord)) != w {
			o.Start = 0 // changed while we read it
		}
	}
	return o
}

func (f *Flag) u64(off int) *uint64 { return (*uint64)(unsafe.Pointer(&f.m[off])) }

// lease takes (lock=true) or drops the owner's liveness lease: an
// open-file-description write lock on the whole page file, released by the
// kernel when the owner dies.
func (f *Flag) lease(lock bool) error {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	if !lock {
		lk.Type = unix.F_UNLCK
	}
	return unix.FcntlFlock(f.file.Fd(), unix.F_OFD_SETLK, &lk)
}

// leaseHeld reports whether any open file description holds the lease.
func (f *Flag) leaseHeld() (bool, error) {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	if err := unix.FcntlFlock(f.file.Fd(), unix.F_OFD_GETLK, &lk); err != nil {
		return false, fmt.Errorf("probe restore flag owner: %w", err)
	}
	return lk.Type != unix.F_UNLCK, nil
}

// Acquire makes this process the owner. Exactly one of any number of
// concurrent acquirers, in this process or others, wins; the others get a
// *BusyError (errors.Is(err, ErrBusy)) naming the owner. A flag left set by
// a dead owner is taken over.
//
// The owner takes its liveness lease first and only then swaps the owner
// word, and on Release clears the word before dropping the lease; so
// whenever the word names a live owner, the lease is held.
func (f *Flag) Acquire() (Owner, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mine != 0 {
		return ownerOf(f.mine), fmt.Errorf("acquire restore flag: already held by this process")
	}
	if err := f.lease(true); err != nil {
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
			return Owner{}, &BusyError{Owner: f.Owner()}
		}
		return Owner{}, fmt.Errorf("lock restore flag %s: %w", f.path, err)
	}
	pid := os.Getpid()
	mine := word(atomic.AddUint32(f.gen, 1), pid)
	// We hold the lease, so any value still in the word was left by a
	// dead owner: replace exactly what we saw.
	for {
		old := atomic.LoadUint64(f.word)
		if atomic.CompareAndSwapUint64(f.word, old, mine) {
			break
		}
	}
	f.mine = mine
	// Display fields, tagged with the word they describe: a reader checks
	// the tag, so a crash half-way leaves nothing misleading.
	start, _ := ProcStartTime(pid)
	atomic.StoreUint64(f.u64(offInfoWord), 0)
	atomic.StoreUint64(f.u64(offInfoPID), uint64(pid))
	atomic.StoreUint64(f.u64(offInfoStat), start)
	atomic.StoreUint64(f.u64(offInfoWord), mine)
	return Owner{PID: pid, Start: start, Gen: uint32(mine >> 32), Word: mine}, nil
}

// Release gives up ownership: compare-and-swap from the exact value this
// Flag set to idle, then drop the lease.
func (f *Flag) Release() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mine == 0 {
		return ErrNotOwner
	}
	cleared := atomic.CompareAndSwapUint64(f.word, f.mine, 0)
	f.mine = 0
	if err := f.lease(false); err != nil {
		return fmt.Errorf("unlock restore flag %s: %w", f.path, err)
	}
	if !cleared {
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
	if atomic.LoadUint64(f.word) != 0 {
		return false, nil
	}
	held, err := f.leaseHeld()
	return err == nil && !held, err
}

// ClearIfStale clears the flag if it is set and its owner is dead, and
// returns the owner it saw. It costs one load when the flag is idle and one
// lock probe (no lock is taken) when set; callers on a hot path should
// rate-limit it. The clear is a compare-and-swap on the exact value seen,
// so a newer owner's flag is never cleared.
func (f *Flag) ClearIfStale() (Owner, bool, error) {
	w := atomic.LoadUint64(f.word)
	if w == 0 {
		return Owner{}, false, nil
	}
	o := f.Owner()
	if o.Word != w {
		o = ownerOf(w)
	}
	f.mu.Lock()
	mine := f.mine == w
	f.mu.Unlock()
	if mine {
		return o, false, nil
	}
	held, err := f.leaseHeld()
	if err != nil || held {
		return o, false, err
	}
	return o, atomic.CompareAndSwapUint64(f.word, w, 0), nil
}

// Close unmaps the page and closes the file, dropping the lease (and so
// ownership, for anyone checking) if this Flag held it.
func (f *Flag) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mine != 0 {
		atomic.CompareAndSwapUint64(f.word, f.mine, 0)
		f.mine = 0
	}
	return errors.Join(f.m.Unmap(), f.file.Close())
}
